import { describe, expect, it } from 'vitest';
import { createMapper } from '@scc-ts/shared';
import { Router } from '../src/cluster/router.js';
import { createClusterStats } from '../src/cluster/stats.js';
import type { Transport } from '../src/cluster/transport.js';
import { FakeClock } from './fake-clock.js';
import { captureLog } from './log-capture.js';

const DELAY_MS = 1000;
const GRACE_MS = 3000;
const A = 'ws://a:1';
const B = 'ws://b:1';
const C = 'ws://c:1';

/** An in-memory broker link: records what it is asked to do; a test plays the broker's status. */
class MemoryTransport implements Transport {
  connected = true;
  closed = 0;
  readonly subscribed = new Set<string>();
  /** [channel, packet, acknowledged?] in the order sent. */
  readonly sent: Array<[string, unknown, boolean]> = [];
  constructor(
    readonly uri: string,
    private readonly onStatus: (up: boolean) => void,
  ) {}
  isSubscribed(channel: string): boolean {
    return this.subscribed.has(channel);
  }
  subscribe(channel: string): Promise<void> {
    this.subscribed.add(channel);
    return Promise.resolve();
  }
  unsubscribe(channel: string): void {
    this.subscribed.delete(channel);
  }
  subscriptions(): string[] {
    return [...this.subscribed];
  }
  /** How long this broker has been silent, as a test plays it, ms. */
  silence = 0;
  silentMs(): number {
    return this.silence;
  }
  publish(channel: string, packet: unknown): Promise<void> {
    if (!this.connected) return Promise.reject(new Error(`${this.uri} is down`));
    this.sent.push([channel, packet, true]);
    return Promise.resolve();
  }
  transmit(channel: string, packet: unknown): Promise<void> {
    this.sent.push([channel, packet, false]);
    return Promise.resolve();
  }
  barrier(): Promise<void> {
    return Promise.resolve();
  }
  keepsHistory(): boolean {
    return false;
  }
  request(): Promise<unknown> {
    return Promise.reject(new Error('no procedures here'));
  }
  close(): void {
    this.closed += 1;
  }
  /** The broker's connection drops (false) or is back (true). */
  status(up: boolean): void {
    this.connected = up;
    this.onStatus(up);
  }
}

function owner(uris: readonly string[], channel: string): string {
  const mapper = createMapper('skeletonRendezvous');
  mapper.setSites([...uris]);
  return mapper.findSite(channel) as string;
}

/** The first channel name owned by `from` under `before` and by `to` under `after`. */
function channelMoving(before: readonly string[], from: string, after: readonly string[], to: string): string {
  for (let i = 0; i < 10_000; i++) {
    const channel = `ch${i}`;
    if (owner(before, channel) === from && owner(after, channel) === to) return channel;
  }
  throw new Error('no such channel among 10,000 names');
}

function make(extra: { onReachability?: (unreachable: string[]) => void; isHistory?: (channel: string) => boolean } = {}) {
  const clock = new FakeClock();
  const stats = createClusterStats();
  const log = captureLog();
  const transports = new Map<string, MemoryTransport>();
  const router = new Router({
    mappingEngine: 'skeletonRendezvous',
    delayMs: DELAY_MS,
    graceMs: GRACE_MS,
    clock,
    stats,
    logger: log.logger,
    linkTimeoutMs: 3000,
    ...extra,
    createTransport: (uri, onStatus) => {
      const transport = new MemoryTransport(uri, onStatus);
      transports.set(uri, transport);
      return transport;
    },
  });
  const transport = (uri: string): MemoryTransport => {
    const found = transports.get(uri);
    if (!found) throw new Error(`no transport to ${uri}`);
    return found;
  };
  const subscribedOn = (channel: string): string[] => [...transports.values()].filter((t) => t.isSubscribed(channel)).map((t) => t.uri).sort();
  return { clock, stats, log, router, transports, transport, subscribedOn };
}

const packet = (seq: number) => ({ sender: 'w1', messages: [seq], seq });

