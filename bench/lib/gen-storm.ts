/**
 * The load generator's side of the `storm` workload. Storm clients: a generator process opens its share
 * of N clients on a schedule spread evenly over `spreadMs` (client i at startAt + i/N × spreadMs, the
 * same clock in every generator: lib/clock.ts), each connecting, completing the handshake and
 * subscribing to one of `channels` channels; it reports per client the time from its scheduled start
 * to subscribed, and every failure by kind (the socket error's code, a timeout, a close). The flow: a
 * few paced channels between clients connected before the storm, whose loss and latency are reported
 * per phase of the storm (the cluster must keep delivering while it absorbs one).
 */
import { wallMs } from './clock.js';
import { percentile, round } from './stats.js';
import { connectWire, type Protocol, type WireClient } from './wire.js';

export interface StormConnect {
  protocol: Protocol;
  /** Client i connects to ports[i mod ports.length]. */
  ports: number[];
  /** This generator's clients: global indexes first, first + step, … below total. */
  first: number;
  step: number;
  total: number;
  spreadMs: number;
  /** Epoch ms of client 0's start (a little ahead, so every generator starts together). */
  startAt: number;
  channels: number;
}

export interface StormSliceResult {
  attempted: number;
  subscribed: number;
  /** Failures by kind: `ECONNRESET`, `handshake timeout`, `closed after subscribing`, … */
  failures: Record<string, number>;
  /** Per subscribed client: ms from its scheduled start to its subscribe acknowledgement. */
  durationsMs: number[];
  /** Epoch ms the last client of this slice was subscribed (NaN if none). */
  lastSubscribedAt: number;
}

/** Timer tick of the connect schedule, ms. */
const SCHEDULE_TICK_MS = 1;

/** A short, stable name for a failure. */
function kindOf(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (typeof e?.code === 'string') return e.code;
  const message = e instanceof Error ? e.message : String(error);
  if (/handshake has timed out/i.test(message)) return 'connect timeout';
  if (/no acknowledgement for handshake/.test(message)) return 'handshake timeout';
  if (/no acknowledgement for/.test(message)) return 'subscribe timeout';
  if (/timed out/.test(message)) return 'timeout';
  if (/socket closed/.test(message)) return 'closed before subscribed';
  const status = /Unexpected server response: (\d+)/.exec(message);
  if (status) return `HTTP ${status[1]}`;
  if (/server refused/.test(message)) return 'refused';
  return message.slice(0, 60);
}

export class StormClients {
  private clients: WireClient[] = [];
  /** Failures after subscribing (the server closed a socket), counted into the running phase. */
  private lateFailures: Record<string, number> = {};

  /** Opens this slice's clients on schedule; resolves once each has subscribed or failed. */
  async connect(m: StormConnect): Promise<StormSliceResult> {
    const indexes: number[] = [];
    for (let i = m.first; i < m.total; i += m.step) indexes.push(i);
    const failures: Record<string, number> = {};
    const durationsMs: number[] = [];
    let lastSubscribedAt = NaN;
    const attempt = async (i: number, scheduledAt: number): Promise<void> => {
      try {
        const client = await connectWire(m.protocol, m.ports[i % m.ports.length]!);
        this.clients.push(client);
        let subscribed = false;
        client.ws.once('close', () => {
          // Before the acknowledgement the subscribe itself fails (counted below); after it, this counts.
          if (subscribed && !this.closing.has(client)) this.lateFailures['closed after subscribing'] = (this.lateFailures['closed after subscribing'] ?? 0) + 1;
        });
        await client.subscribe(`storm/${i % m.channels}`);
        subscribed = true;
        const now = wallMs();
        durationsMs.push(now - scheduledAt);
        if (!(now <= lastSubscribedAt)) lastSubscribedAt = now;
      } catch (error) {
        const kind = kindOf(error);
        failures[kind] = (failures[kind] ?? 0) + 1;
      }
    };
    const attempts: Array<Promise<void>> = [];
    await new Promise<void>((resolve) => {
      let next = 0;
      const tick = (): void => {
        const now = wallMs();
        while (next < indexes.length) {
          const i = indexes[next]!;
          const scheduledAt = m.startAt + (i / m.total) * m.spreadMs;
          if (scheduledAt > now) break;
          attempts.push(attempt(i, scheduledAt));
          next += 1;
        }
        if (next >= indexes.length) {
          clearInterval(timer);
          resolve();
        }
      };
      const timer = setInterval(tick, SCHEDULE_TICK_MS);
      tick();
    });
    await Promise.all(attempts);
    // Closes since the last phase ended count into this one.
    for (const [kind, n] of Object.entries(this.lateFailures)) failures[kind] = (failures[kind] ?? 0) + n;
    this.lateFailures = {};
    return { attempted: indexes.length, subscribed: durationsMs.length, failures, durationsMs, lastSubscribedAt };
  }

  /** Clients we dropped ourselves (their close is no failure). */
  private readonly closing = new WeakSet<WireClient>();

  /** Drops every client at once (terminate: no closing handshake, as when a network drops). */
  closeAll(): void {
    for (const client of this.clients) {
      this.closing.add(client);
      client.close();
    }
    this.clients = [];
  }
}

