/**
 * The load generator's side of the `huge` workload (one channel, many subscribers): a generator process
 * holds a slice of the subscribers and, in the first generator, the publisher. Subscriber i (global
 * index) connects to ports[i mod ports.length], so each slice alternates between the two workers.
 * Broadcast b carries {b, t: wallMs() at publish, p: padding}; each (broadcast, subscriber) is counted,
 * so lost, duplicated and out-of-order deliveries are exact, and the slice reports, per broadcast, when
 * its last subscriber got it (lib/clock.ts: comparable across processes).
 */
import { wallMs } from './clock.js';
import type { WireClient } from './wire.js';

export interface HugeSliceResult {
  /** Deliveries expected by this slice (broadcasts published × its subscribers). */
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  /** Per broadcast: how many of this slice's subscribers got it, and when the last did (epoch ms). */
  received: number[];
  lastAt: number[];
  /** Per broadcast, epoch ms it was published (the publishing slice only). */
  sentAt?: number[];
}

export interface HugeGo {
  broadcasts: number;
  /** Broadcasts per second. */
  rate: number;
  /** Approximate JSON size of one message, bytes. */
  size: number;
  /** ms without any delivery, after the last broadcast is due, that ends the run. */
  stallMs: number;
}

/** Check interval for completion and stall, ms. */
const CHECK_INTERVAL_MS = 50;
/** The publisher checks what is due this often, ms. */
const PACE_TICK_MS = 5;
/** JSON of {"b":…,"t":…,"p":""} without padding, about. */
const ENVELOPE_BYTES = 40;

export class HugeSlice {
  private primed = 0;
  private readonly seenPrime: Uint8Array;

  constructor(
    readonly subscribers: readonly WireClient[],
    readonly publisher: WireClient | undefined,
    private readonly onPrimed: () => void,
  ) {
    this.seenPrime = new Uint8Array(subscribers.length);
    subscribers.forEach((client, k) => {
      client.onDelivery = (_channel, data) => {
        if ((data as { prime?: number }).prime !== 1 || this.seenPrime[k] === 1) return;
        this.seenPrime[k] = 1;
        if (++this.primed === subscribers.length) this.onPrimed();
      };
    });
    if (subscribers.length === 0) queueMicrotask(onPrimed);
  }

  /** Publishes one priming marker (the publishing slice). */
  prime(channel: string): void {
    this.publisher?.publish(channel, '{"prime":1}');
  }

  private start: ((channel: string) => Promise<HugeSliceResult>) | undefined;

  /**
   * Switches every subscriber to recording, before any generator is told to go: a broadcast that
   * reached a slice still in priming mode would be dropped as a marker and counted lost.
   */
  arm(go: HugeGo): void {
    const S = this.subscribers.length;
    const B = go.broadcasts;
    const counts = new Uint8Array(B * S);
    const last = new Int32Array(S).fill(-1);
    const received = new Array<number>(B).fill(0);
    const lastAt = new Array<number>(B).fill(NaN);
    let delivered = 0;
    let duplicated = 0;
    let outOfOrder = 0;
    let lastDeliveryAt = wallMs();
    this.subscribers.forEach((client, k) => {
      client.onDelivery = (_channel, raw) => {
        const b = (raw as { b?: number }).b;
        if (b === undefined) return; // a late priming marker
        const now = wallMs();
        lastDeliveryAt = now;
        const slot = b * S + k;
        if (counts[slot]! > 0) {
          duplicated += 1;
          return;
        }
        counts[slot] = 1;
        if (b < last[k]!) outOfOrder += 1;
        last[k] = b;
        delivered += 1;
        received[b] = received[b]! + 1;
        lastAt[b] = now;
      };
    });

    this.start = (channel) => {
      const startedAt = wallMs();
      // Another slice may have started publishing first: deliveries before this go count as progress.
      lastDeliveryAt = Math.max(lastDeliveryAt, startedAt);
      return this.publishAndWait(channel, go, startedAt, () => ({ delivered, lastDeliveryAt }), (sentAt) => {
        // A broadcast the publisher never sent is not this slice's loss: the parent compares against sentAt.
        let lost = 0;
        for (let i = 0; i < counts.length; i++) if (counts[i] === 0) lost += 1;
        return { expected: B * S, delivered, lost, duplicated, outOfOrder, received, lastAt, ...(sentAt && { sentAt }) };
      });
    };
  }

  /** Publishes (if this slice publishes) and waits until every delivery arrived or the run stalled. */
  run(channel: string): Promise<HugeSliceResult> {
    if (this.start === undefined) return Promise.reject(new Error('huge: go before arm'));
    return this.start(channel);
  }

  private publishAndWait(
    channel: string,
    go: HugeGo,
    startedAt: number,
    progress: () => { delivered: number; lastDeliveryAt: number },
    result: (sentAt: number[] | undefined) => HugeSliceResult,
  ): Promise<HugeSliceResult> {
    const S = this.subscribers.length;
    const B = go.broadcasts;
    const publishing = this.publisher !== undefined;
    const sentAt: number[] = [];
    let pacer: NodeJS.Timeout | undefined;
    if (this.publisher !== undefined) {
      const publisher = this.publisher;
      const pad = 'x'.repeat(Math.max(0, go.size - ENVELOPE_BYTES));
      const publishDue = (): void => {
        const due = Math.min(B, Math.floor(((wallMs() - startedAt) / 1000) * go.rate) + 1);
        while (sentAt.length < due) {
          const t = wallMs();
          publisher.publish(channel, `{"b":${sentAt.length},"t":${t},"p":"${pad}"}`);
          sentAt.push(t);
        }
        if (sentAt.length >= B) clearInterval(pacer);
      };
      pacer = setInterval(publishDue, PACE_TICK_MS);
      publishDue();
    }
    // Every broadcast is due by (B - 1) / rate s after the start.
    const lastDueAt = startedAt + ((B - 1) / go.rate) * 1000;
    return new Promise((resolve) => {
      const check = setInterval(() => {
        const now = wallMs();
        const { delivered, lastDeliveryAt } = progress();
        const complete = delivered >= B * S && (!publishing || sentAt.length >= B);
        const stalled = now > lastDueAt && now - Math.max(lastDeliveryAt, lastDueAt) > go.stallMs;
        if (!complete && !stalled) return;
        clearInterval(check);
        clearInterval(pacer);
        resolve(result(publishing ? sentAt : undefined));
      }, CHECK_INTERVAL_MS);
    });
  }
}
