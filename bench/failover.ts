/**
 * Failover timings on loopback, with the state server's production delays by default:
 *   kill — a broker is SIGKILLed: time until every channel it owned delivers again;
 *   join — a broker joins: time until every channel that moves to it delivers through it.
 * Publishers on worker A send one message per channel every 10 ms; a subscriber on worker B records
 * arrivals. Also counts messages lost during each event (the original-compatible one-step reshard
 * loses some; lossless handover is separate work). Prints a table and one JSON line.
 *
 *   pnpm bench:failover [--trials 5] [--channels 40] [--fast]
 * --fast uses the test suite's short delays (scale-out 200 ms, scale-back 100 ms) instead of 5000/1000.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { LogEvent, SkeletonRendezvousMapper } from '@scc-ts/shared';
import { disconnectAll, type Client, type Collector } from '../harness/clients.js';
import type { Cluster as TestCluster } from '../harness/cluster.js';
import { stopAll, type ServiceProcess } from '../harness/service-process.js';
import { startBroker } from '../harness/services.js';
import { startSubscribedCluster } from '../harness/subscribed.js';
import { BrokerSpy } from '../harness/spy.js';

const { values } = parseArgs({
  options: { trials: { type: 'string', default: '5' }, channels: { type: 'string', default: '40' }, fast: { type: 'boolean', default: false } },
});
const TRIALS = Number(values.trials);
const CHANNELS = Array.from({ length: Number(values.channels) }, (_, i) => `fo/${i}`);
const TICK_MS = 10;
/** Upper bound on one event's wait, ms. */
const EVENT_TIMEOUT_MS = 20_000;
const stateEnv: Record<string, string> = values.fast
  ? {}
  : { SCC_STATE_SERVER_SCALE_OUT_DELAY: '5000', SCC_STATE_SERVER_SCALE_BACK_DELAY: '1000', SCC_STATE_SERVER_RETRY_DELAY: '2000' };

interface Trial {
  ms: number;
  channels: number;
  published: number;
  lost: number;
  duplicated: number;
}