export interface FlowStart {
  protocol: Protocol;
  publisherPort: number;
  /** Each flow channel gets one subscriber on each of these ports. */
  subscriberPorts: number[];
  channels: number;
  /** Messages per second over all flow channels. */
  rate: number;
}

/** One phase of the storm, by epoch ms of publish. */
export interface FlowPhase {
  name: string;
  from: number;
  to: number;
}

export interface FlowFigures {
  published: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  latencyMs: { p50: number; p99: number; max: number };
}

/** Bound on priming the flow channels, ms. */
const FLOW_PRIME_TIMEOUT_MS = 20_000;
const FLOW_PRIME_INTERVAL_MS = 100;
/** Paced publishing checks what is due this often, ms. */
const FLOW_TICK_MS = 5;

/** The paced flow between clients connected before the storm: message k on channel k mod C. */
export class Flow {
  private publisher!: WireClient;
  private subscribers: WireClient[] = [];
  private sentAt: number[] = [];
  /** Per (message, subscriber of its channel): epoch ms received, NaN until then; and the count. */
  private receivedAt: number[] = [];
  private counts: number[] = [];
  private outOfOrder = 0;
  private timer: NodeJS.Timeout | undefined;
  private perChannel = 0;

  async start(m: FlowStart): Promise<void> {
    this.perChannel = m.subscriberPorts.length;
    const names = Array.from({ length: m.channels }, (_, c) => `flow/${c}`);
    this.publisher = await connectWire(m.protocol, m.publisherPort);
    // Subscriber j listens to channel ⌊j / perChannel⌋ on port j mod perChannel.
    this.subscribers = await Promise.all(Array.from({ length: m.channels * this.perChannel }, (_, j) => connectWire(m.protocol, m.subscriberPorts[j % this.perChannel]!)));
    await Promise.all(this.subscribers.map((s, j) => s.subscribe(names[Math.floor(j / this.perChannel)]!)));
    const primed = new Set<number>();
    this.subscribers.forEach((s, j) => (s.onDelivery = (_c, data) => void ((data as { prime?: number }).prime === 1 && primed.add(j))));
    const deadline = Date.now() + FLOW_PRIME_TIMEOUT_MS;
    while (primed.size < this.subscribers.length) {
      if (Date.now() > deadline) throw new Error(`flow: ${primed.size}/${this.subscribers.length} subscribers primed within ${FLOW_PRIME_TIMEOUT_MS} ms`);
      for (const name of names) this.publisher.publish(name, '{"prime":1}');
      await new Promise((r) => setTimeout(r, FLOW_PRIME_INTERVAL_MS));
    }
    const last = new Array<number>(this.subscribers.length).fill(-1);
    this.subscribers.forEach((s, j) => {
      const channel = Math.floor(j / this.perChannel);
      const rank = j % this.perChannel;
      s.onDelivery = (_c, raw) => {
        const k = (raw as { k?: number }).k;
        if (k === undefined || k % m.channels !== channel) return;
        const slot = k * this.perChannel + rank;
        this.counts[slot] = (this.counts[slot] ?? 0) + 1;
        if (this.counts[slot] === 1) this.receivedAt[slot] = wallMs();
        if (k < last[j]!) this.outOfOrder += 1;
        last[j] = k;
      };
    });
    const startedAt = wallMs();
    this.timer = setInterval(() => {
      const due = Math.floor(((wallMs() - startedAt) / 1000) * m.rate);
      while (this.sentAt.length < due) {
        const k = this.sentAt.length;
        const t = wallMs();
        this.publisher.publish(names[k % m.channels]!, `{"k":${k},"t":${t}}`);
        this.sentAt.push(t);
      }
    }, FLOW_TICK_MS);
  }

  /** Stops publishing, waits up to `drainMs` for what is still under way, and reports per phase. */
  async stop(phases: readonly FlowPhase[], drainMs: number): Promise<Record<string, FlowFigures>> {
    clearInterval(this.timer);
    const expected = this.sentAt.length * this.perChannel;
    const deadline = Date.now() + drainMs;
    const delivered = (): number => this.counts.reduce((n, c) => n + (c > 0 ? 1 : 0), 0);
    while (delivered() < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const out: Record<string, FlowFigures> = {};
    for (const phase of [...phases, { name: 'whole run', from: -Infinity, to: Infinity }]) {
      const latencies: number[] = [];
      let published = 0;
      let got = 0;
      let duplicated = 0;
      this.sentAt.forEach((t, k) => {
        if (t < phase.from || t >= phase.to) return;
        published += 1;
        for (let r = 0; r < this.perChannel; r++) {
          const slot = k * this.perChannel + r;
          const c = this.counts[slot] ?? 0;
          if (c > 0) {
            got += 1;
            latencies.push(this.receivedAt[slot]! - t);
          }
          if (c > 1) duplicated += c - 1;
        }
      });
      const sorted = Float64Array.from(latencies).sort();
      out[phase.name] = {
        published,
        expected: published * this.perChannel,
        delivered: got,
        lost: published * this.perChannel - got,
        duplicated,
        outOfOrder: phase.from === -Infinity ? this.outOfOrder : NaN,
        latencyMs: { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.length ? sorted[sorted.length - 1]! : NaN) },
      };
    }
    return out;
  }

  close(): void {
    clearInterval(this.timer);
    for (const c of [this.publisher, ...this.subscribers]) c?.close();
  }
}
