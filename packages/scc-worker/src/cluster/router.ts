/**
 * Which broker carries which channel. Holds the broker pools, the set of channels this worker needs
 * upstream (those with local subscribers), and the mapper. On a new broker list it reshards: every
 * needed channel is subscribed on its new owner before it is unsubscribed from its old one, and
 * publishes go to the new owner from then on.
 */
import { NoMatchingBrokerError, type Mapper } from '@scc-ts/shared';
import type { BrokerPool } from './broker-pool.js';

/** What a reshard did, for logs and metrics. */
export interface ReshardSummary {
  brokers: number;
  channels: number;
  moved: number;
  added: string[];
  removed: string[];
}

export interface RouterOptions {
  mapper: Mapper;
  createPool: (uri: string) => BrokerPool;
}

export class Router {
  private readonly pools = new Map<string, BrokerPool>();
  private readonly channels = new Set<string>();
  private readonly options: RouterOptions;
  private hasBrokers = false;

  constructor(options: RouterOptions) {
    this.options = options;
  }

  /** Broker URIs currently in use. */
  brokerURIs(): string[] {
    return [...this.pools.keys()];
  }

  /** Whether every broker pool is connected (false while there is no broker). */
  get connected(): boolean {
    return this.pools.size > 0 && [...this.pools.values()].every((p) => p.connected);
  }

  /** The broker URI that owns `channel` under the current list, or null. */
  ownerOf(channel: string): string | null {
    return this.hasBrokers ? this.options.mapper.findSite(channel) : null;
  }

  /** Applies a broker list: opens and closes pools and moves channels whose owner changed. */
  setBrokers(uris: readonly string[]): ReshardSummary {
    const { mapper, createPool } = this.options;
    const before = new Map<string, string | null>();
    for (const channel of this.channels) before.set(channel, this.ownerOf(channel));

    mapper.setSites([...uris]);
    this.hasBrokers = uris.length > 0;
    const wanted = new Set(uris);
    const added: string[] = [];
    for (const uri of wanted) {
      if (!this.pools.has(uri)) {
        this.pools.set(uri, createPool(uri));
        added.push(uri);
      }
    }

    // Make before break: first subscribe every channel on its owner...
    // (owners are hashed once here; the release pass below reuses them)
    const owners = new Map<string, string | null>();
    let moved = 0;
    for (const channel of this.channels) {
      const owner = this.ownerOf(channel);
      owners.set(channel, owner);
      if (owner === null) continue;
      this.pools.get(owner)?.subscribe(channel);
      if (before.get(channel) !== owner) moved += 1;
    }
    // ...then let go of every subscription held on a broker that no longer owns the channel
    // (a channel no longer needed upstream has no entry, so it is released too).
    for (const [uri, pool] of this.pools) {
      if (!wanted.has(uri)) continue;
      for (const channel of pool.subscriptions()) {
        if (owners.get(channel) !== uri) pool.unsubscribe(channel);
      }
    }
    const removed: string[] = [];
    for (const [uri, pool] of this.pools) {
      if (wanted.has(uri)) continue;
      pool.close();
      this.pools.delete(uri);
      removed.push(uri);
    }
    return { brokers: wanted.size, channels: this.channels.size, moved, added, removed };
  }

  /** A local subscriber appeared: carry the channel upstream. */
  subscribe(channel: string): void {
    this.channels.add(channel);
    const owner = this.ownerOf(channel);
    if (owner !== null) this.pools.get(owner)?.subscribe(channel);
  }

  /** The last local subscriber left: drop the channel upstream. */
  unsubscribe(channel: string): void {
    this.channels.delete(channel);
    for (const pool of this.pools.values()) {
      if (pool.isSubscribed(channel)) pool.unsubscribe(channel);
    }
  }

  /** Publishes a packet to the channel's owner; rejects with NoMatchingBrokerError when there is none. */
  publish(channel: string, packet: unknown): Promise<void> {
    const owner = this.ownerOf(channel);
    const pool = owner === null ? undefined : this.pools.get(owner);
    if (!pool) {
      return Promise.reject(new NoMatchingBrokerError(`no broker for channel ${JSON.stringify(channel.slice(0, 100))}: the cluster has no brokers`));
    }
    return pool.publish(channel, packet);
  }

  /** Channels this worker carries upstream. */
  get channelCount(): number {
    return this.channels.size;
  }

  /** Closes every pool. */
  close(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }
}
