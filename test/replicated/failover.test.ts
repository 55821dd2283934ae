/**
 * Replicated scc-state with a real etcd: three replicas, one leader; peers dial one follower, which
 * passes them through. The leader is SIGKILLed (also during a broker scale-out) and etcd is paused:
 * pub/sub goes on exactly once and in order, a new leader serves within the bound, no list handed out
 * misses a live broker, and never do two replicas lead at once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogEvent } from '@scc-ts/shared';
import { connect, disconnectAll, waitUntil, Collector, type Client } from '../../harness/clients.js';
import { startEtcd, SpyWorker, leadersAmong, replicaEnv as replicaEnvOf, replicaId, waitForLeaderAmong, type Etcd, type Leading } from '../helpers/replicas.js';
import { startBroker, startState, startWorker, stopAll, uriOf, waitForBrokerCount, type ServiceProcess } from '../helpers/processes.js';

const LEASE_TTL_MS = 2000;
/** Kill → a new leader serving, with the test's lease: the lease's time-to-live, etcd's expiry tick (500 ms), one follower poll, the election. */
const FAILOVER_BOUND_MS = 5000;
const channels = Array.from({ length: 10 }, (_, i) => `ha/${i}`);

let etcd: Etcd;
let prefix: string;
const replicas: ServiceProcess[] = [];
let brokers: ServiceProcess[] = [];
let workers: ServiceProcess[] = [];
let via: ServiceProcess;
let publisher: Client;
let collector: Collector;
let spy: SpyWorker;

function replicaEnv(index: number, port?: number): Record<string, string> {
  const env = replicaEnvOf({ count: 3, etcdEndpoint: etcd.endpoint, prefix, env: { SCC_STATE_SERVER_LEASE_TTL: String(LEASE_TTL_MS), SCC_STATE_SERVER_REJOIN_TIMEOUT: '4000' } }, index);
  return port === undefined ? env : { ...env, SCC_STATE_SERVER_PORT: String(port) };
}

/** The replicas leading now. */
const leaders = (): Promise<Leading[]> => leadersAmong(replicas);

/** Waits for exactly one leader of a term above `after`; two at once fail the test. */
const waitForLeader = (timeoutMs: number, after = 0): Promise<Leading> => waitForLeaderAmong(replicas, { afterTerm: after, timeoutMs });

/** Publishes `tag-N` on every channel every `everyMs` until stopped; returns what was sent per channel. */
function publishing(tag: string, everyMs = 20): { stop(): Promise<Map<string, string[]>> } {
  const sent = new Map<string, string[]>(channels.map((c) => [c, []]));
  let n = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const batch = channels.map((c) => {
        const id = `${tag}-${n}`;
        sent.get(c)!.push(id);
        return publisher.invokePublish(c, { id });
      });
      n += 1;
      await Promise.all(batch);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return sent;
    },
  };
}

/** Every message sent reached the subscriber once, in the order sent. */
async function expectExactlyOnceInOrder(tag: string, sent: Map<string, string[]>): Promise<void> {
  await waitUntil(() => channels.every((c) => collector.messages('B', c).filter((m) => m.id.startsWith(`${tag}-`)).length >= sent.get(c)!.length), 15_000, `${tag} delivered`);
  for (const c of channels) {
    const got = collector.messages('B', c).filter((m) => m.id.startsWith(`${tag}-`)).map((m) => m.id);
    expect(got, `${c}: exactly once, in order`).toEqual(sent.get(c));
  }
}

/** The spy never saw a list that misses one of `live`. */
function expectNoPartialList(live: readonly string[], since: number): void {
  const seen = spy.lists.filter((l) => l.at >= since);
  expect(seen.length, 'the spy was handed lists').toBeGreaterThan(0);
  for (const list of seen) for (const uri of live) expect(list.brokers, `a ${list.source} list at ${list.at} misses live broker ${uri}`).toContain(uri);
}

/**
 * SIGKILLs the leader and starts it again on its port at once (as a follower: peers that dial it
 * reconnect to it and are passed through), returning its id and when it was killed.
 */
async function killLeader(): Promise<{ old: Leading; killedAt: number; restarted: Promise<void> }> {
  const old = await waitForLeader(5000);
  const leader = replicas[old.index]!;
  const killedAt = Date.now();
  await leader.stop('SIGKILL');
  const restarted = startState(replicaEnv(old.index, leader.port)).then((r) => {
    replicas[old.index] = r;
  });
  return { old, killedAt, restarted };
}

