/**
 * The handover phase machine: which broker list a worker publishes to, which lists it must stay
 * subscribed under, and when that changes. Pure: no sockets, and time only through the injected
 * `Clock`, so every phase can be driven by a test.
 *
 * Up to three lists:
 * - `active`: where this worker publishes;
 * - `pending`: the newest list from the state server, not yet published to. On arrival the router
 *   subscribes every needed channel on its owner under it, while the old subscriptions stay;
 * - `draining`: the list that was active before the last switch, whose subscriptions stay for
 *   `graceMs` so packets still in flight through the old owner arrive.
 *
 * The handover of a moved channel, on every worker alike: (1) subscribe on the new owner N and keep
 * the old owner O; (2) after `delayMs` — longer than the spread of the state server's push across
 * workers plus a subscribe round trip — publish to N (the switch); (3) after `graceMs` more, let go
 * of O (the release). Every subscriber hears both O and N throughout the window in which anyone
 * publishes to either, and each packet goes to exactly one broker, so nothing is lost and nothing
 * is doubled. Order across the switch is restored by the receiver's sequencer.
 *
 * Coordinated (our state server): the switch and the release wait for the state server's signals
 * for the list's round (`time`); the timers only cover a silent state server. Timed (an original
 * state server): the timers alone.
 *
 * A broker whose connection drops (a crash, or a link silent past the link timeout) is routed
 * around at once: channels it owned go to their owner under the active list without it
 * (`fallback`), which is the list the state server will push once it notices (our state server also
 * withdraws a broker that only some workers cannot reach), so that push then moves nothing. Back up,
 * it is used again only after `delayMs`, since other workers reconnect at other moments.
 *
 * A list that cannot be copied (a custom mapper object) switches in one step, as the original does.
 */

/** A broker list as the handover sees it. */
export interface BrokerList {
  readonly uris: ReadonlySet<string>;
  /** The owner of `channel` under this list, or null when the list is empty. */
  ownerOf(channel: string): string | null;
}

/** Time and timers, injected so tests can drive them. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

/** The process clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};

/** Acknowledged handover: the state server's round for a list, by its `time`. */
export interface Coordination {
  time: number;
}

/** Coordinated handover: longest wait for the state server's next signal before going ahead alone, ms. */
export const COORDINATED_TIMEOUT_MS = 45_000;
/**
 * With our state server, how long an at-least-once publish to a down broker waits for the list
 * without it (the state server drops a broker it lost and withdraws one a worker cannot reach; the
 * coordinated switch then says every worker hears the new owner) before using the stand-in alone, ms.
 * Covers the link timeout on the other workers, the scale-back debounce and the handover's rounds.
 */
export const COORDINATED_STANDIN_WAIT_MS = 10_000;

/** How a Handover is timed and whom it tells. */
export interface HandoverOptions<L extends BrokerList> {
  clock: Clock;
  /** Wait between subscribing on the new owners and publishing to them, ms. */
  delayMs: number;
  /** Wait between publishing to the new owners and leaving the old ones, ms. */
  graceMs: number;
  /**
   * Makes a list of `uris` (for the stand-in list while brokers are down), or null when lists
   * cannot be copied: then every switch is immediate and a down broker has no stand-in.
   */
  makeList: ((uris: readonly string[]) => L) | null;
  /** Publishing switched to `active`. */
  onSwitch(active: L): void;
  /** A list stopped being needed: subscriptions no list needs any more can go. */
  onRelease(): void;
}

/** Where a packet goes now. */
export interface PublishTarget {
  /** The broker to send to, or null without one. */
  uri: string | null;
  /** At-least-once: the stand-in is not yet safe, wait. */
  wait: boolean;
  /** While a move is pending: the new owner, which gets a copy; null otherwise. */
  copyTo: string | null;
}

