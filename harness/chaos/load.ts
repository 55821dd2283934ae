/**
 * The chaos suite's load generator, run as its own process (forked with an IPC channel by
 * load-client.ts) so its event loop is not the orchestrator's: one publisher and one subscriber
 * socket (real socketcluster-client) on each worker. Every subscriber subscribes every channel;
 * publishers send `{p, s, t}` (publisher id, sequence number from 1, send time) round-robin over the
 * channels at a paced rate with `invokePublish`, and a message counts as published only once the
 * worker acks it. Records every delivery, connection and subscription with its time, and on `stop`
 * writes the log (checker.ts's ChaosLog) to a file.
 *
 * IPC: parent → child {id, cmd: 'init' | 'start' | 'status' | 'stop', ...}; child → parent {id, ok, ...}.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import socketClusterClient from 'socketcluster-client';
import { chaosChannel, type ChaosLog, type Interval, type PublisherLog, type SubscriberLog } from './checker.js';

type Client = ReturnType<typeof socketClusterClient.create>;

/** What the parent sends with `init`. */
export interface LoadInit {
  /** Worker ports; worker i gets publisher and subscriber `ids[i]`. */
  ports: number[];
  /** Worker addresses, by index (the network test bed's hosts); default 127.0.0.1 for every worker. */
  hosts?: string[];
  /** Indexes of the workers that get a publisher; default every worker. */
  publishOn?: number[];
  ids: string[];
  channels: number;
  /** Offered messages per second, all publishers together. */
  rate: number;
  /** Bound on setup (connect, subscribe, prime), ms. */
  setupTimeoutMs: number;
  /** How long to keep recording after the drain wait, to spot messages held up rather than lost, ms. */
  lateMs: number;
}

export interface LoadStatus {
  publishers: { id: string; open: boolean }[];
  subscribers: { id: string; open: boolean; subscribed: number }[];
  sent: number;
  acked: number;
  delivered: number;
}

/** Messages on the wire. */
interface Payload {
  p: string;
  s: number;
  t: number;
  probe?: number;
}

/** Pacer tick, ms: small enough that a tick's burst stays small at 5,000 msg/s. */
const TICK_MS = 5;
/** The pacer never catches up more than this much backlog at once; the rest is skipped, ms. */
const MAX_BACKLOG_MS = 500;
/** Drain: publishing stopped, wait until no delivery for this long... */
const QUIET_MS = 1000;
/** ...but no longer than this, ms. */
const MAX_DRAIN_MS = 15_000;
/** socketcluster-client's reconnect schedule: fast enough for a restart scenario, with jitter. */
const RECONNECT = { initialDelay: 500, randomness: 500, multiplier: 1.5, maxDelay: 3000 } as const;

/** Epoch milliseconds with sub-millisecond resolution, so events in one process order strictly. */
const now = (): number => performance.timeOrigin + performance.now();
const channelName = chaosChannel;

class Subscriber {
  readonly log: SubscriberLog;
  private readonly open = new Set<number>();

  constructor(
    readonly client: Client,
    id: string,
    channels: number,
    private readonly publisherIndex: Map<string, number>,
    private readonly onDelivery: () => void,
    private readonly onProbe: (subscriber: string, channel: number, publisher: string) => void,
  ) {
    this.log = {
      id,
      connected: [],
      subscribed: Array.from({ length: channels }, () => []),
      delivery: { channel: [], publisher: [], seq: [], at: [] },
    };
    this.track();
    for (let c = 0; c < channels; c++) void this.consume(c);
  }

  get subscribedCount(): number {
    return this.open.size;
  }

  private track(): void {
    const { client, log } = this;
    const opened = (): void => {
      log.connected.push({ start: now(), end: null });
    };
    if (client.state === client.OPEN) opened();
    void (async () => {
      for await (const _ of client.listener('connect')) opened();
    })();
    void (async () => {
      for await (const _ of client.listener('close')) {
        const last = log.connected.at(-1);
        if (last && last.end === null) last.end = now();
      }
    })();
    void (async () => {
      for await (const { channel } of client.listener('subscribe')) {
        const c = Number(channel.slice(channel.indexOf('/') + 1));
        log.subscribed[c]?.push({ start: now(), end: null });
        this.open.add(c);
      }
    })();
    void (async () => {
      for await (const { channel } of client.listener('unsubscribe')) {
        const c = Number(channel.slice(channel.indexOf('/') + 1));
        const last: Interval | undefined = log.subscribed[c]?.at(-1);
        if (last && last.end === null) last.end = now();
        this.open.delete(c);
      }
    })();
  }