beforeAll(async () => {
  etcd = await startEtcd();
  prefix = `/test-${randomUUID()}/`;
  for (let i = 0; i < 3; i++) replicas.push(await startState(replicaEnv(i)));
  const first = await waitForLeader(10_000);
  // Peers dial a follower (the address they are configured with), which passes them through.
  via = replicas.find((_, i) => i !== first.index)!;
  brokers = await Promise.all([startBroker(via.port), startBroker(via.port)]);
  workers = await Promise.all([startWorker(via.port), startWorker(via.port)]);
  await Promise.all(workers.map((w) => waitForBrokerCount(w, 2, 0, 15_000)));
  collector = new Collector();
  const subscriber = await connect(workers[1]!.port);
  for (const c of channels) await collector.subscribe('B', subscriber, c);
  publisher = await connect(workers[0]!.port);
  spy = new SpyWorker(via.port);
  await waitUntil(() => spy.latest?.brokers.length === 2, 10_000, 'the spy joined');
}, 60_000);

afterAll(async () => {
  if (process.env['HA_LOGS']) {
    const dir = process.env['HA_LOGS'];
    replicas.forEach((r, i) => r.writeLog(`${dir}/${replicaId(i)}.log`));
    brokers.forEach((b, i) => b.writeLog(`${dir}/broker-${i}.log`));
    workers.forEach((w, i) => w.writeLog(`${dir}/worker-${i}.log`));
  }
  spy?.close();
  disconnectAll();
  await stopAll();
  await etcd?.stop();
});

