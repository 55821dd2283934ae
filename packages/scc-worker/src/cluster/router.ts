/**
 * Which broker carries which channel: the router owns the mapping of channels to brokers, this
 * worker's upstream subscriptions and one transport per broker. When the broker list changes it
 * follows the handover phases of handover.ts: subscribe where a list needs it, publish where the
 * handover says, and let go of what no list needs any more.
 */
import {
  HistoryProcedure,
  HistoryUnavailableError,
  MAX_HISTORY_MOVES,
  MAX_HISTORY_PAGE,
  parseHistoryPage,
  type HistoryPage,
  type Position,
  BrokerUnavailableError,
  InvalidChannelError,
  NoMatchingBrokerError,
  createMapper,
  isSafeChannelName,
  LogEvent,
  type Logger,
  type Mapper,
  type MappingEngineName,
} from '@scc-ts/shared';
import { Handover, systemClock, type BrokerList as HandoverList, type Clock, type Coordination } from './handover.js';
import { Reachability } from './reachability.js';
import type { ClusterStats } from './stats.js';
import type { CreateTransport, Transport } from './transport.js';

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

/** A reshard's summary, and (coordinated) when this worker is subscribed under the new list. */
export interface Reshard {
  summary: ReshardSummary;
  /**
   * Resolves true once every channel is subscribed on its owner under the new list and the list's
   * round is still the current one (the 'subscribed' phase to report); false when it was superseded.
   */
  subscribed: Promise<boolean>;
}

/** What a Router needs: the mapping, a transport factory, the handover timings (ms), where to count and log. */
export interface RouterOptions {
  mappingEngine: MappingEngineName | Mapper;
  /** Makes the transport to one broker. */
  createTransport: CreateTransport;
  /** Wait between subscribing on the new owners and publishing to them, ms. */
  delayMs: number;
  /** Wait between publishing to the new owners and leaving the old ones, ms. */
  graceMs: number;
  stats: ClusterStats;
  logger: Logger;
  /** Time for the handover phases; the process clock if left out. */
  clock?: Clock;
  /** Silence after which a broker link is dead, ms; also how long a new broker may take to connect. */
  linkTimeoutMs: number;
  /** The brokers this worker cannot reach changed (reported to the state server). */
  onReachability?: (unreachable: string[]) => void;
  /** Whether a channel keeps history (docs/history.md); none when left out. */
  isHistory?: (channel: string) => boolean;
  /** Whether this worker carries history from old owners to new ones at a handover's release. */
  carriesHistory?: () => boolean;
}

/** Longest a release waits for the history it carries before leaving the old owners anyway, ms. */
const HISTORY_CARRY_TIMEOUT_MS = 5000;
/** Channels whose history is carried at once. */
const HISTORY_CARRY_CONCURRENCY = 16;
/** Most times a release asks the old brokers again for channels still to carry (each answer lists at most MAX_HISTORY_MOVES). */
const MAX_CARRY_ROUNDS = 10;

/** `promise`, or undefined once `ms` have passed (never rejects). */
function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise.then(() => undefined, () => undefined), timeout]).finally(() => clearTimeout(timer));
}

/** How a broker list arrived. */
export interface ListOrigin {
  /** The state server coordinates the handover of this list (its signals, for the round `time`). */
  coordination?: Coordination;
  /** Brokers the state server left out because some worker cannot reach them (they are still up). */
  withdrawn?: readonly string[];
  /** The list comes from our state server (it withdraws brokers workers cannot reach, and coordinates). */
  coordinatedServer?: boolean;
}

/** Most channel owners cached per broker list. */
const MAX_CACHED_OWNERS = 100_000;

/** One broker list and its mapping. */
class BrokerList implements HandoverList {
  readonly uris: ReadonlySet<string>;
  /** Brokers the state server withdrew from this list (unreachable from some worker, still up). */
  readonly withdrawn: ReadonlySet<string>;
  private readonly mapper: Mapper;
  /**
   * Owners already computed: a rendezvous lookup costs several MD5 digests and the publish path asks
   * for every packet. A list never changes after construction, so entries never go stale.
   */
  private readonly owners = new Map<string, string | null>();

