/**
 * The network test bed itself (harness/netns): hosts in namespaces on one bridge reach each other
 * and the root namespace; a cut blocks TCP both ways (or one way) between two hosts only, and heal
 * restores it; link down/up; teardown leaves no namespace, link, process or record behind; a bed
 * whose owner gets SIGTERM or SIGINT or crashes is removed by the owner on its way out; one whose
 * owner is SIGKILLed is removed by its reaper, or by the next create when the reaper is gone
 * too; our services and the originals run on it. Needs root (CI runs as root): without it every test here fails with TestBedUnavailableError.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { waitUntil } from '../../harness/clients.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import socketClusterClient from 'socketcluster-client';
import { BedCluster } from '../../harness/netns/bed-cluster.js';
import { listenProbe, probe } from '../../harness/netns/probes.js';
import { ip, readRecord, type BedRecord } from '../../harness/netns/record.js';
import { BED_PORTS, TestBed, TestBedUsageError } from '../../harness/netns/testbed.js';
import { REPO_ROOT } from '../../harness/services.js';
import { ServiceProcess, stopAll } from '../../harness/service-process.js';

const PORT = 9000;
/** The reaper looks at its owner every 200 ms; its teardown takes a few `ip` calls. Bound, ms. */
const REAPER_BOUND_MS = 10_000;
/** A namespace is freed lazily after its last process; its veth goes with it. Bound on that, ms. */
const GONE_BOUND_MS = 5000;

/** The unprivileged user of the refusal test. */
const NOBODY = 65534;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether `pid` runs (a zombie has ended: it only waits for its parent, or init, to reap it). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** What is left of a bed now: namespaces, links, live pids, the record file. */
function remains(record: BedRecord): string[] {
  const ns = ip(['netns', 'list']) ?? '';
  const links = ip(['-o', 'link', 'show']) ?? '';
  return [
    ...record.hosts.filter((h) => ns.split('\n').some((l) => l.split(' ')[0] === h.ns)).map((h) => `namespace ${h.ns}`),
    ...[record.bridge, ...record.hosts.map((h) => h.veth)].filter((l) => new RegExp(`^\\d+: ${l}[:@]`, 'm').test(links)).map((l) => `link ${l}`),
    ...[...record.pids, ...(record.reaper === null ? [] : [record.reaper])].filter(running).map((p) => `pid ${p}`),
    ...[`/run/scc-testbed/net-${record.subnet}.json`].filter((f) => existsSync(f)).map((f) => `record ${f}`),
  ];
}

/** Polls until nothing of the bed is left, or the bound passes; resolves with what is left. */
async function waitGone(record: BedRecord, boundMs: number): Promise<string[]> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const left = remains(record);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(50);
  }
}

/** A bed's record as the bed wrote it (read from the file, as the reaper does). */
function recordOf(bed: TestBed): BedRecord {
  const record = readRecord(bed.recordFile);
  if (record === null) throw new Error(`no record at ${bed.recordFile}`);
  return record;
}

