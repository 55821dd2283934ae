/**
 * `pnpm testbed [--system ours|original]`: a five-host cluster on the network test bed, by hand.
 * Hosts state, broker-1, broker-2, worker-a and worker-b, each a network namespace with its own
 * address in 198.18.0.0/15 and its service on its well-known port (our state server always; brokers
 * and workers of the chosen system). Prints the addresses and demo URLs, then reads commands from
 * stdin (`help` lists them). Ctrl-C, `quit` or the end of stdin tears everything down and exits 0.
 * Needs root.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { BedCluster, type BedSystem } from '../harness/netns/bed-cluster.js';
import { BED_PORTS, TestBed, TestBedUnavailableError } from '../harness/netns/testbed.js';
import type { FaultSchedule } from '../harness/netns/schedule.js';

const HOSTS = ['state', 'broker-1', 'broker-2', 'worker-a', 'worker-b'] as const;
/** Bound on the cluster's start and each restart, ms. */
const START_TIMEOUT_MS = 60_000;
/** Bound on one /ready poll of the `status` command, ms. */
const STATUS_REQUEST_MS = 1000;

const HELP = `commands (hosts: ${HOSTS.join(', ')}):
  cut A B [oneway]        silent partition between A and B (oneway: only A's packets to B are dropped)
  heal A B                restore A ↔ B
  isolate H / rejoin H    cut H from every other host / heal all of H's cuts
  down H / up H           take H's link down / bring it up
  pause H / resume H      SIGSTOP / SIGCONT H's process
  kill H / restart H      SIGKILL H's process / start it again (SIGKILL first if it runs)
  flap A B PERIOD MS      cut and heal A ↔ B every PERIOD ms for MS ms (flap H PERIOD MS: H's link)
  faults                  the faults in force
  status                  each host's address, process and /ready
  help                    this list
  quit                    tear everything down and exit (also Ctrl-C)`;

const { values } = parseArgs({ options: { system: { type: 'string', default: 'ours' } } });
if (values.system !== 'ours' && values.system !== 'original') {
  process.stderr.write(`testbed: --system takes ours or original, got ${JSON.stringify(values.system)}\n`);
  process.exit(2);
}
const system = values.system as BedSystem;

const say = (line: string): void => void process.stdout.write(`${line}\n`);
let bed: TestBed | undefined;
let cluster: BedCluster | undefined;
const schedules = new Set<FaultSchedule>();
let stopping = false;

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('tearing the bed down…');
  await cluster?.close();
  await bed?.close();
  say('done');
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

/** A service's log line, shown when it is a warning or an event (JSON logs; the rest stays quiet). */
function show(host: string, stream: 'stdout' | 'stderr', line: string): void {
  if (stream === 'stderr') return say(`${host} ! ${line}`);
  try {
    const l = JSON.parse(line) as { level?: number; msg?: string; event?: string };
    if ((l.level ?? 0) >= 40 || l.event !== undefined) say(`${host} | ${l.event === undefined ? '' : `[${l.event}] `}${l.msg ?? line}`);
  } catch {
    say(`${host} | ${line}`);
  }
}

try {
  bed = await TestBed.create({ hosts: HOSTS });
  say(`test bed up: bridge ${bed.rootAddress} (this namespace)`);
  for (const h of bed.hosts) say(`  ${h.name.padEnd(9)} ${h.address.padEnd(15)} netns ${h.ns}`);
  say(`starting ${system === 'ours' ? 'our' : 'the original'} brokers and workers (our state server)…`);
  cluster = await BedCluster.start(bed, { system, brokers: ['broker-1', 'broker-2'], workers: ['worker-a', 'worker-b'], timeoutMs: START_TIMEOUT_MS, detached: true, onLine: show });
} catch (error) {
  const message = error instanceof TestBedUnavailableError ? error.message : `${(error as Error).message}`;
  process.stderr.write(`testbed: ${message}\n`);
  await stop(1);
}

const b = bed!;
const c = cluster!;
say('cluster ready. Demo pages (open one per worker):');
for (const h of ['worker-a', 'worker-b']) say(`  http://${b.address(h)}:${BED_PORTS.worker}/`);
say(`state server view: http://${b.address('state')}:${BED_PORTS.state}/cluster.json`);
say(`type "help" for the commands`);

