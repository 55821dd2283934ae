/**
 * A whole fuzz run: a real cluster (state, broker, two workers as child processes), a well-behaved
 * publisher and subscribers exchanging numbered messages the whole time, and `fuzzService` against
 * each of the three services in turn. Afterwards: which processes crashed or logged an unhandled
 * error, and whether every well-behaved message arrived exactly once.
 */
import { connect, disconnectAll, type Client } from './clients.js';
import { connectionBurst, fuzzService, type BurstResult, type FuzzOptions, type FuzzResult, type FuzzTarget } from './fuzz.js';
import { startCluster } from './cluster.js';
import { stopAll, type ServiceProcess } from './service-process.js';
import { Waiters } from './waiters.js';

export const FUZZ_AUTH_KEY = 'fuzz-key';
/** Short limits so the limit paths are hit often and never-finished handshakes end quickly. */
export const FUZZ_HANDSHAKE_TIMEOUT_MS = 500;
export const FUZZ_MAX_PAYLOAD_BYTES = 64 * 1024;
const GOOD_CHANNEL = 'fz/good';
const PUBLISH_INTERVAL_MS = 10;

/** What the process did that it must not: exit, or log an unhandled error. */
export interface CrashReport {
  service: string;
  alive: boolean;
  /** stderr lines and log lines that name an uncaught exception or unhandled rejection. */
  unhandled: string[];
}

export interface PubSubReport {
  published: number;
  publishFailures: number;
  /** per subscriber: messages received with a well-behaved id */
  received: Record<string, number>;
  missing: Record<string, number>;
  duplicates: Record<string, number>;
}

export interface CampaignResult {
  results: FuzzResult[];
  bursts: BurstResult[];
  crashes: CrashReport[];
  crashCount: number;
  pubsub: PubSubReport;
}

const UNHANDLED = /unhandled|uncaught|FATAL/i;

/** Lines that show a process failed to handle an error. */
export function unhandledLines(service: ServiceProcess): string[] {
  const fromLogs = service.logs.filter((l) => l.level >= 60 || UNHANDLED.test(l.msg) || UNHANDLED.test(JSON.stringify(l['err'] ?? ''))).map((l) => l.msg);
  // Anything on stderr is a failure: the services log JSON to stdout and only a crash writes stderr.
  return [...fromLogs, ...service.stderr];
}

export function crashReport(name: string, service: ServiceProcess): CrashReport {
  return { service: name, alive: service.alive, unhandled: unhandledLines(service).slice(0, 20) };
}

export interface CampaignOptions extends FuzzOptions {
  services?: FuzzTarget['name'][];
  /** Connections opened and dropped against each service before its fuzz run. */
  burst: number;
  log?: (line: string) => void;
}