/** One worker's handover phases over its broker lists (see above). */
export class Handover<L extends BrokerList> {
  private activeList: L | null = null;
  private pendingList: L | null = null;
  private drainingList: L | null = null;
  /** `active` without the brokers that are down; null when none is down. */
  private fallback: L | null = null;
  /** Brokers whose connection dropped, with the time it did (clock ms). */
  private readonly down = new Map<string, number>();
  private switchTimer: unknown;
  private releaseTimer: unknown;
  private readonly upTimers = new Map<string, unknown>();
  /** The coordinated handover in progress, if the state server coordinates it. */
  private current: Coordination | null = null;
  /**
   * Whether the lists come from our state server, which drops or withdraws a broker a worker cannot
   * reach and coordinates the move: then an at-least-once publish to a down broker waits for that list
   * (up to COORDINATED_STANDIN_WAIT_MS) instead of trusting a stand-in after `delayMs`, since the other
   * workers may still reach the broker (a partition) and not listen on the stand-in.
   */
  coordinatedServer = false;
  private closed = false;
  private readonly options: HandoverOptions<L>;

  constructor(options: HandoverOptions<L>) {
    this.options = options;
  }

  /** Where this worker publishes. */
  get active(): L | null {
    return this.activeList;
  }

  /** The newest list, not yet published to. */
  get pending(): L | null {
    return this.pendingList;
  }

  /** The list published to before the last switch, still subscribed for packets in flight. */
  get draining(): L | null {
    return this.drainingList;
  }

  /** The newest list (pending, else active). */
  get newest(): L | null {
    return this.pendingList ?? this.activeList;
  }

  /** The coordinated round in progress, or null. */
  get round(): Coordination | null {
    return this.current;
  }

  /** Every broker some list still names. */
  inUse(): Set<string> {
    const uris = new Set<string>();
    for (const list of [this.activeList, this.pendingList, this.drainingList]) for (const uri of list?.uris ?? []) uris.add(uri);
    return uris;
  }

  /**
   * Where a packet on `channel` goes now: the active owner, or around it while it is down. With
   * `strict` (at-least-once), a stand-in is used only once the broker has been down for a handover
   * delay, when every worker has noticed too and subscribed there; before that the result says to
   * wait. While a move is pending, `copyTo` names the new owner: an original worker in the cluster
   * switches at once and may already listen only there.
   */
  publishTarget(channel: string, strict: boolean): PublishTarget {
    const owner = this.activeList?.ownerOf(channel) ?? null;
    const next = this.pendingList?.ownerOf(channel) ?? null;
    const nextUp = next !== null && !this.down.has(next);
    const downSince = owner === null ? undefined : this.down.get(owner);
    if (downSince === undefined) return { uri: owner, wait: false, copyTo: nextUp && next !== owner ? next : null };
    const instead = nextUp ? next : (this.fallback?.ownerOf(channel) ?? null);
    const uri = instead ?? owner;
    const standInWaitMs = this.coordinatedServer ? COORDINATED_STANDIN_WAIT_MS : this.options.delayMs;
    const wait = instead !== null && strict && this.options.clock.now() - downSince < standInWaitMs;
    return { uri, wait, copyTo: nextUp && next !== uri ? next : null };
  }

  /** Every broker `channel` must be subscribed on right now. */
  targets(channel: string): Set<string> {
    const targets = new Set<string>();
    for (const list of [this.activeList, this.pendingList, this.drainingList]) {
      const owner = list?.ownerOf(channel);
      if (owner) targets.add(owner);
    }
    const owner = this.activeList?.ownerOf(channel);
    if (owner && this.down.has(owner)) {
      const instead = this.fallback?.ownerOf(channel);
      if (instead) targets.add(instead);
    }
    return targets;
  }

  /**
   * A new list from the state server: it becomes pending and the switch is scheduled (or done at
   * once when there is nothing to hand over from). With `coordination` the switch and release wait
   * for `signal()`. A list still pending is superseded. Returns ms until the switch (0: done).
   */
  begin(next: L, coordination?: Coordination): number {
    if (this.closed) return 0;
    const { clock } = this.options;
    clock.clearTimeout(this.switchTimer);
    this.switchTimer = undefined;
    this.pendingList = next;
    this.current = coordination ?? null;
    // Nothing to hand over from (first list, or no broker before), nothing published anywhere that
    // could be missed, or a list we cannot keep two copies of: switch at once.
    const active = this.activeList;
    if (!active || active.uris.size === 0 || this.options.makeList === null || this.options.delayMs === 0) {
      this.switchNow();
      return 0;
    }
    const handoverMs = coordination ? COORDINATED_TIMEOUT_MS : this.options.delayMs;
    this.switchTimer = clock.setTimeout(() => this.switchNow(), handoverMs);
    return handoverMs;
  }