describe('Router, a broker the state server withdrew', () => {
  it('tells the re-send listeners once when publishing leaves it, keeps its transport open, and says it is withdrawn', async () => {
    const { router, transports, subscribedOn } = make();
    const withdrawn: string[] = [];
    router.onBrokerWithdrawn((uri) => withdrawn.push(uri));
    router.setBrokers([A, B], { coordinatedServer: true });
    const moving = channelMoving([A, B], A, [B], B);
    await router.subscribe(moving);
    router.setBrokers([B], { coordination: { time: 5 }, withdrawn: [A] });
    expect(withdrawn).toEqual([]);
    expect(router.isWithdrawn(A)).toBe(false);
    await router.signal('switch', 5);
    expect(withdrawn).toEqual([A]);
    expect(router.isWithdrawn(A)).toBe(true);
    await router.signal('release', 5);
    // A keeps its connections (the cut-off worker goes on trying) but carries no channel.
    expect(transports.get(A)?.closed).toBe(0);
    expect(subscribedOn(moving)).toEqual([B]);
    // A later list that still withdraws A has nothing new to re-send.
    router.setBrokers([B], { coordination: { time: 6 }, withdrawn: [A] });
    await router.signal('switch', 6);
    expect(withdrawn).toEqual([A]);
    // Restored: the transport is in use again, and no longer withdrawn.
    router.setBrokers([A, B], { coordination: { time: 7 } });
    await router.signal('switch', 7);
    expect(router.isWithdrawn(A)).toBe(false);
    router.close();
  });

  it('reports a broker it cannot reach, and clears it once it is back', async () => {
    const reports: string[][] = [];
    const { router, transport } = make({ onReachability: (u) => reports.push(u) });
    router.setBrokers([A, B]);
    transport(A).status(false);
    expect(router.unreachable()).toEqual([A]);
    transport(A).status(true);
    expect(reports).toEqual([[A], []]);
    router.close();
  });
});

describe('Router links', () => {
  it('reports up links by their last frame, down ones by when they went down, never-connected ones as never heard, and only brokers in use', () => {
    const { clock, router, transport } = make();
    router.setBrokers([A, B]);
    transport(A).silence = 1000;
    // B never connected (no status change was ever reported): a reconnect attempt is no news from the broker.
    transport(B).connected = false;
    expect(router.links(10_000)).toEqual([
      { broker: A, up: true, lastHeardAgoMs: 1000 },
      { broker: B, up: false, lastHeardAgoMs: null },
    ]);
    const lostAt = Date.now();
    transport(A).status(false);
    const [down] = router.links(lostAt + 500);
    expect(down).toMatchObject({ broker: A, up: false });
    expect(down!.lastHeardAgoMs).toBeGreaterThanOrEqual(0);
    expect(down!.lastHeardAgoMs).toBeLessThanOrEqual(500);
    // A list without B, switched to and released: B is no longer in use and no longer listed.
    router.setBrokers([A]);
    clock.advance(DELAY_MS);
    clock.advance(GRACE_MS);
    expect(router.links().map((l) => l.broker)).toEqual([A]);
    router.close();
  });
});