export async function runFuzzCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const log = options.log ?? (() => undefined);
  const limits = { SCC_AUTH_KEY: FUZZ_AUTH_KEY, SCC_HANDSHAKE_TIMEOUT: String(FUZZ_HANDSHAKE_TIMEOUT_MS), SCC_MAX_PAYLOAD: String(FUZZ_MAX_PAYLOAD_BYTES) };
  // Warnings off at the services: every refusal would otherwise be a log line (the counts are ours).
  const cluster = await startCluster({
    brokers: 1,
    workers: 2,
    stateEnv: { ...limits, SCC_STATE_LOG_LEVEL: '3' },
    brokerEnv: { ...limits, SCC_BROKER_SERVER_LOG_LEVEL: '3' },
    workerEnv: { ...limits, SOCKETCLUSTER_LOG_LEVEL: '3' },
  });
  const [workerA, workerB] = cluster.workers as [ServiceProcess, ServiceProcess];
  const broker = cluster.brokers[0]!;
  try {
    const collector = new GoodCollector();
    await collector.subscribe('B', await connect(workerB.port));
    await collector.subscribe('A', await connect(workerA.port));
    const publisher = await connect(workerA.port);
    // Wait until the upstream subscription carries messages to B before counting.
    await primeGood(publisher, collector);
    collector.clear();

    let published = 0;
    let publishFailures = 0;
    let publishing = true;
    const traffic = (async () => {
      while (publishing) {
        const id = `good-${published}`;
        try {
          await publisher.invokePublish(GOOD_CHANNEL, { id });
          published += 1;
        } catch {
          publishFailures += 1;
        }
        await new Promise((r) => setTimeout(r, PUBLISH_INTERVAL_MS));
      }
    })();

    const targets: Record<FuzzTarget['name'], FuzzTarget> = {
      state: {
        name: 'state',
        port: cluster.state.port,
        query: { authKey: FUZZ_AUTH_KEY, instanceType: 'scc-worker', instancePort: '9', version: '9.3.0' },
        maxPayloadBytes: FUZZ_MAX_PAYLOAD_BYTES,
        handshakeTimeoutMs: FUZZ_HANDSHAKE_TIMEOUT_MS,
        authRequired: true,
      },
      broker: {
        name: 'broker',
        port: broker.port,
        query: { authKey: FUZZ_AUTH_KEY, poolIndex: '0' },
        maxPayloadBytes: FUZZ_MAX_PAYLOAD_BYTES,
        handshakeTimeoutMs: FUZZ_HANDSHAKE_TIMEOUT_MS,
        authRequired: true,
      },
      worker: {
        name: 'worker',
        port: workerA.port,
        query: {},
        maxPayloadBytes: FUZZ_MAX_PAYLOAD_BYTES,
        handshakeTimeoutMs: FUZZ_HANDSHAKE_TIMEOUT_MS,
        authRequired: false,
      },
    };
    const results: FuzzResult[] = [];
    const bursts: BurstResult[] = [];
    for (const name of options.services ?? (['state', 'broker', 'worker'] as const)) {
      if (options.burst > 0) {
        log(`opening and dropping ${options.burst} connections to ${name}…`);
        bursts.push(await connectionBurst(targets[name], options.burst, options.lanes * 4, options.timeLimitMs));
      }
      log(`fuzzing ${name} on port ${targets[name].port}…`);
      results.push(await fuzzService(targets[name], options));
    }

    publishing = false;
    await traffic;
    const goodIds = (label: string): string[] => collector.ids(label).filter((id) => id.startsWith('good-'));
    await collector.until(() => ['A', 'B'].every((l) => new Set(goodIds(l)).size >= published), 10_000);
    const pubsub: PubSubReport = { published, publishFailures, received: {}, missing: {}, duplicates: {} };
    for (const label of ['A', 'B']) {
      const ids = goodIds(label);
      const unique = new Set(ids);
      pubsub.received[label] = ids.length;
      pubsub.missing[label] = published - [...unique].filter((id) => Number(id.slice(5)) < published).length;
      pubsub.duplicates[label] = ids.length - unique.size;
    }
    const crashes = [crashReport('state', cluster.state), crashReport('broker', broker), crashReport('workerA', workerA), crashReport('workerB', workerB)];
    const crashCount = crashes.filter((c) => !c.alive || c.unhandled.length > 0).length;
    return { results, bursts, crashes, crashCount, pubsub };
  } finally {
    disconnectAll();
    await stopAll();
  }
}

/**
 * Records the string `id` of every message on the good channel per subscriber. Hostile peers publish
 * there too (null, numbers, odd shapes): those are skipped, not trusted.
 */
class GoodCollector {
  private readonly received = new Map<string, string[]>();
  private readonly waiters = new Waiters();

  async subscribe(label: string, client: Client): Promise<void> {
    const list: string[] = [];
    this.received.set(label, list);
    const channel = client.subscribe(GOOD_CHANNEL);
    void (async () => {
      for await (const data of channel) {
        const id = (data as { id?: unknown } | null)?.id;
        if (typeof id === 'string') list.push(id);
        this.waiters.notify();
      }
    })();
    await channel.listener('subscribe').once(5000);
  }

  ids(label: string): string[] {
    return this.received.get(label) ?? [];
  }

  clear(): void {
    for (const list of this.received.values()) list.length = 0;
  }

  /** Resolves true once `predicate` holds, false after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    return this.waiters.until(predicate, timeoutMs);
  }
}

async function primeGood(publisher: Client, collector: GoodCollector): Promise<void> {
  const deadline = Date.now() + 10_000;
  let round = 0;
  while (Date.now() < deadline) {
    round += 1;
    await publisher.invokePublish(GOOD_CHANNEL, { id: `probe-${round}` });
    if (await collector.until(() => ['A', 'B'].every((l) => collector.ids(l).includes(`probe-${round}`)), 300)) return;
  }
  throw new Error('the well-behaved channel never carried a probe to both subscribers');
}