  constructor(uris: readonly string[], mapper: Mapper, withdrawn: readonly string[] = []) {
    this.uris = new Set(uris);
    this.withdrawn = new Set(withdrawn);
    this.mapper = mapper;
    mapper.setSites([...uris]);
  }

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

function shown(channel: string): string {
  return JSON.stringify(channel.slice(0, 100));
}

function refused(channel: unknown): InvalidChannelError {
  const name = typeof channel === 'string' ? shown(channel) : `a ${channel === null ? 'null' : typeof channel}`;
  return new InvalidChannelError(`channel name ${name} is refused: it must be a string that is not an Object.prototype member`);
}

/** Channel owners, upstream subscriptions and one transport per broker (see above). */
export class Router {
  private readonly transports = new Map<string, Transport>();
  /** Channels with a local subscriber, carried upstream. */
  private readonly channels = new Set<string>();
  private readonly handover: Handover<BrokerList>;
  private readonly downListeners = new Set<(uri: string) => void>();
  private readonly withdrawnListeners = new Set<(uri: string) => void>();
  private readonly reachability: Reachability;
  private readonly options: RouterOptions;
  private readonly isHistory: (channel: string) => boolean;
  /** The list published to before the switch in progress (history is carried from its owners). */
  private movedFrom: BrokerList | null = null;
  /** History channels the new owners were told to expect (held there until carried), by new owner. */
  private expected = new Map<string, string>();
  private closed = false;

  constructor(options: RouterOptions) {
    this.options = options;
    this.isHistory = options.isHistory ?? (() => false);
    const { mappingEngine } = options;
    // A custom mapper object is one shared instance and cannot be copied into a second list.
    const makeList = typeof mappingEngine === 'string' ? (uris: readonly string[]) => this.newList(uris) : null;
    this.handover = new Handover<BrokerList>({
      clock: options.clock ?? systemClock,
      delayMs: options.delayMs,
      graceMs: options.graceMs,
      makeList,
      onSwitch: (active) => {
        options.stats.handovers += 1;
        this.movedFrom = this.handover.draining;
        options.logger.info({ event: LogEvent.PublishingThrough, brokers: active.uris.size }, `publishing through ${active.uris.size} brokers of the new list`);
        // Publishing has left a withdrawn broker: what went there lately may not have reached a
        // worker cut off from it, so publishers re-send it (receivers drop what they already had).
        // Once per withdrawal: a later list that still withdraws it has nothing new to re-send.
        const before = this.handover.draining;
        for (const uri of active.withdrawn) {
          if (before?.withdrawn.has(uri)) continue;
          for (const listener of this.withdrawnListeners) listener(uri);
        }
      },
      onRelease: () => this.release(),
    });
    this.reachability = new Reachability({
      linkTimeoutMs: options.linkTimeoutMs,
      logger: options.logger,
      isConnected: (uri) => this.transports.get(uri)?.connected ?? false,
      onChange: (unreachable) => options.onReachability?.(unreachable),
    });
  }

  private newList(uris: readonly string[], withdrawn?: readonly string[]): BrokerList {
    return new BrokerList(uris, createMapper(this.options.mappingEngine), withdrawn);
  }

  /** The brokers of this worker's lists it cannot reach now. */
  unreachable(): string[] {
    return this.reachability.list();
  }

  /**
   * The link to each broker in use: up, and how long ago it was last heard (up: the stalest
   * connection's last frame; down: when it was lost, a reconnect attempt being no news from the
   * broker; null: never connected).
   */
  links(now = Date.now()): Array<{ broker: string; up: boolean; lastHeardAgoMs: number | null }> {
    return [...this.transports].map(([broker, transport]) => {
      if (transport.connected) return { broker, up: true, lastHeardAgoMs: transport.silentMs(now) };
      const lost = this.reachability.lostAt(broker);
      return { broker, up: false, lastHeardAgoMs: lost === undefined ? null : Math.max(0, now - lost) };
    });
  }

  /** The newest broker list (routed by, or about to be), or null before the first. */
  newestURIs(): string[] | null {
    const newest = this.handover.newest;
    return newest ? [...newest.uris] : null;
  }

  /** Broker URIs in use (any list). */
  brokerURIs(): string[] {
    return [...this.transports.keys()];
  }