function proc(host: string) {
  b.host(host);
  const p = c.on(host);
  if (p === undefined) throw new Error(`nothing runs on ${host}`);
  return p;
}

const positive = (s: string | undefined, what: string): number => {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${what} must be a positive integer (ms), got ${JSON.stringify(s)}`);
  return n;
};

async function status(): Promise<void> {
  for (const h of b.hosts) {
    const p = c.on(h.name);
    let ready = '-';
    if (p?.alive) {
      ready = await fetch(`http://${p.host}:${p.port}/ready`, { signal: AbortSignal.timeout(STATUS_REQUEST_MS) }).then(
        // The original services serve no /ready.
        (r) => (r.status === 404 ? 'none (original)' : String(r.status)),
        (e: Error) => `no answer (${e.name})`,
      );
    }
    say(`  ${h.name.padEnd(9)} ${h.address.padEnd(15)} ${p ? `${p.name} pid ${p.pid} ${p.alive ? 'running' : 'exited'}` : 'no process'}  /ready ${ready}`);
  }
}

async function command(line: string): Promise<void> {
  const [cmd, ...args] = line.trim().split(/\s+/);
  switch (cmd) {
    case undefined:
    case '':
      return;
    case 'help':
      return say(HELP);
    case 'cut':
      b.cut(args[0]!, args[1]!, { oneWay: args[2] === 'oneway' });
      return say(`cut ${args[0]} ${args[2] === 'oneway' ? '→' : '↔'} ${args[1]}`);
    case 'heal':
      b.heal(args[0]!, args[1]!);
      return say(`healed ${args[0]} ↔ ${args[1]}`);
    case 'isolate':
      b.isolate(args[0]!);
      return say(`${args[0]} cut from every host`);
    case 'rejoin':
      b.rejoin(args[0]!);
      return say(`${args[0]} reaches every host again`);
    case 'down':
      b.linkDown(args[0]!);
      return say(`${args[0]}'s link is down`);
    case 'up':
      b.linkUp(args[0]!);
      return say(`${args[0]}'s link is up`);
    case 'pause':
      b.pause(proc(args[0]!));
      return say(`${args[0]} paused`);
    case 'resume':
      b.resume(proc(args[0]!));
      return say(`${args[0]} resumed`);
    case 'kill':
      await b.kill(proc(args[0]!));
      return say(`${args[0]} killed`);
    case 'restart': {
      const p = await c.restart(args[0]!);
      return say(`${args[0]} restarted (pid ${p.pid})`);
    }
    case 'flap': {
      const link = args.length === 3;
      const [x, y] = link ? [args[0]!, undefined] : [args[0]!, args[1]!];
      const [period, duration] = link ? [args[1], args[2]] : [args[2], args[3]];
      const schedule = b.flap(
        () => (y === undefined ? b.linkDown(x) : b.cut(x, y)),
        () => (y === undefined ? b.linkUp(x) : b.heal(x, y)),
        positive(period, 'PERIOD'),
        positive(duration, 'MS'),
      );
      schedules.add(schedule);
      void schedule.done.then((r) => {
        schedules.delete(schedule);
        say(`flap ${y === undefined ? `${x}'s link` : `${x} ↔ ${y}`} over: ${r.ran.length} steps, ${r.outcome}${r.error ? `: ${r.error}` : ''}`);
      });
      return say(`flapping ${y === undefined ? `${x}'s link` : `${x} ↔ ${y}`} every ${period} ms for ${duration} ms`);
    }
    case 'faults': {
      const faults = b.activeFaults();
      return say(faults.length === 0 ? 'no faults' : faults.join('\n'));
    }
    case 'status':
      return status();
    case 'quit':
    case 'exit':
      return stop(0);
    default:
      say(`unknown command ${JSON.stringify(cmd)}; "help" lists them`);
  }
}

// One command at a time, in order; a bad one is reported and the next is read.
let queue = Promise.resolve();
const rl = createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => {
  queue = queue.then(() => command(line).catch((error: Error) => say(`error: ${error.message}`)));
});
rl.on('close', () => void queue.then(() => stop(0)));