describe('Router owners', () => {
  it('subscribes and publishes each channel on its owner under the list', async () => {
    const { router, transport, subscribedOn, stats } = make();
    router.setBrokers([A, B]);
    expect(router.brokerURIs().sort()).toEqual([A, B]);
    expect(router.connected).toBe(true);
    const onA = channelMoving([A, B], A, [A, B], A);
    const onB = channelMoving([A, B], B, [A, B], B);
    expect(router.ownerOf(onA)).toBe(A);
    expect(router.ownerOf(onB)).toBe(B);
    await router.subscribe(onA);
    await router.subscribe(onB);
    expect(subscribedOn(onA)).toEqual([A]);
    expect(subscribedOn(onB)).toEqual([B]);

    await router.publish(onA, packet(0), false);
    await expect(router.publish(onB, packet(0), true)).resolves.toBe(B);
    expect(transport(A).sent).toEqual([[onA, packet(0), false]]);
    expect(transport(B).sent).toEqual([[onB, packet(0), true]]);
    expect(stats.reshards).toBe(1);
    expect(stats.handovers).toBe(1);
    router.close();
  });

  it('rejects with NoMatchingBrokerError without brokers, before a list and with an empty one', async () => {
    const { router } = make();
    await expect(router.publish('c', packet(0), false)).rejects.toMatchObject({ name: 'NoMatchingBrokerError' });
    router.setBrokers([]);
    await expect(router.publish('c', packet(0), true)).rejects.toMatchObject({ name: 'NoMatchingBrokerError' });
    expect(router.connected).toBe(false);
    expect(router.ownerOf('c')).toBeNull();
    router.close();
  });

  it('refuses the channel names the hardened server refuses, with InvalidChannelError, and changes nothing', async () => {
    const { router, transports } = make();
    router.setBrokers([A, B]);
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      await expect(router.subscribe(name)).rejects.toMatchObject({ name: 'InvalidChannelError' });
      await expect(router.publish(name, packet(0), false)).rejects.toMatchObject({ name: 'InvalidChannelError' });
      await expect(router.publish(name, packet(0), true)).rejects.toMatchObject({ name: 'InvalidChannelError' });
    }
    for (const t of transports.values()) {
      expect(t.subscriptions()).toEqual([]);
      expect(t.sent).toEqual([]);
    }
    // A name that merely resembles one is fine.
    await router.subscribe('constructor/1');
    await router.publish('constructor/1', packet(0), false);
    router.close();
  });

  it('drops a channel upstream when its last local subscriber leaves', async () => {
    const { router, subscribedOn } = make();
    router.setBrokers([A, B]);
    await router.subscribe('room');
    expect(subscribedOn('room')).toHaveLength(1);
    router.unsubscribe('room');
    expect(subscribedOn('room')).toEqual([]);
    router.close();
  });
});

describe('Router handover (timed)', () => {
  it('sends no copy of a history channel to its pending owner (it would arrive unpositioned)', async () => {
    const history = new Set<string>();
    const { router, transport } = make({ isHistory: (channel) => history.has(channel) });
    router.setBrokers([A, B]);
    const moving = channelMoving([A, B], A, [A, B, C], C);
    history.add(moving);
    await router.subscribe(moving);
    router.setBrokers([A, B, C]);
    await router.publish(moving, packet(0), false);
    expect(transport(A).sent).toEqual([[moving, packet(0), false]]);
    // (The next test shows the copy a channel without history gets in the same place.)
    expect(transport(C).sent).toEqual([]);
  });

  it('subscribes old and new owner, copies to the new owner while pending, switches after the delay and releases the old subscription after the grace', async () => {
    const { clock, router, transport, subscribedOn, log } = make();
    router.setBrokers([A, B]);
    const moving = channelMoving([A, B], A, [A, B, C], C);
    const staying = channelMoving([A, B], B, [A, B, C], B);
    await router.subscribe(moving);
    await router.subscribe(staying);

    const { summary } = router.setBrokers([A, B, C]);
    expect(summary).toMatchObject({ brokers: 3, channels: 2, moved: 1, added: [C], removed: [], handoverMs: DELAY_MS });
    expect(router.ownerOf(moving)).toBe(C);
    expect(subscribedOn(moving)).toEqual([A, C]);
    expect(subscribedOn(staying)).toEqual([B]);

    // Pending: published to the old owner, a copy to the new one.
    await router.publish(moving, packet(0), false);
    expect(transport(A).sent).toEqual([[moving, packet(0), false]]);
    expect(transport(C).sent).toEqual([[moving, packet(0), false]]);
    await router.publish(staying, packet(0), false);
    expect(transport(B).sent).toHaveLength(1);

    clock.advance(DELAY_MS);
    expect(log.warnings()).toEqual([]);
    await router.publish(moving, packet(1), true);
    expect(transport(A).sent).toHaveLength(1);
    expect(transport(C).sent).toEqual([
      [moving, packet(0), false],
      [moving, packet(1), true],
    ]);
    expect(subscribedOn(moving)).toEqual([A, C]);

    clock.advance(GRACE_MS);
    expect(subscribedOn(moving)).toEqual([C]);
    expect(subscribedOn(staying)).toEqual([B]);
    router.close();
  });

  it('closes the transport of a broker no list names once released', async () => {
    const { clock, router, transport } = make();
    router.setBrokers([A, B]);
    const moving = channelMoving([A, B], B, [A], A);
    await router.subscribe(moving);
    const { summary } = router.setBrokers([A]);
    expect(summary.removed).toEqual([B]);
    clock.advance(DELAY_MS);
    expect(transport(B).closed).toBe(0);
    clock.advance(GRACE_MS);
    expect(transport(B).closed).toBe(1);
    expect(router.brokerURIs()).toEqual([A]);
    router.close();
  });
});

