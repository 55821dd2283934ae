/**
 * Which broker carries which channel, and how a channel moves between brokers without loss.
 *
 * The router keeps up to three broker lists:
 * - `active`: where this worker publishes;
 * - `pending`: the newest list from the state server, not yet published to. On arrival every
 *   needed channel is subscribed on its owner under it, while the old subscriptions stay;
 * - `draining`: the list that was active before the last switch, whose subscriptions stay for
 *   `graceMs` so packets still in flight through the old owner arrive.
 *
 * The handover of a moved channel, on every worker alike: (1) subscribe on the new owner N and keep
 * the old owner O; (2) after `delayMs` — longer than the spread of the state server's push across
 * workers plus a subscribe round trip — publish to N; (3) after `graceMs` more, let go of O. Every
 * subscriber hears both O and N throughout the window in which anyone publishes to either, and
 * each packet goes to exactly one broker, so nothing is lost and nothing is doubled. Order across
 * the switch is restored by the receiver's sequencer.
 *
 * A broker that drops its connection (a crash) is routed around at once: channels it owned are
 * subscribed and published on their owner under the list without it, which is the list the state
 * server will push once it notices, so that push then moves nothing.
 *
 * A custom mapper object cannot be copied, so with one the router switches in one step, as the
 * original does.
 */
import { BrokerUnavailableError, NoMatchingBrokerError, createMapper, type Mapper, type MappingEngineName } from '@scc-ts/shared';
import type { BrokerPool } from './broker-pool.js';

/** What a reshard did, for logs and metrics. */
export interface ReshardSummary {
  brokers: number;
  channels: number;
  moved: number;
  added: string[];
  removed: string[];
  /** Milliseconds until publishing switches to the new list (0: at once). */
  handoverMs: number;
}

/** Acknowledged handover: the state server's round for a list, by its `time`. */
export interface Coordination {
  time: number;
}

export interface RouterOptions {
  mappingEngine: MappingEngineName | Mapper;
  /** Acknowledged handover: this worker finished a phase of the list with `time`. */
  onPhase?: (time: number, phase: 'subscribed' | 'switched') => void;
  /** Acknowledged handover: longest wait for the state server's next signal before going ahead alone, ms. */
  coordinatedTimeoutMs?: number;
  createPool: (uri: string) => BrokerPool;
  /** Wait between subscribing on the new owners and publishing to them, ms. */
  delayMs: number;
  /** Wait between publishing to the new owners and leaving the old ones, ms. */
  graceMs: number;
  /** Called when a broker's connection drops (before its channels are routed around it). */
  onBrokerDown?: (uri: string) => void;
  /** Called when publishing switches to a new list. */
  onSwitch?: (brokers: readonly string[]) => void;
}

/** Default longest wait for a state server's handover signal before a worker goes ahead alone, ms. */
const DEFAULT_COORDINATED_TIMEOUT_MS = 45_000;

/** One broker list and its mapping. */
class BrokerList {
  readonly uris: ReadonlySet<string>;
  readonly mapper: Mapper;
  constructor(uris: readonly string[], mapper: Mapper) {
    this.uris = new Set(uris);
    this.mapper = mapper;
    mapper.setSites([...uris]);
  }
  /**
   * Owners already computed: a rendezvous lookup costs several MD5 digests and the publish path asks
   * for every packet. A list never changes after construction, so entries never go stale.
   */
  private readonly owners = new Map<string, string | null>();
  ownerOf(channel: string): string | null {
    if (this.uris.size === 0) return null;
    let owner = this.owners.get(channel);
    if (owner === undefined) {
      owner = this.mapper.findSite(channel);
      // Bounded: a worker that sees millions of distinct channels recomputes instead of growing.
      if (this.owners.size >= MAX_CACHED_OWNERS) this.owners.clear();
      this.owners.set(channel, owner);
    }
    return owner;
  }
}

/** Most channel owners cached per broker list. */
const MAX_CACHED_OWNERS = 100_000;