  /**
   * Coordinated handover: the state server says every worker hears the new owners (`switch`) or
   * nobody publishes to the old ones any more (`release`). Returns false for a signal of another
   * round (stale, or none in progress), which changes nothing.
   */
  signal(kind: 'switch' | 'release', time: number): boolean {
    const round = this.current;
    if (!round || round.time !== time || this.closed) return false;
    const { clock } = this.options;
    if (kind === 'switch') {
      clock.clearTimeout(this.switchTimer);
      this.switchTimer = undefined;
      if (this.pendingList) this.switchNow();
      return true;
    }
    this.current = null;
    clock.clearTimeout(this.releaseTimer);
    this.releaseNow();
    return true;
  }

  /** Step 2: publish to the pending list; step 3 (release) follows after the grace period. */
  private switchNow(): void {
    this.switchTimer = undefined;
    const next = this.pendingList;
    if (!next || this.closed) return;
    // A list still draining from an earlier switch is dropped now: the new one supersedes it.
    if (this.activeList && this.activeList !== next) this.drainingList = this.activeList;
    this.activeList = next;
    this.pendingList = null;
    this.refreshFallback();
    this.options.onSwitch(next);
    const { clock } = this.options;
    clock.clearTimeout(this.releaseTimer);
    // Coordinated: the release signal normally comes first; the timer only covers a silent state server.
    const graceMs = this.current ? COORDINATED_TIMEOUT_MS : this.options.graceMs;
    this.releaseTimer = clock.setTimeout(() => this.releaseNow(), graceMs);
  }

  /** Step 3: the draining list is no longer needed. */
  private releaseNow(): void {
    this.releaseTimer = undefined;
    if (this.closed) return;
    this.drainingList = null;
    this.options.onRelease();
  }

  private refreshFallback(): void {
    const active = this.activeList;
    const makeList = this.options.makeList;
    const up = active ? [...active.uris].filter((uri) => !this.down.has(uri)) : [];
    if (!active || makeList === null || up.length === active.uris.size) {
      this.fallback = null;
      return;
    }
    this.fallback = makeList(up);
  }

  /** A broker's connection dropped: route around it at once. Returns true when it was up until now. */
  brokerDown(uri: string): boolean {
    if (this.closed) return false;
    this.stopUpTimer(uri);
    if (this.down.has(uri)) return false;
    this.down.set(uri, this.options.clock.now());
    this.refreshFallback();
    return true;
  }

  /**
   * A broker's connection is back: publish to it again after a handover delay (other workers
   * reconnect at other moments); the stand-in's subscriptions stay a grace period more for
   * packets already sent there.
   */
  brokerUp(uri: string): void {
    if (this.closed) return;
    this.stopUpTimer(uri);
    if (!this.down.has(uri)) return;
    const { clock } = this.options;
    const timer = clock.setTimeout(() => {
      this.upTimers.delete(uri);
      this.down.delete(uri);
      this.refreshFallback();
      clock.clearTimeout(this.releaseTimer);
      this.releaseTimer = clock.setTimeout(() => this.releaseNow(), this.options.graceMs);
    }, this.options.delayMs);
    this.upTimers.set(uri, timer);
  }

  /** Forgets a broker no list names any more (its transport was closed). */
  forget(uri: string): void {
    this.stopUpTimer(uri);
    this.down.delete(uri);
  }

  private stopUpTimer(uri: string): void {
    const timer = this.upTimers.get(uri);
    if (timer === undefined) return;
    this.options.clock.clearTimeout(timer);
    this.upTimers.delete(uri);
  }

  /** Stops every timer; nothing changes afterwards. Safe to call twice. */
  close(): void {
    this.closed = true;
    this.current = null;
    const { clock } = this.options;
    clock.clearTimeout(this.switchTimer);
    clock.clearTimeout(this.releaseTimer);
    this.switchTimer = undefined;
    this.releaseTimer = undefined;
    for (const timer of this.upTimers.values()) clock.clearTimeout(timer);
    this.upTimers.clear();
  }
}