describe('network test bed', () => {
  let bed: TestBed;

  beforeAll(async () => {
    bed = await TestBed.create({ hosts: ['a', 'b', 'c'] });
    await Promise.all(['a', 'b', 'c'].map((h) => listenProbe(bed, h, PORT)));
  });
  afterAll(async () => {
    await bed?.close();
    await stopAll();
  });

  it('gives each host its own address in 198.18.0.0/15 and the root namespace the bridge’s', () => {
    const addresses = bed.hosts.map((h) => h.address);
    expect(new Set(addresses).size).toBe(3);
    for (const a of [...addresses, bed.rootAddress]) expect(a).toMatch(/^198\.1[89]\.\d+\.\d+$/);
    expect(bed.rootAddress.endsWith('.1')).toBe(true);
    expect(() => bed.host('nope')).toThrow(TestBedUsageError);
    expect(() => bed.cut('a', 'a')).toThrow(TestBedUsageError);
  });

  it('hosts reach each other and the root namespace reaches every host', async () => {
    const results = await Promise.all([
      probe(bed, 'a', 'b', PORT),
      probe(bed, 'b', 'c', PORT),
      probe(bed, 'c', 'a', PORT),
      ...['a', 'b', 'c'].map((h) => probe(bed, 'root', h, PORT)),
    ]);
    expect(results).toEqual(Array(6).fill('connected'));
  });

  it('a cut blocks TCP between the two hosts both ways, leaves the others alone, and heal restores it', async () => {
    bed.cut('a', 'b');
    try {
      expect(bed.activeFaults().sort()).toEqual(['cut a>b', 'cut b>a']);
      const [ab, ba, ac, bc, rootA] = await Promise.all([probe(bed, 'a', 'b', PORT), probe(bed, 'b', 'a', PORT), probe(bed, 'a', 'c', PORT), probe(bed, 'b', 'c', PORT), probe(bed, 'root', 'a', PORT)]);
      // A blackhole route fails a local connect() at once (EINVAL); an established link just goes silent.
      expect(ab).not.toBe('connected');
      expect(ba).not.toBe('connected');
      expect([ac, bc, rootA]).toEqual(['connected', 'connected', 'connected']);
    } finally {
      bed.heal('a', 'b');
    }
    expect(bed.activeFaults()).toEqual([]);
    expect(await Promise.all([probe(bed, 'a', 'b', PORT), probe(bed, 'b', 'a', PORT)])).toEqual(['connected', 'connected']);
    bed.heal('a', 'b'); // safe twice
  });

  it('a one-way cut drops only the packets from a to b', async () => {
    bed.cut('a', 'b', { oneWay: true });
    try {
      expect(bed.activeFaults()).toEqual(['cut a>b']);
      const [ab, ba] = await Promise.all([probe(bed, 'a', 'b', PORT), probe(bed, 'b', 'a', PORT)]);
      expect(ab).toBe('EINVAL');
      // b's SYN reaches a, a's SYN-ACK is dropped: b's connect hangs, as over a silent one-way link.
      expect(ba).toBe('timeout');
    } finally {
      bed.heal('a', 'b');
    }
    expect(await probe(bed, 'b', 'a', PORT)).toBe('connected');
  });

  it('link down drops everything to and from the host silently; link up restores it', async () => {
    bed.linkDown('c');
    try {
      const [ac, ca, rootC, ab] = await Promise.all([probe(bed, 'a', 'c', PORT), probe(bed, 'c', 'a', PORT), probe(bed, 'root', 'c', PORT), probe(bed, 'a', 'b', PORT)]);
      expect([ac, ca, rootC]).toEqual(['timeout', 'timeout', 'timeout']);
      expect(ab).toBe('connected');
    } finally {
      bed.linkUp('c');
    }
    expect(await probe(bed, 'a', 'c', PORT)).toBe('connected');
  });

  it('pause and resume stop and continue a process by pid', async () => {
    const listener = await listenProbe(bed, 'b', PORT + 1);
    // A signal is delivered asynchronously: on a busy machine the state changes a moment later.
    const stopped = () => /\) T /.test(readFileSync(`/proc/${listener.pid}/stat`, 'utf8'));
    bed.pause(listener);
    await waitUntil(stopped, 2000, 'the process stopped');
    bed.resume(listener);
    bed.resume(listener); // safe twice
    await waitUntil(() => !stopped(), 2000, 'the process running again');
    await bed.kill(listener);
    expect(listener.alive).toBe(false);
  });

  it('a schedule runs faults on a timetable and ends with the link up', async () => {
    const schedule = bed.flap(() => bed.linkDown('c'), () => bed.linkUp('c'), 100, 600);
    const report = await schedule.done;
    expect(report.outcome).toBe('done');
    expect(report.ran.map((s) => s.label)).toEqual(['down', 'up', 'down', 'up', 'down', 'up']);
    expect(bed.activeFaults()).toEqual([]);
  });

  for (const system of ['ours', 'original'] as const) {
    it(`${system === 'ours' ? 'our services' : 'the original broker and worker'} run on the bed, listed and reached at their hosts' addresses`, async () => {
      const cluster = await BedCluster.start(bed, { system, stateHost: 'a', brokers: ['b'], workers: ['c'], timeoutMs: 20_000 });
      try {
        const view = await cluster.waitMembers({ brokerCount: 1, workerCount: 1 });
        expect(view.brokers.map((m) => m.uri)).toEqual([`ws://${bed.address('b')}:${BED_PORTS.broker}`]);
        expect(view.workers.map((m) => m.uri)).toEqual([`ws://${bed.address('c')}:${BED_PORTS.worker}`]);
        // A publish on the worker comes back through the broker on the other host.
        const client = socketClusterClient.create({ hostname: bed.address('c'), port: BED_PORTS.worker, autoReconnect: false });
        try {
          await client.listener('connect').once(10_000);
          const channel = client.subscribe('bed/echo');
          await channel.listener('subscribe').once(10_000);
          const received = channel.once(10_000);
          await client.invokePublish('bed/echo', { over: 'the bridge' });
          expect(await received).toEqual({ over: 'the bridge' });
        } finally {
          client.disconnect();
        }
      } finally {
        await cluster.close();
      }
    }, 60_000);
  }

  it('teardown leaves no namespace, link, process or record behind, and is safe twice', async () => {
    const second = await TestBed.create({ hosts: ['x', 'y'] });
    await listenProbe(second, 'x', PORT);
    second.cut('x', 'y');
    second.linkDown('y');
    const record = recordOf(second);
    expect(record.pids.length).toBe(1);
    expect(remains(record).length).toBeGreaterThan(0);
    expect(second.rootAddress).not.toBe(bed.rootAddress);
    await second.close();
    await second.close();
    expect(await waitGone(record, GONE_BOUND_MS)).toEqual([]);
  });
});