export class Router {
  private readonly pools = new Map<string, BrokerPool>();
  private readonly channels = new Set<string>();
  private readonly options: RouterOptions;
  private readonly copyable: boolean;
  private active: BrokerList | null = null;
  private pending: BrokerList | null = null;
  private draining: BrokerList | null = null;
  /** `active` without the brokers that are down; null when none is down. */
  private fallback: BrokerList | null = null;
  /** Brokers whose pool lost its connection, with the time it did (ms since the epoch). */
  private readonly down = new Map<string, number>();
  private switchTimer: NodeJS.Timeout | undefined;
  private releaseTimer: NodeJS.Timeout | undefined;
  private readonly upTimers = new Map<string, NodeJS.Timeout>();
  private closed = false;
  /** The acknowledged handover in progress, if the state server coordinates it. */
  private round: Coordination | null = null;

  constructor(options: RouterOptions) {
    this.options = options;
    this.copyable = typeof options.mappingEngine === 'string';
  }

  private newList(uris: readonly string[]): BrokerList {
    return new BrokerList(uris, createMapper(this.options.mappingEngine));
  }

  /** Broker URIs in use (any list). */
  brokerURIs(): string[] {
    return [...this.pools.keys()];
  }

  /** Whether every broker pool of the newest list is connected (false while there is none). */
  get connected(): boolean {
    const newest = this.pending ?? this.active;
    if (!newest || newest.uris.size === 0) return false;
    return [...newest.uris].every((uri) => this.pools.get(uri)?.connected ?? false);
  }

  /** Whether a handover is under way (a list is pending or draining). */
  get handingOver(): boolean {
    return this.pending !== null || this.draining !== null;
  }

  /** The broker URI that owns `channel` under the newest list, or null. */
  ownerOf(channel: string): string | null {
    return (this.pending ?? this.active)?.ownerOf(channel) ?? null;
  }

  /**
   * Where a packet on `channel` goes now: the active owner, or around it while it is down. With
   * `strict` (at-least-once), a stand-in is used only once the broker has been down for a handover
   * delay, when every worker has noticed too and subscribed there; before that the result says to wait.
   */
  publishTarget(channel: string, strict = false): { uri: string | null; wait: boolean } {
    const owner = this.active?.ownerOf(channel) ?? null;
    const downSince = owner === null ? undefined : this.down.get(owner);
    if (downSince === undefined) return { uri: owner, wait: false };
    const next = this.pending?.ownerOf(channel) ?? null;
    const instead = next !== null && !this.down.has(next) ? next : (this.fallback?.ownerOf(channel) ?? null);
    if (instead === null) return { uri: owner, wait: false };
    return { uri: instead, wait: strict && Date.now() - downSince < this.options.delayMs };
  }

  /** Every broker `channel` must be subscribed on right now. */
  private targets(channel: string): Set<string> {
    const targets = new Set<string>();
    for (const list of [this.active, this.pending, this.draining]) {
      const owner = list?.ownerOf(channel);
      if (owner) targets.add(owner);
    }
    const owner = this.active?.ownerOf(channel);
    if (owner && this.down.has(owner)) {
      const instead = this.fallback?.ownerOf(channel);
      if (instead) targets.add(instead);
    }
    return targets;
  }

  private pool(uri: string): BrokerPool {
    let pool = this.pools.get(uri);
    if (!pool) {
      pool = this.options.createPool(uri);
      this.pools.set(uri, pool);
    }
    return pool;
  }

  /** Subscribes `channel` on every target; resolves when each has acknowledged. */
  private subscribeTargets(channel: string): Promise<unknown> {
    const acks: Promise<void>[] = [];
    for (const uri of this.targets(channel)) acks.push(this.pool(uri).subscribe(channel));
    return acks.length === 1 ? (acks[0] as Promise<void>) : Promise.all(acks);
  }

