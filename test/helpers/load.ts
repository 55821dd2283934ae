/**
 * Steady cross-worker load for delivery tests: publishers on some workers send numbered messages
 * round-robin over channels at a fixed pace with invokePublish; subscribers record every delivery.
 * `check()` counts, per subscriber, what was lost (acked to its publisher, never delivered),
 * duplicated, and out of order (per publisher and channel).
 */
import { connect, type Client } from '../../harness/clients.js';

export interface LoadMessage {
  p: string;
  s: number;
}

export interface DeliveryReport {
  published: number;
  failedPublishes: number;
  expected: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
}

interface Subscriber {
  label: string;
  client: Client;
  seen: Map<string, Map<string, number[]>>;
}

export class SteadyLoad {
  private readonly subscribers: Subscriber[] = [];
  private readonly publishers: Array<{ id: string; client: Client }> = [];
  /** Acked publishes: channel → publisher → seqs. */
  private readonly acked = new Map<string, Map<string, number[]>>();
  private failed = 0;
  /** A few lost messages as `subscriber<-publisher:channel#seq/published`, for diagnosis. */
  readonly lostSamples: string[] = [];
  /** When each lost message was sent (ms since the epoch), filled by `check()`. */
  readonly lostSentAt: number[] = [];
  /** Each lost message (one entry per subscriber that lacks it), filled by `check()`. */
  readonly lostMessages: Array<{ subscriber: string; publisher: string; channel: string; seq: number; sentAt: number }> = [];
  /** Send time of every message by `publisher|channel|seq`. */
  private readonly sentAt = new Map<string, number>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly channels: readonly string[]) {}

  /** Connects a subscriber to `port` and subscribes it to every channel (resolves once all are acked). */
  async addSubscriber(label: string, port: number): Promise<void> {
    const client = await connect(port);
    const sub: Subscriber = { label, client, seen: new Map() };
    this.subscribers.push(sub);
    await Promise.all(
      this.channels.map(async (channel) => {
        const stream = client.subscribe(channel);
        const perPublisher = new Map<string, number[]>();
        sub.seen.set(channel, perPublisher);
        void (async () => {
          for await (const data of stream) {
            const m = data as LoadMessage;
            let seqs = perPublisher.get(m.p);
            if (!seqs) perPublisher.set(m.p, (seqs = []));
            seqs.push(m.s);
          }
        })();
        await stream.listener('subscribe').once(10_000);
      }),
    );
  }

  async addPublisher(id: string, port: number): Promise<void> {
    this.publishers.push({ id, client: await connect(port) });
  }

  /** Publishes `ratePerSecond` messages per second in total until `stop()`. */
  start(ratePerSecond: number): void {
    this.running = true;
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((ratePerSecond * tickMs) / 1000));
    let next = 0;
    const seqs = new Map<string, number>();
    this.loop = (async () => {
      const startedAt = Date.now();
      let ticks = 0;
      while (this.running) {
        for (let i = 0; i < perTick; i++) {
          const pub = this.publishers[next % this.publishers.length]!;
          const channel = this.channels[Math.floor(next / this.publishers.length) % this.channels.length]!;
          next += 1;
          const key = `${pub.id}|${channel}`;
          const s = seqs.get(key) ?? 0;
          seqs.set(key, s + 1);
          this.sentAt.set(`${key}|${s}`, Date.now());
          pub.client.invokePublish(channel, { p: pub.id, s } satisfies LoadMessage).then(
            () => {
              let byPub = this.acked.get(channel);
              if (!byPub) this.acked.set(channel, (byPub = new Map()));
              let list = byPub.get(pub.id);
              if (!list) byPub.set(pub.id, (list = []));
              list.push(s);
            },
            () => {
              this.failed += 1;
            },
          );
        }
        ticks += 1;
        // Paced against the start time so a slow tick does not lower the rate.
        const wait = startedAt + ticks * tickMs - Date.now();
        await new Promise((r) => setTimeout(r, Math.max(0, wait)));
      }
    })();
  }

  /** Stops publishing, then waits until deliveries stop arriving (at most `settleMs` of quiet, bounded by `timeoutMs`). */
  async stop(settleMs = 1000, timeoutMs = 15_000): Promise<void> {
    this.running = false;
    await this.loop;
    const deadline = Date.now() + timeoutMs;
    let last = this.deliveredCount();
    let quietSince = Date.now();
    while (Date.now() < deadline && Date.now() - quietSince < settleMs) {
      await new Promise((r) => setTimeout(r, 50));
      const now = this.deliveredCount();
      if (now !== last) {
        last = now;
        quietSince = Date.now();
      }
    }
  }

  private deliveredCount(): number {
    let n = 0;
    for (const sub of this.subscribers) for (const byPub of sub.seen.values()) for (const seqs of byPub.values()) n += seqs.length;
    return n;
  }

  /** Counts per subscriber label, summed. */
  check(): DeliveryReport {
    let published = 0;
    for (const byPub of this.acked.values()) for (const seqs of byPub.values()) published += seqs.length;
    const report: DeliveryReport = { published, failedPublishes: this.failed, expected: 0, lost: 0, duplicated: 0, outOfOrder: 0 };
    for (const sub of this.subscribers) {
      for (const [channel, byPub] of this.acked) {
        for (const [pub, seqs] of byPub) {
          const got = sub.seen.get(channel)?.get(pub) ?? [];
          const counts = new Map<number, number>();
          for (const s of got) counts.set(s, (counts.get(s) ?? 0) + 1);
          report.expected += seqs.length;
          for (const s of seqs) {
            if (counts.has(s)) continue;
            report.lost += 1;
            const sentAt = this.sentAt.get(`${pub}|${channel}|${s}`) ?? Number.NaN;
            this.lostSentAt.push(sentAt);
            this.lostMessages.push({ subscriber: sub.label, publisher: pub, channel, seq: s, sentAt });
            if (this.lostSamples.length < 20) this.lostSamples.push(`${sub.label}<-${pub}:${channel}#${s}/${seqs.length}`);
          }
          for (const c of counts.values()) if (c > 1) report.duplicated += c - 1;
          let max = -1;
          for (const s of got) {
            if (s < max) report.outOfOrder += 1;
            max = Math.max(max, s);
          }
        }
      }
    }
    return report;
  }

  /** Acknowledged messages on `channels` sent in [from, to] (ms since the epoch): what a loss in that window can at most be, per subscriber. */
  ackedSentBetween(from: number, to: number, channels: ReadonlySet<string>): number {
    let n = 0;
    for (const [channel, byPub] of this.acked) {
      if (!channels.has(channel)) continue;
      for (const [pub, seqs] of byPub) {
        for (const s of seqs) {
          const at = this.sentAt.get(`${pub}|${channel}|${s}`);
          if (at !== undefined && at >= from && at <= to) n += 1;
        }
      }
    }
    return n;
  }

  /** How many subscribers the load has. */
  get subscriberCount(): number {
    return this.subscribers.length;
  }

  close(): void {
    this.running = false;
    for (const { client } of this.publishers) client.disconnect();
    for (const { client } of this.subscribers) client.disconnect();
  }
}