  /** Whether every broker of the newest list is connected (false while there is none). */
  get connected(): boolean {
    const newest = this.handover.newest;
    if (!newest || newest.uris.size === 0) return false;
    return [...newest.uris].every((uri) => this.transports.get(uri)?.connected ?? false);
  }

  /** The broker URI that owns `channel` under the newest list, or null. */
  ownerOf(channel: string): string | null {
    return this.handover.newest?.ownerOf(channel) ?? null;
  }

  /** Calls `listener` when a broker's connection drops, before its channels are routed around it. Returns a remover. */
  onBrokerDown(listener: (uri: string) => void): () => void {
    this.downListeners.add(listener);
    return () => this.downListeners.delete(listener);
  }

  /**
   * Calls `listener` when publishing switches to a list the state server made by withdrawing a broker
   * some worker cannot reach (the broker is still up and may have relayed to everyone else). Returns a remover.
   */
  onBrokerWithdrawn(listener: (uri: string) => void): () => void {
    this.withdrawnListeners.add(listener);
    return () => this.withdrawnListeners.delete(listener);
  }

  /** Whether the list published to now withdrew `uri` (it is up, but some worker cannot reach it). */
  isWithdrawn(uri: string): boolean {
    return this.handover.active?.withdrawn.has(uri) ?? false;
  }

  private transport(uri: string): Transport {
    let transport = this.transports.get(uri);
    if (!transport) {
      transport = this.options.createTransport(uri, (up) => this.setBrokerStatus(uri, up));
      this.transports.set(uri, transport);
      this.reachability.track(uri);
    }
    return transport;
  }

  /** Subscribes `channel` on every target; resolves when each has acknowledged. */
  private subscribeTargets(channel: string): Promise<void> {
    const acks: Promise<void>[] = [];
    for (const uri of this.handover.targets(channel)) acks.push(this.transport(uri).subscribe(channel));
    return acks.length === 1 ? (acks[0] as Promise<void>) : Promise.all(acks).then(() => undefined);
  }

  /**
   * Applies a broker list from the state server: starts a handover (or switches at once). With
   * `coordination` the switch and the release wait for the state server's signals (`signal()`);
   * without, they follow the timers.
   */
  setBrokers(uris: readonly string[], origin: ListOrigin = {}): Reshard {
    const { coordination } = origin;
    if (origin.coordinatedServer !== undefined) this.handover.coordinatedServer = origin.coordinatedServer;
    const before = this.handover.newest;
    // Where publishes go now: the brokers that hold the history of channels the new list moves.
    const publishedTo = this.handover.active;
    // Owners before the change, read before `next` exists: a custom mapper is one shared object.
    const ownersBefore = new Map<string, string | null>();
    if (before) for (const channel of this.channels) ownersBefore.set(channel, before.ownerOf(channel));
    const next = this.newList(uris, origin.withdrawn);
    const added = uris.filter((uri) => !this.transports.has(uri));
    const removed = before ? [...before.uris].filter((uri) => !next.uris.has(uri)) : [];
    let moved = 0;
    for (const [channel, owner] of ownersBefore) if (owner !== next.ownerOf(channel)) moved += 1;
    this.options.stats.reshards += 1;

    for (const uri of uris) this.transport(uri);
    for (const uri of next.withdrawn) this.transport(uri);
    const handoverMs = this.handover.begin(next, coordination);
    // 'subscribed' means subscribed on every owner under the new list (a dead old owner never answers).
    const acks: Array<Promise<void>> = [];
    for (const channel of this.channels) {
      void this.subscribeTargets(channel);
      const owner = next.ownerOf(channel);
      if (owner) acks.push(this.transport(owner).subscribe(channel));
    }
    // The history of moved channels is announced to the new owners before anyone publishes there.
    if (publishedTo && this.carriesHistoryNow()) acks.push(withTimeout(this.prepareHistory(publishedTo, next), HISTORY_CARRY_TIMEOUT_MS));
    const round = this.handover.round;
    const subscribed = Promise.all(acks).then(() => round !== null && this.handover.round === round && !this.closed);
    return { summary: { brokers: next.uris.size, channels: this.channels.size, moved, added, removed, handoverMs }, subscribed };
  }

