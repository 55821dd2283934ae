/**
 * The relay's subscriptions: which sockets hold which channel. Channel names are whatever string a
 * peer sends, so they key Maps and Sets only (a name such as `constructor` or `__proto__` is an
 * ordinary name here). A channel disappears with its last subscriber.
 */
import { InvalidChannelError } from '@scc-ts/shared';

/** What the table needs of a subscriber: its own set of channels. */
export interface Subscriber {
  readonly channels: Set<string>;
}

/**
 * The refusal of a channel name that is not a string, or of one `policy` refuses; null when it may
 * be used. Any string is a channel, the empty one and long ones included, as for the original broker
 * and socketcluster-server (a frame's size is bounded by the payload limit): the broker must carry
 * every name the front servers accept.
 */
export function channelProblem(channel: unknown, policy?: (channel: string) => Error | null): InvalidChannelError | null {
  if (typeof channel !== 'string') {
    return new InvalidChannelError(`a channel name must be a string, got ${channel === null ? 'null' : Array.isArray(channel) ? 'an array' : typeof channel}`);
  }
  const refusal = policy?.(channel) ?? null;
  if (refusal === null) return null;
  return refusal instanceof InvalidChannelError ? refusal : new InvalidChannelError(refusal.message, { cause: refusal });
}

export class ChannelTable<S extends Subscriber> {
  private readonly bySubscriber = new Map<string, Set<S>>();
  private total = 0;

  /** @param onEmpty called when a channel loses its last subscriber */
  constructor(private readonly onEmpty: (channel: string) => void) {}

  /** Subscriptions held, summed over subscribers. */
  get subscriptionCount(): number {
    return this.total;
  }

  /** Channels with at least one subscriber. */
  get channelCount(): number {
    return this.bySubscriber.size;
  }

  /** The channel's subscribers, or undefined when it has none. */
  subscribers(channel: string): ReadonlySet<S> | undefined {
    return this.bySubscriber.get(channel);
  }

  channels(): string[] {
    return [...this.bySubscriber.keys()];
  }

  /** Adds the subscription; false if it was already held. */
  add(subscriber: S, channel: string): boolean {
    if (subscriber.channels.has(channel)) return false;
    subscriber.channels.add(channel);
    this.total += 1;
    let set = this.bySubscriber.get(channel);
    if (set === undefined) {
      set = new Set();
      this.bySubscriber.set(channel, set);
    }
    set.add(subscriber);
    return true;
  }

  /** Removes the subscription; false if it was not held. */
  remove(subscriber: S, channel: string): boolean {
    if (!subscriber.channels.delete(channel)) return false;
    this.total -= 1;
    const set = this.bySubscriber.get(channel);
    if (set === undefined) return true;
    set.delete(subscriber);
    if (set.size === 0) {
      this.bySubscriber.delete(channel);
      this.onEmpty(channel);
    }
    return true;
  }

  /** Removes every subscription of a subscriber that left. */
  removeAll(subscriber: S): void {
    for (const channel of [...subscriber.channels]) this.remove(subscriber, channel);
  }
}