describe('replicated scc-state through etcd', () => {
  it('elects exactly one leader; every replica is ready; the view through a follower shows the leader, its term and the replicas', async () => {
    expect(await leaders()).toHaveLength(1);
    expect((await Promise.all(replicas.map((r) => fetch(`http://127.0.0.1:${r.port}/leader`).then((x) => x.status)))).sort()).toEqual([200, 503, 503]);
    for (const r of replicas) expect((await fetch(`http://127.0.0.1:${r.port}/ready`)).status).toBe(200);
    type View = { brokers: unknown[]; replication: { role: string; term: number; store: string; replicas: Array<{ id: string; role: string }> } };
    const read = async (): Promise<View> => (await (await fetch(`http://127.0.0.1:${via.port}/cluster.json`)).json()) as View;
    // The leader reads the replica list from etcd every half lease: the last replica to start may not be in it yet.
    let view = await read();
    const deadline = Date.now() + 5000;
    while (view.replication.replicas.length < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      view = await read();
    }
    expect(view.brokers).toHaveLength(2);
    expect(view.replication.role).toBe('leader');
    expect(view.replication.store).toBe('etcd');
    expect(view.replication.term).toBeGreaterThan(0);
    expect(view.replication.replicas.map((r) => r.id)).toEqual(['r1', 'r2', 'r3']);
    expect(view.replication.replicas.filter((r) => r.role === 'leader')).toHaveLength(1);
    // The dashboard (through the follower too) names the store, the term, the leader and the replicas.
    const page = await (await fetch(`http://127.0.0.1:${via.port}/cluster`)).text();
    const leaderId = view.replication.replicas.find((r) => r.role === 'leader')!.id;
    expect(page).toContain(`etcd, term ${view.replication.term}: leader <code>${leaderId}</code>`);
    expect(page).toMatch(/replicas r1 \((leader|follower)\), r2 \((leader|follower)\), r3 \((leader|follower)\)/);
    const metrics = await Promise.all(replicas.map((r) => fetch(`http://127.0.0.1:${r.port}/metrics`).then((m) => m.text())));
    const leaderGauges = metrics.map((text) => Number(/^scc_state_leader (\d)/m.exec(text)?.[1]));
    expect(leaderGauges.sort()).toEqual([0, 0, 1]);
  });

  it('SIGKILL of the leader: a follower leads within the bound, peers re-join through their address, nothing is lost, reordered or doubled, and no list misses a live broker', async () => {
    const since = Date.now();
    const flow = publishing('kill');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { old, killedAt, restarted } = await killLeader();
    const next = await waitForLeader(FAILOVER_BOUND_MS + 2000, old.term);
    const servedAt = Date.now();
    expect(servedAt - killedAt, 'kill → new leader serving').toBeLessThanOrEqual(FAILOVER_BOUND_MS);
    // Every peer re-joins the new leader through the follower it dials.
    type View = { brokers: Array<{ uri: string }>; workers: unknown[]; replication: { settling: boolean } };
    // During the election a follower answers 503 (no leader to pass the view on to): null, asked again.
    const view = async (): Promise<View | null> => {
      const res = await fetch(`http://127.0.0.1:${via.port}/cluster.json`);
      return res.status === 200 ? ((await res.json()) as View) : null;
    };
    const settled = (v: View | null): v is View => v !== null && v.brokers.length === 2 && v.workers.length === 3 && !v.replication.settling;
    const deadline = Date.now() + 10_000;
    let v = await view();
    while (!settled(v) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      v = await view();
    }
    expect(v, 'the view through the follower, settled').not.toBeNull();
    if (!v) return;
    expect(v.brokers).toHaveLength(2);
    expect(v.workers, 'our two workers and the spy').toHaveLength(3);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sent = await flow.stop();
    await expectExactlyOnceInOrder('kill', sent);
    expectNoPartialList(brokers.map((b) => uriOf(b)), since);
    // The killed replica came back as a follower.
    await restarted;
    expect(await leaders()).toEqual([next]);
  }, 40_000);

  it('SIGTERM of the leader (a rolling update): it resigns, and a follower leads well within one lease', async () => {
    const old = await waitForLeader(5000);
    const leader = replicas[old.index]!;
    const flow = publishing('term');
    const stoppedAt = Date.now();
    const exit = await leader.stop('SIGTERM');
    expect(exit.code, 'a clean exit').toBe(0);
    const next = await waitForLeader(LEASE_TTL_MS, old.term);
    // Resigning revokes the lease: the next leader need not wait for it to expire.
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE_TTL_MS);
    replicas[old.index] = await startState(replicaEnv(old.index, leader.port));
    await Promise.all(workers.map((w) => waitForBrokerCount(w, brokers.length, 0, 10_000)));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sent = await flow.stop();
    await expectExactlyOnceInOrder('term', sent);
    expect(next.term).toBeGreaterThan(old.term);
  }, 40_000);

  it('SIGKILL of the leader while a broker scale-out (2 → 3) is in progress: the scale-out completes, exactly once and in order', async () => {
    const leader = replicas[(await waitForLeader(5000)).index]!;
    const since = Date.now();
    const flow = publishing('scale');
    const marks = workers.map((w) => w.mark());
    const from = leader.mark();
    const third = await startBroker(via.port);
    // The leader has pushed the 3-broker list: the handover is under way.
    await leader.waitForLog(/^pushing 3 brokers/, 10_000, from);
    const { old, restarted } = await killLeader();
    await waitForLeader(FAILOVER_BOUND_MS + 2000, old.term);
    await Promise.all(workers.map((w, i) => w.waitForEvent(LogEvent.PublishingThrough, { brokers: 3 }, 20_000, marks[i])));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sent = await flow.stop();
    await expectExactlyOnceInOrder('scale', sent);
    brokers = [...brokers, third];
    expectNoPartialList(brokers.slice(0, 2).map((b) => uriOf(b)), since);
    await waitUntil(() => spy.latest?.brokers.length === 3, 10_000, 'the spy has the 3-broker list');
    await restarted;
  }, 60_000);

  it('etcd unavailable: the leader steps down within its lease, no replica leads meanwhile, pub/sub goes on; back, a leader is elected and scaling resumes', async () => {
    const old = await waitForLeader(5000);
    const leader = replicas[old.index]!;
    const from = leader.mark();
    const flow = publishing('store');
    etcd.pause();
    const pausedAt = Date.now();
    const stepped = await leader.waitForEvent(LogEvent.SteppedDown, {}, LEASE_TTL_MS + 2000, from);
    expect(Number(stepped['time']) - pausedAt, 'stepped down within the lease').toBeLessThanOrEqual(LEASE_TTL_MS);
    // For the rest of the outage nobody leads.
    const outageEnds = Date.now() + 3000;
    while (Date.now() < outageEnds) {
      expect(await leaders(), 'no leader while etcd is away').toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // A broker started during the outage joins once a leader is back.
    const fourth = await startBroker(via.port);
    etcd.resume();
    await waitForLeader(FAILOVER_BOUND_MS + 3000, old.term);
    await Promise.all(workers.map((w) => waitForBrokerCount(w, 4, 0, 20_000)));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sent = await flow.stop();
    await expectExactlyOnceInOrder('store', sent);
    brokers = [...brokers, fourth];
  }, 60_000);
});