  private async consume(c: number): Promise<void> {
    const d = this.log.delivery;
    for await (const data of this.client.subscribe(channelName(c))) {
      const at = now();
      const m = data as Payload;
      if (m.probe !== undefined) {
        this.onProbe(this.log.id, c, m.p);
        continue;
      }
      d.channel.push(c);
      d.publisher.push(this.publisherIndex.get(m.p) ?? -1);
      d.seq.push(m.s);
      d.at.push(at);
      this.onDelivery();
    }
  }
}

class Publisher {
  readonly log: PublisherLog;
  pending = 0;
  acked = 0;
  private next = 0;

  constructor(
    readonly client: Client,
    id: string,
    private readonly channels: number,
    offset: number,
  ) {
    this.log = { id, channel: [], sentAt: [], ackedAt: [] };
    this.next = offset;
  }

  get open(): boolean {
    return this.client.state === this.client.OPEN;
  }

  send(): void {
    const i = this.log.sentAt.length;
    const c = this.next % this.channels;
    this.next += 1;
    const t = now();
    this.log.channel.push(c);
    this.log.sentAt.push(t);
    this.log.ackedAt.push(-1);
    this.pending += 1;
    const payload: Payload = { p: this.log.id, s: i + 1, t };
    this.client.invokePublish(channelName(c), payload).then(
      () => {
        this.log.ackedAt[i] = now();
        this.acked += 1;
        this.pending -= 1;
      },
      () => {
        this.pending -= 1;
      },
    );
  }
}

class LoadGenerator {
  private readonly publishers: Publisher[] = [];
  private readonly subscribers: Subscriber[] = [];
  private readonly heard = new Set<string>();
  private lastDeliveryAt = 0;
  private delivered = 0;
  private skipped = 0;
  private timer: NodeJS.Timeout | undefined;
  private loadStartedAt = 0;
  private loadStoppedAt = 0;

  constructor(private readonly init: LoadInit) {}

  async setup(): Promise<void> {
    const { ports, ids, channels } = this.init;
    // A delivery names its publisher by its position in the log's publisher list (the checker's index).
    const publishing = ids.filter((_, w) => this.init.publishOn?.includes(w) ?? true);
    const index = new Map(publishing.map((id, i) => [id, i]));
    const connect = async (w: number): Promise<Client> => {
      const client = socketClusterClient.create({ hostname: this.init.hosts?.[w] ?? '127.0.0.1', port: ports[w]!, autoReconnectOptions: { ...RECONNECT } });
      await client.listener('connect').once(this.init.setupTimeoutMs);
      return client;
    };
    for (let w = 0; w < ports.length; w++) {
      const sub = new Subscriber(
        await connect(w),
        ids[w]!,
        channels,
        index,
        () => {
          this.delivered += 1;
          this.lastDeliveryAt = now();
        },
        (s, c, p) => this.heard.add(`${s}|${c}|${p}`),
      );
      this.subscribers.push(sub);
      if (this.init.publishOn !== undefined && !this.init.publishOn.includes(w)) continue;
      // Publishers start on different channels so both do not hit the same channel at the same instant.
      this.publishers.push(new Publisher(await connect(w), ids[w]!, channels, Math.floor((w * channels) / ports.length)));
    }
    await this.prime();
  }