  /**
   * Coordinated handover: the state server's `switch` or `release` signal for the round `time`.
   * Resolves true (after a switch) once every broker has processed everything this worker sent it
   * before the switch and the round is still current: the 'switched' phase to report. Stale
   * signals change nothing and resolve false.
   */
  signal(kind: 'switch' | 'release', time: number): Promise<boolean> {
    if (this.closed || !this.handover.signal(kind, time) || kind === 'release') return Promise.resolve(false);
    const round = this.handover.round;
    // A barrier on every connection, behind the packets already sent on it.
    return Promise.all([...this.transports.values()].map((transport) => transport.barrier())).then(
      () => round !== null && this.handover.round === round && !this.closed,
    );
  }

  /**
   * Before a handover's switch, the worker that carries history asks each old owner which of its
   * history channels the new list moves, and tells each new owner to expect them: a new owner holds
   * an expected channel's publishes (and fetches) until its history is carried over at the release,
   * so offsets continue where the old owner stopped. Resolves when done (or after the carry timeout):
   * the worker reports the 'subscribed' phase only then, so nobody publishes to a new owner before.
   */
  private async prepareHistory(from: BrokerList, to: BrokerList): Promise<void> {
    const moves = await this.listMoves(from, to);
    const byOwner = new Map<string, string[]>();
    for (const { channel, newOwner } of moves) {
      this.expected.set(channel, newOwner);
      const list = byOwner.get(newOwner) ?? [];
      list.push(channel);
      byOwner.set(newOwner, list);
    }
    await Promise.all(
      [...byOwner].map(async ([uri, channels]) => {
        const transport = this.transports.get(uri);
        if (transport === undefined) return;
        // A new broker may still be connecting: the request waits for its handshake.
        for (let i = 0; i < channels.length; i += MAX_HISTORY_MOVES) {
          await transport.request('', HistoryProcedure.Expect, { channels: channels.slice(i, i + MAX_HISTORY_MOVES) }).catch((error: unknown) => {
            this.options.logger.warn(`history: ${uri} was not told to expect ${channels.length} channels: ${(error as Error).name}: ${(error as Error).message}`);
          });
        }
      }),
    );
  }

  /** The history channels each old broker holds that `to` gives another owner (old brokers that keep history and answer). */
  private async listMoves(from: BrokerList, to: BrokerList): Promise<Array<{ channel: string; oldOwner: string; newOwner: string }>> {
    const mapping = typeof this.options.mappingEngine === 'string' ? this.options.mappingEngine : null;
    const moves: Array<{ channel: string; oldOwner: string; newOwner: string }> = [];
    if (mapping === null) return moves;
    const seen = new Set<string>();
    await Promise.all(
      [...from.uris].map(async (uri) => {
        const old = this.transports.get(uri);
        if (old === undefined || !old.connected || !old.keepsHistory('')) return;
        try {
          const answer = (await old.request('', HistoryProcedure.Moves, { brokers: [...to.uris], self: uri, mapping })) as { channels?: unknown };
          for (const entry of Array.isArray(answer?.channels) ? (answer.channels as Array<{ channel?: unknown }>) : []) {
            const channel = entry?.channel;
            if (typeof channel !== 'string' || seen.has(channel)) continue;
            const newOwner = to.ownerOf(channel);
            if (newOwner === null || newOwner === uri) continue;
            seen.add(channel);
            moves.push({ channel, oldOwner: uri, newOwner });
          }
        } catch (error) {
          this.options.logger.warn(`history: ${uri} did not list its moved channels: ${(error as Error).name}: ${(error as Error).message}`);
        }
      }),
    );
    return moves;
  }

  /**
   * Step 3 of a handover: the history of moved channels is carried to their new owners first (by
   * the one worker that carries it), then the old owners are left.
   */
  private release(): void {
    const from = this.movedFrom;
    const expected = this.expected;
    this.movedFrom = null;
    this.expected = new Map();
    const to = this.handover.active;
    if (from === null || to === null || !this.carriesHistoryNow() || (expected.size === 0 && !this.anyKeepsHistory(from))) {
      this.releaseUnneeded();
      return;
    }
    void withTimeout(this.carryHistory(from, to, expected), HISTORY_CARRY_TIMEOUT_MS).finally(() => {
      if (!this.closed) this.releaseUnneeded();
    });
  }

