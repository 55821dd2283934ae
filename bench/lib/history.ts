/**
 * The history workloads (docs/history.md), on OUR system only:
 *
 *   recover — a subscriber on worker B records its position and disconnects; N messages are published
 *             on worker A (and seen by a positioned watcher there, so the owner broker has stored them
 *             all); it then subscribes on worker A with `since`. Measured: from that subscribe call to
 *             the arrival of the last of the N (the connect is not counted). Checked: the notice says
 *             recovered with N replayed, and the N arrive once each, in order, with consecutive offsets.
 *   memory  — the broker's cost of retained messages: RSS (/proc) and V8 heapUsed (its /metrics, no
 *             forced GC) of every broker before and after the hop generator publishes M messages of
 *             the bench's size over C channels, with history on every channel and off (the control:
 *             what the same traffic leaves behind without history), per 1,000 retained messages.
 *
 * Both drive real socketcluster-clients (recover, from this process) or the raw-ws load generator
 * (memory), against systems started by the caller with the environment these functions name.
 */
import { connect, type Client } from '../../harness/clients.js';
import { HistoryReader } from '../../harness/history.js';
import type { LoadConfig, LoadResult } from '../loadgen.js';
import { heapUsedBytes } from './heap-metrics.js';
import type { LoadGenerator } from './loadgen-process.js';
import { memoryKiB } from './proc.js';
import { round } from './stats.js';
import type { RunningSystem } from './systems.js';

/** The channel prefix the recover workload keeps history on. */
const RECOVER_PREFIX = 'recover/';
/** Publishes in flight at once while the missed messages go out. */
const PUBLISH_WINDOW = 500;
/** Bound on each wait of a recover run (priming, publishing, the replay), ms. */
const RECOVER_TIMEOUT_MS = 120_000;

/** Our brokers' and workers' environment for the recover workload: history on its channels, room for `most` messages of `size` B. */
export function recoverEnv(most: number, size: number): Record<string, string> {
  return {
    SCC_HISTORY_CHANNELS: RECOVER_PREFIX,
    SCC_HISTORY_SIZE: String(most),
    SCC_HISTORY_CHANNEL_MAX_BYTES: String(Math.max(1_048_576, most * (size + 200) * 2)),
  };
}

export interface RecoverRecord {
  workload: string;
  round: number;
  missed: number;
  /** Subscribe-with-since to the last missed message, ms. */
  recoverMs: number;
  /** Subscribe-with-since to the recovery notice, ms. */
  noticeMs: number;
  /** Publishing the missed messages until the watcher had them all, ms. */
  publishMs: number;
  notice: unknown;
  /** The notice said recovered with `missed` replayed, and the missed messages came once each, in order. */
  exactlyOnce: boolean;
  problems: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Publishes `{i, p}` for i in 0 … n-1 on `channel`, at most PUBLISH_WINDOW in flight. */
async function publishMany(client: Client, channel: string, n: number, size: number): Promise<void> {
  const padding = 'x'.repeat(Math.max(0, size - 20));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await client.invokePublish(channel, { i, p: padding });
    }
  };
  // Lanes take the next index in order, so publishes leave in order on the one connection.
  await Promise.all(Array.from({ length: Math.min(PUBLISH_WINDOW, n) }, lane));
}

/** Publishes probes from `from` until `heard()` holds. */
async function prime(from: Client, channel: string, heard: () => boolean): Promise<void> {
  const deadline = Date.now() + RECOVER_TIMEOUT_MS;
  for (let k = 0; !heard(); k++) {
    if (Date.now() > deadline) throw new Error(`${channel} not primed`);
    // Not awaited: the readers' deliveries, not the acks, say when priming is done.
    from.invokePublish(channel, { probe: k }).catch(() => undefined);
    await sleep(50);
  }
}