describe('network test bed: an owner that dies', () => {
  afterAll(() => stopAll());

  /** Starts a bed in another process (test/helpers/bed-owner.ts) and resolves with it and the bed's record. */
  async function startOwner(mode: 'hold' | 'crash' = 'hold'): Promise<{ owner: ServiceProcess; record: BedRecord }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/bed-owner.ts', mode], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const owner = new ServiceProcess('bed owner', child);
    const line = await owner.waitForEvent('bedUp', {}, 20_000);
    const record = line['record'] as BedRecord | null;
    if (record === null) throw new Error(`bed owner: no record at ${String(line['recordFile'])}`);
    return { owner, record };
  }

  /**
   * What is left the moment the owner has exited, the reaper aside: the reaper acts only after the
   * owner is gone, so whatever is gone by then the owner removed itself.
   */
  const leftAtExit = (record: BedRecord): string[] => remains({ ...record, reaper: null });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to the owner: it tears its bed down before it exits, and still dies of the signal`, async () => {
      const { owner, record } = await startOwner();
      process.kill(owner.pid, signal);
      const exit = await owner.exited;
      expect(leftAtExit(record)).toEqual([]);
      expect(exit.signal).toBe(signal);
      expect(await waitGone(record, GONE_BOUND_MS)).toEqual([]);
    }, 60_000);
  }

  it('an owner that crashes (uncaught exception) tears its bed down on the way out', async () => {
    const { owner, record } = await startOwner('crash');
    const exit = await owner.exited;
    expect(exit.code).not.toBe(0);
    expect(owner.stderr.join('\n')).toContain('a deliberate crash');
    expect(leftAtExit(record)).toEqual([]);
    expect(await waitGone(record, GONE_BOUND_MS)).toEqual([]);
  }, 60_000);

  it('without root, create() throws TestBedUnavailableError saying so', async () => {
    // An unprivileged user (nobody) runs the same owner script; it must refuse, not half-build a bed.
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/bed-owner.ts'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], uid: NOBODY, gid: NOBODY });
    const owner = new ServiceProcess('unprivileged bed owner', child);
    const line = await owner.waitForEvent('bedError', {}, 20_000);
    expect(line['name']).toBe('TestBedUnavailableError');
    expect(String(line['message'])).toMatch(/^the network test bed needs root: this process runs as uid 65534/);
    expect((await owner.exited).code).toBe(1);
  }, 30_000);

  it(
    'a SIGKILLed owner’s bed is torn down by its reaper within a bounded time',
    async () => {
      const { owner, record } = await startOwner();
      expect(remains(record).length).toBeGreaterThan(0);
      expect(record.reaper).not.toBeNull();
      const killedAt = Date.now();
      await owner.stop('SIGKILL');
      const left = await waitGone(record, REAPER_BOUND_MS);
      expect(left, `left ${Date.now() - killedAt} ms after the SIGKILL`).toEqual([]);
    },
    60_000,
  );

  it(
    'a bed whose owner and reaper both died is removed by the next create',
    async () => {
      const { owner, record } = await startOwner();
      expect(remains(record).length).toBeGreaterThan(0);
      process.kill(record.reaper!, 'SIGKILL');
      await owner.stop('SIGKILL');
      await sleep(500); // past the reaper's watch interval: nothing else would remove it
      expect(remains(record).length).toBeGreaterThan(0);
      const next = await TestBed.create({ hosts: ['z'] });
      try {
        expect(await waitGone(record, GONE_BOUND_MS)).toEqual([]);
      } finally {
        await next.close();
      }
    },
    60_000,
  );
});