  private carriesHistoryNow(): boolean {
    return this.options.isHistory !== undefined && (this.options.carriesHistory?.() ?? true);
  }

  private anyKeepsHistory(list: BrokerList): boolean {
    for (const uri of list.uris) if (this.transports.get(uri)?.keepsHistory('') ?? false) return true;
    return false;
  }

  /**
   * Carries history from `from`'s owners to `to`'s (docs/history.md, "The handover"): each old broker
   * lists its history channels that moved; each is exported there and imported on its new owner.
   * Channels a new owner was told to expect that no old owner has now start their first epoch there.
   */
  private async carryHistory(from: BrokerList, to: BrokerList, expected: ReadonlyMap<string, string>): Promise<void> {
    const carried = new Set<string>();
    // An old broker lists at most MAX_HISTORY_MOVES channels per answer; what is exported leaves its
    // list, so asking again lists the rest (bounded, and only while each answer was full).
    for (let round = 0; round < MAX_CARRY_ROUNDS && !this.closed; round++) {
      const jobs = (await this.listMoves(from, to)).filter((job) => !carried.has(job.channel));
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < jobs.length && !this.closed) {
          const job = jobs[next++]!;
          carried.add(job.channel);
          await this.carryOne(job.channel, job.oldOwner, job.newOwner);
        }
      };
      await Promise.all(Array.from({ length: Math.min(HISTORY_CARRY_CONCURRENCY, jobs.length) }, worker));
      if (jobs.length < MAX_HISTORY_MOVES) break;
    }
    for (const [channel, newOwner] of expected) {
      if (carried.has(channel) || this.closed) continue;
      await this.transports.get(newOwner)?.request(channel, HistoryProcedure.Import, { channel, state: null }).catch(() => undefined);
    }
    if (carried.size > 0) this.options.logger.info({ channels: carried.size }, `history: carried ${carried.size} channels to their new owners`);
  }

  private async carryOne(channel: string, oldOwner: string, newOwner: string): Promise<void> {
    const old = this.transports.get(oldOwner);
    const next = this.transports.get(newOwner);
    if (old === undefined || next === undefined) return;
    let state: unknown = null;
    try {
      state = await old.request(channel, HistoryProcedure.Export, { channel });
    } catch (error) {
      this.options.logger.warn(`history: exporting ${shown(channel)} from ${oldOwner} failed (${(error as Error).name}); it starts a new epoch on ${newOwner}`);
    }
    await next.request(channel, HistoryProcedure.Import, { channel, state }).catch((error: unknown) => {
      this.options.logger.warn(`history: importing ${shown(channel)} on ${newOwner} failed: ${(error as Error).name}: ${(error as Error).message}`);
    });
  }

  /**
   * A page of a history channel from the broker it is published to now (docs/history.md):
   * `since` in the same epoch gives what followed it, without `since` the last `limit` messages.
   * Rejects with HistoryUnavailableError when that broker keeps no history, and with the broker's
   * refusal (InvalidPositionError, …) by name.
   */
  async historyPage(channel: string, since: Position | undefined, limit: number): Promise<HistoryPage> {
    if (!isSafeChannelName(channel)) throw refused(channel);
    const { uri } = this.handover.publishTarget(channel, false);
    const transport = uri === null ? undefined : this.transports.get(uri);
    if (transport === undefined) throw new NoMatchingBrokerError(`no broker for channel ${shown(channel)}: the cluster has no brokers`);
    if (!transport.keepsHistory(channel)) throw new HistoryUnavailableError(`the broker of ${shown(channel)} (${transport.uri}) keeps no history`);
    const answer = await transport.request(channel, HistoryProcedure.Fetch, { channel, limit: Math.min(limit, MAX_HISTORY_PAGE), ...(since ? { since } : {}) });
    return parseHistoryPage(answer);
  }

  /** Leaves every subscription no list needs any more and closes transports no list names. */
  private releaseUnneeded(): void {
    const inUse = this.handover.inUse();
    // A broker withdrawn because some worker cannot reach it keeps its connections (and carries no
    // channel): the worker cut off from it goes on trying, so it reports the link healed only once
    // it really is, instead of the broker being restored while still unreachable.
    for (const uri of this.handover.newest?.withdrawn ?? []) inUse.add(uri);
    for (const [uri, transport] of this.transports) {
      if (!inUse.has(uri)) {
        transport.close();
        this.transports.delete(uri);
        this.handover.forget(uri);
        this.reachability.forget(uri);
        continue;
      }
      for (const channel of transport.subscriptions()) {
        if (!this.channels.has(channel) || !this.handover.targets(channel).has(uri)) transport.unsubscribe(channel);
      }
    }
  }

  /** A transport lost or regained its connection. */
  private setBrokerStatus(uri: string, up: boolean): void {
    if (this.closed) return;
    if (up) {
      this.reachability.up(uri);
      this.handover.brokerUp(uri);
      return;
    }
    const leaving = !(this.handover.newest?.uris.has(uri) ?? false);
    this.reachability.down(uri, this.transports.get(uri)?.silentMs(Date.now()) ?? 0, 'connection lost', leaving);
    if (!this.handover.brokerDown(uri)) return;
    // Logged once by the reachability above (a warning with its event, unless the broker is leaving).
    for (const listener of this.downListeners) listener(uri);
    const active = this.handover.active;
    for (const channel of this.channels) {
      if (active?.ownerOf(channel) === uri) void this.subscribeTargets(channel);
    }
  }

  /**
   * A local subscriber appeared: carry the channel upstream. Resolves once the brokers acknowledged;
   * rejects with InvalidChannelError for a name the hardened server refuses.
   */
  subscribe(channel: string): Promise<void> {
    if (!isSafeChannelName(channel)) return Promise.reject(refused(channel));
    this.channels.add(channel);
    return this.subscribeTargets(channel);
  }

  /** The last local subscriber left: drop the channel upstream. */
  unsubscribe(channel: string): void {
    this.channels.delete(channel);
    for (const transport of this.transports.values()) {
      if (transport.isSubscribed(channel)) transport.unsubscribe(channel);
    }
  }

  /**
   * Publishes a packet to the channel's broker. Rejects with InvalidChannelError for a name the
   * hardened server refuses, with NoMatchingBrokerError when there is no broker, and with `strict`
   * (at-least-once) with BrokerUnavailableError while its broker is down and the stand-in is not
   * yet safe to use. With `strict` it resolves with the URI of the broker that acknowledged it.
   */
  publish(channel: string, packet: unknown, strict: boolean): Promise<string | void> {
    if (!isSafeChannelName(channel)) return Promise.reject(refused(channel));
    const target = this.handover.publishTarget(channel, strict);
    if (target.wait) {
      return Promise.reject(new BrokerUnavailableError(`the broker of ${shown(channel)} is down; its stand-in is not yet heard by every worker`));
    }
    const transport = target.uri === null ? undefined : this.transports.get(target.uri);
    if (!transport) {
      return Promise.reject(new NoMatchingBrokerError(`no broker for channel ${shown(channel)}: the cluster has no brokers`));
    }
    const uri = transport.uri;
    // At-least-once needs the broker's acknowledgement (and which broker gave it, for re-sends
    // should it die); otherwise a transmit saves the broker an answer per packet (the handover's
    // 'switched' phase uses a barrier instead, see signal()).
    const sent = strict ? transport.publish(channel, packet).then(() => uri) : transport.transmit(channel, packet);
    // While a move is pending, a copy goes to the new owner too. An original worker in the cluster
    // switches at once, so it may already listen only there; our workers hear both and drop the
    // copy by seq. The copy's fate does not decide the publish. Not on a history channel: the copy
    // would reach receivers without a position and could win the race for its seq.
    if (target.copyTo !== null && !this.isHistory(channel)) this.transports.get(target.copyTo)?.transmit(channel, packet).catch(() => undefined);
    return sent;
  }

  /** Closes every transport and stops every timer. Safe to call twice. */
  close(): void {
    this.closed = true;
    this.handover.close();
    this.reachability.close();
    this.downListeners.clear();
    this.withdrawnListeners.clear();
    for (const transport of this.transports.values()) transport.close();
    this.transports.clear();
  }
}