/** One recover run of `missed` messages on a running system started with `recoverEnv`. */
export async function runRecover(sys: RunningSystem, missed: number, size: number, roundNo: number): Promise<RecoverRecord> {
  const [portA] = sys.publisherPorts as [number];
  const [portB] = sys.subscriberPorts as [number];
  const channel = `${RECOVER_PREFIX}${missed}`;
  const clients: Client[] = [];
  const open = async (port: number): Promise<Client> => {
    const c = await connect(port);
    clients.push(c);
    return c;
  };
  try {
    const [publisher, watcherClient, awayClient] = await Promise.all([open(portA), open(portA), open(portB)]);
    const watcher = HistoryReader.open(watcherClient, channel);
    const away = HistoryReader.open(awayClient, channel);
    await Promise.all([watcher, away].map((r) => r.until(() => r.notice !== undefined, 10_000, 'the first notice')));
    await prime(publisher, channel, () => watcher.envelopes.length > 0 && away.envelopes.length > 0);
    // A last marker, so that no probe is still on its way to the subscriber when it leaves.
    await publisher.invokePublish(channel, { mark: true });
    const marked = (r: HistoryReader): boolean => (r.data().at(-1) as { mark?: boolean } | undefined)?.mark === true;
    // Each reader re-checks on its own deliveries only: one wait per reader.
    await Promise.all([away, watcher].map((r) => r.until(() => marked(r), RECOVER_TIMEOUT_MS, 'the marker')));
    const since = away.position!;
    awayClient.disconnect();

    // Nothing else is published now: the watcher's next `missed` envelopes are the missed messages.
    const seenBefore = watcher.envelopes.length;
    const publishStartedAt = performance.now();
    await publishMany(publisher, channel, missed, size);
    await watcher.until(() => watcher.envelopes.length >= seenBefore + missed, RECOVER_TIMEOUT_MS, 'the watcher seeing every missed message');

    const publishMs = performance.now() - publishStartedAt;
    const backClient = await open(portA);
    const startedAt = performance.now();
    const back = HistoryReader.open(backClient, channel, { since });
    let noticeAt = Number.NaN;
    await back.until(() => {
      if (Number.isNaN(noticeAt) && back.notice) noticeAt = performance.now();
      return back.envelopes.length >= missed || back.kickOuts.length > 0;
    }, RECOVER_TIMEOUT_MS, `the last of ${missed} missed messages`);
    const doneAt = performance.now();
    // The last envelope seen is the last missed one only when nothing else came: nothing is published now.
    const problems = back.check();
    const got = back.data().map((d) => (d as { i?: number }).i);
    if (got.length !== missed || got.some((i, k) => i !== k)) problems.push(`got ${got.length} messages, not 0 … ${missed - 1} in order`);
    const n = back.notice;
    if (!n || !n.recovered || n.replayed !== missed || n.epoch !== since.epoch || n.offset !== since.offset) problems.push(`notice ${JSON.stringify(n)}`);
    return {
      workload: `recover-${missed}`,
      round: roundNo,
      missed,
      recoverMs: round(doneAt - startedAt),
      noticeMs: round(noticeAt - startedAt),
      publishMs: round(publishMs),
      notice: n,
      exactlyOnce: problems.length === 0,
      problems,
    };
  } finally {
    for (const c of clients) c.disconnect();
  }
}

export interface MemoryRecord {
  workload: 'history-memory';
  round: number;
  history: boolean;
  channels: number;
  published: number;
  /** Messages the brokers retain once the run is over (per channel at most SCC_HISTORY_SIZE). */
  retained: number;
  rssDeltaMiB: number;
  /** null where a broker's /metrics could not be read. */
  heapDeltaMiB: number | null;
  lost: number;
  duplicated: number;
}

/** Reads every broker's RSS (KiB) and heapUsed (bytes, or NaN) now. */
async function brokerMemory(sys: RunningSystem): Promise<{ rssKiB: number; heapBytes: number }> {
  const brokers = sys.processes.filter((p) => p.role.startsWith('broker'));
  const heaps = await Promise.all(brokers.map(({ process: p }) => heapUsedBytes(p.port).catch(() => Number.NaN)));
  return { rssKiB: brokers.reduce((n, { process: p }) => n + memoryKiB(p.pid).rss, 0), heapBytes: heaps.reduce((a, b) => a + b, 0) };
}

/** Time for a broker's garbage to settle before its memory is read (a measurement protocol, not a synchronisation), ms. */
const SETTLE_MS = 2_000;

/**
 * One memory run: the hop generator's burst of `messages` over `channels` (one subscriber each), the
 * brokers' memory read before and after. `historySize` is the brokers' SCC_HISTORY_SIZE (0: history off).
 */
export async function runHistoryMemory(sys: RunningSystem, gen: LoadGenerator, config: LoadConfig, historySize: number, roundNo: number): Promise<MemoryRecord> {
  gen.send({ type: 'run', config });
  await gen.next('ready', 60_000);
  await sleep(SETTLE_MS);
  const before = await brokerMemory(sys);
  gen.send({ type: 'go' });
  const { result } = (await gen.next('done', 300_000)) as { result: LoadResult };
  await sleep(SETTLE_MS);
  const after = await brokerMemory(sys);
  const perChannel = Math.ceil(result.published / config.channels);
  const heapDelta = after.heapBytes - before.heapBytes;
  return {
    workload: 'history-memory',
    round: roundNo,
    history: historySize > 0,
    channels: config.channels,
    published: result.published,
    retained: historySize > 0 ? Math.min(perChannel, historySize) * config.channels : 0,
    rssDeltaMiB: round((after.rssKiB - before.rssKiB) / 1024),
    heapDeltaMiB: Number.isFinite(heapDelta) ? round(heapDelta / 2 ** 20) : null,
    lost: result.lost,
    duplicated: result.duplicated,
  };
}

/** Per 1,000 retained messages: the history run's memory growth minus the control's (history off), KiB. */
export function memoryPerThousand(on: readonly MemoryRecord[], off: readonly MemoryRecord[], median: (xs: number[]) => number): { rssKiB: number; heapKiB: number | null; retained: number } {
  const retained = median(on.map((r) => r.retained));
  const m = (rs: readonly MemoryRecord[], f: (r: MemoryRecord) => number | null): number => median(rs.map(f).filter((x): x is number => x !== null));
  const perK = (delta: number): number => round((delta * 1024) / (retained / 1000));
  const rss = m(on, (r) => r.rssDeltaMiB) - (off.length ? m(off, (r) => r.rssDeltaMiB) : 0);
  const heapOn = m(on, (r) => r.heapDeltaMiB);
  const heapOff = off.length ? m(off, (r) => r.heapDeltaMiB) : 0;
  return { rssKiB: perK(rss), heapKiB: Number.isFinite(heapOn) && Number.isFinite(heapOff) ? perK(heapOn - heapOff) : null, retained };
}
