/**
 * A history subscriber for tests and the benchmark (docs/history.md, "Clients"): a real
 * socketcluster-client subscription with `{data: {sccHistory: …}}` that records the recovery notice,
 * every envelope and anything else the channel delivers, and how the subscription ended (kicked out,
 * refused). `check()` says whether the envelopes are one run of consecutive offsets, each once.
 */
import type { MessageEnvelope, Position, RecoveryNotice } from '@scc-ts/shared';
import type { Client } from './clients.js';
import { Waiters } from './waiters.js';

/** What a subscriber asks for: positions from now (`true`) or recovery after `since` (any value: hostile ones too). */
export type HistoryRequest = true | { since: unknown };

function isNotice(value: unknown): value is RecoveryNotice {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'recovery';
}

function isEnvelope(value: unknown): value is MessageEnvelope {
  const v = value as Partial<MessageEnvelope> | null;
  return typeof v === 'object' && v !== null && v.type === 'message' && typeof v.epoch === 'string' && typeof v.offset === 'number';
}

export class HistoryReader {
  readonly notices: RecoveryNotice[] = [];
  readonly envelopes: MessageEnvelope[] = [];
  /** Deliveries that are neither a notice nor an envelope (plain data), in arrival order. */
  readonly other: unknown[] = [];
  /** Every delivery in arrival order. */
  readonly all: unknown[] = [];
  /** The message of each `#kickOut` on this channel. */
  readonly kickOuts: string[] = [];
  /** The subscribe refusal, if any. */
  subscribeError: Error | undefined;
  /** When each envelope arrived (performance-free: Date.now()), parallel to `envelopes`. */
  readonly arrivedAt: number[] = [];
  private readonly waiters = new Waiters();

  private constructor(readonly client: Client, readonly channel: string) {}

  /** Subscribes and records; resolves at once (await `subscribed()` or a notice with `until`). */
  static open(client: Client, channel: string, request: HistoryRequest = true): HistoryReader {
    const reader = new HistoryReader(client, channel);
    const stream = client.subscribe(channel, { data: { sccHistory: request } });
    void (async () => {
      for await (const data of stream) reader.record(data);
    })();
    void (async () => {
      for await (const { message } of stream.listener('kickOut')) {
        reader.kickOuts.push(String(message));
        reader.waiters.notify();
      }
    })();
    void (async () => {
      for await (const { error } of stream.listener('subscribeFail')) {
        reader.subscribeError = error as Error;
        reader.waiters.notify();
      }
    })();
    return reader;
  }

  private record(data: unknown): void {
    this.all.push(data);
    if (isNotice(data)) this.notices.push(data);
    else if (isEnvelope(data)) {
      this.envelopes.push(data);
      this.arrivedAt.push(Date.now());
    } else this.other.push(data);
    this.waiters.notify();
  }

  /** The first notice, once it came. */
  get notice(): RecoveryNotice | undefined {
    return this.notices[0];
  }

  /** The position of the last envelope received (what a client would recover from). */
  get position(): Position | null {
    const last = this.envelopes.at(-1);
    return last ? { epoch: last.epoch, offset: last.offset } : null;
  }

  /** The data of every envelope, in arrival order. */
  data<T = unknown>(): T[] {
    return this.envelopes.map((e) => e.data as T);
  }

  /** Waits until `predicate()` holds, re-checked on every delivery and kick-out of THIS reader (wait on each reader apart); throws after `timeoutMs`. */
  async until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (!(await this.waiters.until(predicate, timeoutMs))) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${this.channel} (${this.notices.length} notice(s), ${this.envelopes.length} envelope(s), ${this.other.length} other, kick-outs [${this.kickOuts.join('; ')}])`);
    }
  }

  /**
   * Problems with the stream so far: more than one notice, anything before the notice, envelopes of
   * several epochs, offsets that do not run notice.offset + 1, +2, … (a gap or a duplicate). Empty: fine.
   */
  check(): string[] {
    const problems: string[] = [];
    const notice = this.notice;
    if (!notice) return ['no recovery notice'];
    if (this.notices.length > 1) problems.push(`${this.notices.length} notices`);
    if (this.all[0] !== notice) problems.push('something arrived before the notice');
    if (this.other.length > 0) problems.push(`${this.other.length} deliveries that are not envelopes, e.g. ${JSON.stringify(this.other[0])}`);
    let expected = notice.offset + 1;
    for (const e of this.envelopes) {
      if (notice.epoch !== null && e.epoch !== notice.epoch) {
        problems.push(`envelope of epoch ${e.epoch} after a notice of ${notice.epoch}`);
        break;
      }
      if (e.offset !== expected) {
        problems.push(`offset ${e.offset} where ${expected} was due (${e.offset < expected ? 'duplicate or reorder' : 'gap'})`);
        break;
      }
      expected += 1;
    }
    return problems;
  }
}