  /**
   * Applies a broker list from the state server: starts a handover (or switches at once). With
   * `coordination` the switch and the release wait for the state server's signals (`signal()`),
   * and this worker reports each phase through `onPhase`; without, they follow the timers.
   */
  setBrokers(uris: readonly string[], coordination?: Coordination): ReshardSummary {
    const before = this.pending ?? this.active;
    // Owners before the change, read before `next` exists: a custom mapper is one shared object.
    const ownersBefore = new Map<string, string | null>();
    if (before) for (const channel of this.channels) ownersBefore.set(channel, before.ownerOf(channel));
    const next = this.newList(uris);
    const added = uris.filter((uri) => !this.pools.has(uri));
    const removed = before ? [...before.uris].filter((uri) => !next.uris.has(uri)) : [];
    let moved = 0;
    if (before) for (const [channel, owner] of ownersBefore) if (owner !== next.ownerOf(channel)) moved += 1;

    clearTimeout(this.switchTimer);
    this.switchTimer = undefined;
    // Nothing to hand over from (first list, or no broker before), nothing published anywhere that
    // could be missed, or a mapper we cannot keep two copies of: switch at once.
    const immediate = !this.active || this.active.uris.size === 0 || !this.copyable || this.options.delayMs === 0;
    this.pending = next;
    this.round = coordination ?? null;
    for (const uri of uris) this.pool(uri);
    // 'subscribed' means subscribed on every owner under the new list (a dead old owner never answers).
    const acks: Array<Promise<unknown>> = [];
    for (const channel of this.channels) {
      void this.subscribeTargets(channel);
      const owner = next.ownerOf(channel);
      if (owner) acks.push(this.pool(owner).subscribe(channel));
    }
    let handoverMs = 0;
    if (immediate) this.switchNow();
    else {
      handoverMs = coordination ? this.coordinatedTimeoutMs : this.options.delayMs;
      this.switchTimer = setTimeout(() => this.switchNow(), handoverMs);
    }
    if (coordination) {
      void Promise.all(acks).then(() => {
        if (this.round === coordination && !this.closed) this.options.onPhase?.(coordination.time, 'subscribed');
      });
    }
    return { brokers: next.uris.size, channels: this.channels.size, moved, added, removed, handoverMs };
  }

  private get coordinatedTimeoutMs(): number {
    return this.options.coordinatedTimeoutMs ?? DEFAULT_COORDINATED_TIMEOUT_MS;
  }

  /**
   * Acknowledged handover: the state server says every worker hears the new owners (`switch`) or
   * nobody publishes to the old ones any more (`release`). Signals for another list are ignored.
   */
  signal(kind: 'switch' | 'release', time: number): void {
    const round = this.round;
    if (!round || round.time !== time || this.closed) return;
    if (kind === 'switch') {
      clearTimeout(this.switchTimer);
      if (this.pending) this.switchNow();
      // Report 'switched' once every broker has processed everything we sent it before the switch:
      // a barrier on every connection, behind the packets already sent on it.
      void Promise.all([...this.pools.values()].map((pool) => pool.barrier())).then(() => {
        if (this.round === round && !this.closed) this.options.onPhase?.(time, 'switched');
      });
      return;
    }
    this.round = null;
    clearTimeout(this.releaseTimer);
    this.releaseNow();
  }

  /** Step 2: publish to the pending list; step 3 (release) follows after the grace period. */
  private switchNow(): void {
    this.switchTimer = undefined;
    if (!this.pending || this.closed) return;
    // A list still draining from an earlier switch is dropped now: the new one supersedes it.
    if (this.active && this.active !== this.pending) this.draining = this.active;
    this.active = this.pending;
    this.pending = null;
    this.refreshFallback();
    this.options.onSwitch?.([...this.active.uris]);
    clearTimeout(this.releaseTimer);
    // Coordinated: the release signal normally comes first; the timer only covers a silent state server.
    const graceMs = this.round ? this.coordinatedTimeoutMs : this.options.graceMs;
    this.releaseTimer = setTimeout(() => this.releaseNow(), graceMs);
  }

  /** Step 3: leave every subscription no list needs any more and close pools nobody uses. */
  private releaseNow(): void {
    this.releaseTimer = undefined;
    if (this.closed) return;
    this.draining = null;
    this.releaseUnneeded();
  }

  private releaseUnneeded(): void {
    const inUse = new Set<string>();
    for (const list of [this.active, this.pending, this.draining]) for (const uri of list?.uris ?? []) inUse.add(uri);
    for (const [uri, pool] of this.pools) {
      if (!inUse.has(uri)) {
        pool.close();
        this.pools.delete(uri);
        this.down.delete(uri);
        clearTimeout(this.upTimers.get(uri));
        this.upTimers.delete(uri);
        continue;
      }
      for (const channel of pool.subscriptions()) {
        if (!this.channels.has(channel) || !this.targets(channel).has(uri)) pool.unsubscribe(channel);
      }
    }
  }