describe('Router handover (coordinated)', () => {
  it('reports subscribed, switches on the signal and reports switched after the barriers; stale signals change nothing', async () => {
    const { router, transport, subscribedOn } = make();
    router.setBrokers([A, B]);
    const moving = channelMoving([A, B], A, [A, B, C], C);
    await router.subscribe(moving);
    const { subscribed } = router.setBrokers([A, B, C], { coordination: { time: 7 } });
    await expect(subscribed).resolves.toBe(true);
    expect(subscribedOn(moving)).toEqual([A, C]);

    await expect(router.signal('switch', 6)).resolves.toBe(false);
    await router.publish(moving, packet(0), false);
    expect(transport(A).sent).toHaveLength(1);

    await expect(router.signal('switch', 7)).resolves.toBe(true);
    await router.publish(moving, packet(1), false);
    expect(transport(C).sent.map(([, p]) => p)).toEqual([packet(0), packet(1)]);

    await expect(router.signal('release', 6)).resolves.toBe(false);
    expect(subscribedOn(moving)).toEqual([A, C]);
    await expect(router.signal('release', 7)).resolves.toBe(false);
    expect(subscribedOn(moving)).toEqual([C]);
    router.close();
  });

  it('does not report subscribed for a round a newer list superseded', async () => {
    const { router } = make();
    router.setBrokers([A, B]);
    await router.subscribe('room');
    const first = router.setBrokers([A, B, C], { coordination: { time: 1 } });
    const second = router.setBrokers([A, C], { coordination: { time: 2 } });
    await expect(first.subscribed).resolves.toBe(false);
    await expect(second.subscribed).resolves.toBe(true);
    router.close();
  });
});

describe('Router with a broker down', () => {
  it('routes around it at once, makes at-least-once wait until the stand-in is safe, and goes back a delay after it is up', async () => {
    const { clock, router, transport, subscribedOn, log } = make();
    router.setBrokers([A, B, C]);
    const channel = channelMoving([A, B, C], A, [B, C], B);
    await router.subscribe(channel);
    const down: string[] = [];
    const stop = router.onBrokerDown((uri) => down.push(uri));

    transport(A).status(false);
    expect(down).toEqual([A]);
    expect(log.warnings().filter((w) => w.includes(`broker ${A} is unreachable`))).toHaveLength(1);
    expect(router.connected).toBe(false);
    // Subscribed on the stand-in too.
    expect(subscribedOn(channel)).toEqual([A, B]);
    await expect(router.publish(channel, packet(0), true)).rejects.toMatchObject({ name: 'BrokerUnavailableError' });
    await router.publish(channel, packet(1), false);
    expect(transport(B).sent).toEqual([[channel, packet(1), false]]);

    clock.advance(DELAY_MS);
    await expect(router.publish(channel, packet(2), true)).resolves.toBe(B);

    transport(A).status(true);
    expect(router.connected).toBe(true);
    clock.advance(DELAY_MS - 1);
    await router.publish(channel, packet(3), false);
    expect(transport(B).sent).toHaveLength(3);
    clock.advance(1);
    await router.publish(channel, packet(4), false);
    expect(transport(A).sent).toEqual([[channel, packet(4), false]]);
    // The stand-in's subscription goes a grace period later.
    expect(subscribedOn(channel)).toEqual([A, B]);
    clock.advance(GRACE_MS);
    expect(subscribedOn(channel)).toEqual([A]);

    stop();
    transport(A).status(false);
    expect(down).toEqual([A]);
    router.close();
  });
});

describe('Router.close', () => {
  it('closes every transport once, stops its timers, and is safe to call twice', () => {
    const { clock, router, transports } = make();
    router.setBrokers([A, B]);
    router.setBrokers([A, C]);
    router.close();
    router.close();
    expect([...transports.values()].map((t) => t.closed)).toEqual([1, 1, 1]);
    expect(clock.timerCount).toBe(0);
    expect(router.brokerURIs()).toEqual([]);
  });
});