/** Publishes a round on every channel every TICK_MS; records publish and arrival times by id. */
class Traffic {
  readonly sentAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private round = 0;
  constructor(
    private readonly publisher: Client,
    private readonly collector: Collector,
  ) {}
  /** id → arrival times at the subscriber */
  get arrivedAt(): Map<string, number[]> {
    return this.collector.arrivals;
  }
  start(): void {
    this.timer = setInterval(() => {
      this.round += 1;
      const now = Date.now();
      for (const c of CHANNELS) {
        const id = `${this.round}|${c}`;
        this.sentAt.set(id, now);
        void this.publisher.transmitPublish(c, { id });
      }
    }, TICK_MS);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

async function setup(): Promise<{ cluster: TestCluster; traffic: Traffic }> {
  const { cluster, publisher, collector } = await startSubscribedCluster(CHANNELS, { brokers: 2, workers: 2, stateEnv });
  collector.clear();
  const traffic = new Traffic(publisher, collector);
  return { cluster, traffic };
}

function tally(traffic: Traffic, from: number): Pick<Trial, 'published' | 'lost' | 'duplicated'> {
  let published = 0;
  let lost = 0;
  let duplicated = 0;
  for (const [id, at] of traffic.sentAt) {
    if (at < from) continue;
    published += 1;
    const n = traffic.arrivedAt.get(id)?.length ?? 0;
    if (n === 0) lost += 1;
    if (n > 1) duplicated += n - 1;
  }
  return { published, lost, duplicated };
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + EVENT_TIMEOUT_MS;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function ownersOf(ports: number[]): Map<string, string> {
  const mapper = new SkeletonRendezvousMapper();
  mapper.setSites(ports.map((p) => `ws://127.0.0.1:${p}`));
  return new Map(CHANNELS.map((c) => [c, mapper.findSite(c)!]));
}

/** First arrival on `channel` of a message published at or after `since`. */
function firstArrivalAfter(traffic: Traffic, channel: string, since: number, accept: (id: string) => boolean = () => true): number | undefined {
  let best: number | undefined;
  for (const [id, sent] of traffic.sentAt) {
    if (sent < since || !id.endsWith(`|${channel}`) || !accept(id)) continue;
    const at = traffic.arrivedAt.get(id)?.[0];
    if (at !== undefined && (best === undefined || at < best)) best = at;
  }
  return best;
}

async function killTrial(): Promise<Trial> {
  const { cluster, traffic } = await setup();
  try {
    traffic.start();
    await new Promise((r) => setTimeout(r, 300));
    const victim = cluster.brokers[0]!;
    const owned = CHANNELS.filter((c) => ownersOf(cluster.brokers.map((b) => b.port)).get(c) === `ws://127.0.0.1:${victim.port}`);
    const killedAt = Date.now();
    await victim.stop('SIGKILL');
    await until(() => owned.every((c) => firstArrivalAfter(traffic, c, killedAt) !== undefined), 'delivery after the kill');
    const resumed = Math.max(...owned.map((c) => firstArrivalAfter(traffic, c, killedAt)!));
    await new Promise((r) => setTimeout(r, 500));
    traffic.stop();
    await new Promise((r) => setTimeout(r, 1000));
    return { ms: resumed - killedAt, channels: owned.length, ...tally(traffic, killedAt - 1000) };
  } finally {
    traffic.stop();
    disconnectAll();
    await stopAll();
  }
}

async function joinTrial(): Promise<Trial> {
  const { cluster, traffic } = await setup();
  try {
    traffic.start();
    await new Promise((r) => setTimeout(r, 300));
    const before = ownersOf(cluster.brokers.map((b) => b.port));
    const startedAt = Date.now();
    const third: ServiceProcess = await startBroker(cluster.state.port);
    const after = ownersOf([...cluster.brokers, third].map((b) => b.port));
    const moved = CHANNELS.filter((c) => before.get(c) !== after.get(c));
    const spy = await BrokerSpy.attach(third.port, moved);
    const joined = await third.waitForEvent(LogEvent.Joined);
    const joinedAt = Number(joined['time']);
    await until(
      () => moved.every((c) => firstArrivalAfter(traffic, c, joinedAt, (id) => spy.relayed(c, id)) !== undefined),
      'delivery through the new broker',
    );
    const delivering = Math.max(...moved.map((c) => firstArrivalAfter(traffic, c, joinedAt, (id) => spy.relayed(c, id))!));
    await new Promise((r) => setTimeout(r, 500));
    traffic.stop();
    await new Promise((r) => setTimeout(r, 1000));
    return { ms: delivering - joinedAt, channels: moved.length, ...tally(traffic, startedAt) };
  } finally {
    traffic.stop();
    disconnectAll();
    await stopAll();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const results: Record<string, Trial[]> = { kill: [], join: [] };
for (let i = 0; i < TRIALS; i++) {
  // Alternate the scenarios so drift on a noisy machine affects both alike.
  results['kill']!.push(await killTrial());
  results['join']!.push(await joinTrial());
  process.stderr.write(`trial ${i + 1}/${TRIALS} done\n`);
}

const rows = Object.entries(results).map(([name, trials]) => ({
  scenario: name === 'kill' ? 'broker SIGKILL → owned channels deliver again' : 'broker join → moved channels deliver through it',
  median_ms: median(trials.map((t) => t.ms)),
  min_ms: Math.min(...trials.map((t) => t.ms)),
  max_ms: Math.max(...trials.map((t) => t.ms)),
  channels_affected_median: median(trials.map((t) => t.channels)),
  lost_total: trials.reduce((n, t) => n + t.lost, 0),
  duplicated_total: trials.reduce((n, t) => n + t.duplicated, 0),
  published_total: trials.reduce((n, t) => n + t.published, 0),
}));
const delays = values.fast ? 'test delays (scale-out 200 ms, scale-back 100 ms)' : 'default delays (scale-out 5000 ms, scale-back 1000 ms)';
console.log(`\nFailover on loopback, ${TRIALS} trials each, ${CHANNELS.length} channels, ${1000 / TICK_MS} msgs/s per channel, ${delays}`);
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, node ${process.version}\n`);
console.table(rows);
console.log(JSON.stringify({ bench: 'failover', trials: TRIALS, channels: CHANNELS.length, tickMs: TICK_MS, fast: values.fast, machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version }, results: rows, raw: results }));