  /**
   * Until every subscriber has heard a probe from every publisher on every channel: a subscribe ack
   * from the worker does not mean the cluster-wide subscription is in place, and the measured run
   * must start from a fully subscribed cluster.
   */
  private async prime(): Promise<void> {
    const deadline = Date.now() + this.init.setupTimeoutMs;
    const { channels } = this.init;
    for (let round = 1; ; round++) {
      const missing: [Publisher, number][] = [];
      for (const pub of this.publishers) {
        for (let c = 0; c < channels; c++) {
          if (this.subscribers.some((s) => !this.heard.has(`${s.log.id}|${c}|${pub.log.id}`))) missing.push([pub, c]);
        }
      }
      if (missing.length === 0) return;
      if (Date.now() > deadline) throw new Error(`not primed within ${this.init.setupTimeoutMs} ms: ${missing.length} publisher/channel pairs unheard`);
      await Promise.allSettled(missing.map(([pub, c]) => pub.client.invokePublish(channelName(c), { p: pub.log.id, s: 0, t: now(), probe: round })));
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  start(): void {
    const perPublisher = this.init.rate / this.publishers.length;
    const started = now();
    this.loadStartedAt = started;
    let due = 0;
    this.timer = setInterval(() => {
      const target = Math.floor(((now() - started) / 1000) * perPublisher);
      let n = target - due;
      const cap = Math.ceil((perPublisher * MAX_BACKLOG_MS) / 1000);
      if (n > cap) {
        this.skipped += (n - cap) * this.publishers.length;
        n = cap;
      }
      due = target;
      for (let k = 0; k < n; k++) {
        for (const pub of this.publishers) {
          if (pub.open) pub.send();
          else this.skipped += 1;
        }
      }
    }, TICK_MS);
  }

  status(): LoadStatus {
    return {
      publishers: this.publishers.map((p) => ({ id: p.log.id, open: p.open })),
      subscribers: this.subscribers.map((s) => ({ id: s.log.id, open: s.client.state === s.client.OPEN, subscribed: s.subscribedCount })),
      sent: this.publishers.reduce((n, p) => n + p.log.sentAt.length, 0),
      acked: this.publishers.reduce((n, p) => n + p.acked, 0),
      delivered: this.delivered,
    };
  }

  /** Stops publishing, waits for outstanding acks and for deliveries to go quiet (bounded), writes the log. */
  async stop(path: string): Promise<void> {
    clearInterval(this.timer);
    this.loadStoppedAt = now();
    const deadline = Date.now() + MAX_DRAIN_MS;
    while (Date.now() < deadline) {
      const quiet = now() - Math.max(this.lastDeliveryAt, this.loadStoppedAt) >= QUIET_MS;
      if (quiet && this.publishers.every((p) => p.pending === 0)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const endAt = now();
    // Deliveries keep being recorded; the checker counts those after endAt as late, not received.
    if (this.init.lateMs > 0) await new Promise((r) => setTimeout(r, this.init.lateMs));
    const log: ChaosLog = {
      channels: this.init.channels,
      publishers: this.publishers.map((p) => p.log),
      subscribers: this.subscribers.map((s) => s.log),
      loadStartedAt: this.loadStartedAt,
      loadStoppedAt: this.loadStoppedAt,
      endAt,
      skipped: this.skipped,
    };
    writeFileSync(path, JSON.stringify(log));
  }

  close(): void {
    clearInterval(this.timer);
    for (const c of [...this.publishers.map((p) => p.client), ...this.subscribers.map((s) => s.client)]) {
      c.disconnect();
      c.closeAllListeners();
      c.closeAllChannels();
    }
  }
}

interface Request {
  id: number;
  cmd: 'init' | 'start' | 'status' | 'stop' | 'close';
  init?: LoadInit;
  path?: string;
}

let generator: LoadGenerator | undefined;

process.on('message', (raw) => {
  const req = raw as Request;
  const reply = (body: Record<string, unknown>): void => void process.send?.({ id: req.id, ...body });
  void (async () => {
    try {
      switch (req.cmd) {
        case 'init':
          generator = new LoadGenerator(req.init!);
          await generator.setup();
          return reply({ ok: true });
        case 'start':
          generator!.start();
          return reply({ ok: true });
        case 'status':
          return reply({ ok: true, status: generator!.status() });
        case 'stop':
          await generator!.stop(req.path!);
          return reply({ ok: true });
        case 'close':
          generator?.close();
          reply({ ok: true });
          process.disconnect?.();
          return;
      }
    } catch (error) {
      reply({ ok: false, error: (error as Error).message });
    }
  })();
});
// The parent died: nothing left to report to.
process.on('disconnect', () => {
  generator?.close();
  process.exit(0);
});