  private refreshFallback(): void {
    const active = this.active;
    const down = active ? [...active.uris].filter((uri) => this.down.has(uri)) : [];
    if (!active || down.length === 0 || !this.copyable) {
      this.fallback = null;
      return;
    }
    this.fallback = this.newList([...active.uris].filter((uri) => !this.down.has(uri)));
  }

  /**
   * A broker pool lost or regained its connection. Down: route around it at once. Up again: wait a
   * handover delay (other workers reconnect at other moments) before publishing to it again.
   */
  setBrokerStatus(uri: string, up: boolean): void {
    if (this.closed) return;
    clearTimeout(this.upTimers.get(uri));
    this.upTimers.delete(uri);
    if (!up) {
      if (this.down.has(uri)) return;
      this.down.set(uri, Date.now());
      this.options.onBrokerDown?.(uri);
      this.refreshFallback();
      for (const channel of this.channels) {
        if (this.active?.ownerOf(channel) === uri) void this.subscribeTargets(channel);
      }
      return;
    }
    if (!this.down.has(uri)) return;
    const timer = setTimeout(() => {
      this.upTimers.delete(uri);
      this.down.delete(uri);
      this.refreshFallback();
      // The fallback subscriptions stay one grace period for packets already sent there.
      clearTimeout(this.releaseTimer);
      this.releaseTimer = setTimeout(() => this.releaseNow(), this.options.graceMs);
    }, this.options.delayMs);
    this.upTimers.set(uri, timer);
  }

  /** A local subscriber appeared: carry the channel upstream. Resolves once the brokers acknowledged. */
  subscribe(channel: string): Promise<unknown> {
    this.channels.add(channel);
    return this.subscribeTargets(channel);
  }

  /** Whether the channel is carried upstream. */
  has(channel: string): boolean {
    return this.channels.has(channel);
  }

  /** The last local subscriber left: drop the channel upstream. */
  unsubscribe(channel: string): void {
    this.channels.delete(channel);
    for (const pool of this.pools.values()) {
      if (pool.isSubscribed(channel)) pool.unsubscribe(channel);
    }
  }

  /**
   * Publishes a packet to the channel's broker; rejects with NoMatchingBrokerError when there is
   * none, and with `strict` (at-least-once) with BrokerUnavailableError while its broker is down
   * and the stand-in is not yet safe to use.
   */
  publish(channel: string, packet: unknown, strict = false): Promise<string | void> {
    const target = this.publishTarget(channel, strict);
    if (target.wait) {
      return Promise.reject(new BrokerUnavailableError(`the broker of ${JSON.stringify(channel.slice(0, 100))} is down; its stand-in is not yet heard by every worker`));
    }
    const pool = target.uri === null ? undefined : this.pools.get(target.uri);
    if (!pool) {
      return Promise.reject(new NoMatchingBrokerError(`no broker for channel ${JSON.stringify(channel.slice(0, 100))}: the cluster has no brokers`));
    }
    const uri = pool.uri;
    // At-least-once needs the broker's acknowledgement; otherwise a transmit saves the broker an
    // answer per packet (the handover's 'switched' phase uses a barrier instead, see signal()).
    // Only at-least-once needs to know which broker took the packet (see Publisher.brokerDown).
    const sent = strict ? pool.publish(channel, packet).then(() => uri) : pool.transmit(channel, packet);
    // While a move is pending, a copy goes to the new owner too. An original worker in the cluster
    // switches at once, so it may already listen only there; our workers hear both and drop the
    // copy by seq. The copy's fate does not decide the publish.
    const next = this.pending?.ownerOf(channel);
    if (next && next !== target.uri && !this.down.has(next)) this.pools.get(next)?.transmit(channel, packet).catch(() => undefined);
    return sent;
  }

  /** Channels this worker carries upstream. */
  get channelCount(): number {
    return this.channels.size;
  }

  /** Closes every pool and stops every timer. */
  close(): void {
    this.closed = true;
    this.round = null;
    clearTimeout(this.switchTimer);
    clearTimeout(this.releaseTimer);
    for (const timer of this.upTimers.values()) clearTimeout(timer);
    this.upTimers.clear();
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }
}
