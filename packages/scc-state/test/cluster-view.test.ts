/** The cluster view's data: members, last pushes, channel owners over the list the workers hold, and the dashboard's figures. */
import { describe, expect, it } from 'vitest';
import { createLogger, createMapper, hashToIndex } from '@scc-ts/shared';
import { ClusterView } from '../src/cluster-view.js';
import { EventLog, MAX_RECENT_EVENTS } from '../src/event-log.js';
import { HandoverCoordinator } from '../src/handover.js';
import { PeerStats } from '../src/peer-stats.js';
import { Registry } from '../src/registry.js';
import type { ListKind } from '../src/notifier.js';

const B1 = 'ws://127.0.0.1:8888';
const B2 = 'ws://127.0.0.1:8889';
const B3 = 'ws://127.0.0.1:8890';
const logger = createLogger({ name: 'test', level: 0, format: 'json' });

function setup() {
  const registry = new Registry();
  const pending: Record<ListKind, boolean> = { brokers: false, workers: false };
  const view = new ClusterView({ registry, pending: (kind) => pending[kind] });
  const join = (socketId: string, uri: string, type: 'scc-broker' | 'scc-worker' = 'scc-broker') =>
    registry.join({ socketId, instanceType: type, instanceId: `id-${socketId}`, uri, joinedAt: 1_700_000_000_000 });
  return { registry, pending, view, join };
}

describe('ClusterView', () => {
  it('lists brokers and workers in join order with ISO join times, and the last push of each list', () => {
    const { view, join } = setup();
    join('s1', B2);
    join('s2', B1);
    join('w1', 'ws://127.0.0.1:8000', 'scc-worker');
    view.recordBroadcast('brokers', [B2, B1], 1_700_000_000_500);
    const s = view.snapshot(new URLSearchParams());
    expect(s.brokers.map((b) => b.uri)).toEqual([B2, B1]);
    expect(s.brokers[0]).toEqual({ uri: B2, instanceId: 'id-s1', joinedAt: '2023-11-14T22:13:20.000Z', figures: null, statsRefused: 0 });
    expect(s.workers.map((w) => w.uri)).toEqual(['ws://127.0.0.1:8000']);
    expect(s.lastPush.brokers).toEqual({ time: 1_700_000_000_500, uris: [B2, B1], at: '2023-11-14T22:13:20.500Z' });
    expect(s.lastPush.workers).toBeNull();
    expect(s.pushPending).toEqual({ brokers: false, workers: false });
    expect(s.channel).toBeUndefined();
  });

  it('maps a channel with the workers\' engine and pool index', () => {
    const { view, join } = setup();
    join('s1', B1);
    join('s2', B2);
    const expected = createMapper('skeletonRendezvous');
    expected.setSites([B1, B2]);
    for (const name of ['room1', 'foo', 'bar', 'chat/42', '', 'x']) {
      const c = view.snapshot(new URLSearchParams({ channel: name, poolSize: '5' })).channel!;
      expect(c).toEqual({ name, engine: 'skeletonRendezvous', broker: expected.findSite(name), poolSize: 5, poolIndex: hashToIndex(name, 5) });
    }
    // docs/protocol.md's vectors for these two sites.
    expect(view.snapshot(new URLSearchParams({ channel: 'foo' })).channel?.broker).toBe(B2);
    expect(view.snapshot(new URLSearchParams({ channel: 'room1' })).channel?.broker).toBe(B1);
    const simple = createMapper('simple');
    simple.setSites([B1, B2]);
    expect(view.snapshot(new URLSearchParams({ channel: 'foo', engine: 'simple' })).channel?.broker).toBe(simple.findSite('foo'));
  });

  it('while a broker push is pending, maps by the last list pushed and shows the owner after the push', () => {
    const { view, join, pending } = setup();
    join('s1', B1);
    join('s2', B2);
    view.recordBroadcast('brokers', [B1, B2], 1);
    join('s3', B3);
    pending.brokers = true;
    // With B3 added, room1 moves to B3 (docs/protocol.md vectors); workers still route it to B1.
    const c = view.snapshot(new URLSearchParams({ channel: 'room1' })).channel!;
    expect(c.broker).toBe(B1);
    expect(c.brokerAfterPendingPush).toBe(B3);
    pending.brokers = false;
    expect(view.snapshot(new URLSearchParams({ channel: 'room1' })).channel).not.toHaveProperty('brokerAfterPendingPush');
  });

  it('answers null without brokers and refuses bad parameters', () => {
    const { view } = setup();
    expect(view.snapshot(new URLSearchParams({ channel: 'a' })).channel?.broker).toBeNull();
    const queries: Array<Record<string, string>> = [{ channel: 'a', engine: 'md5' }, { channel: 'a', poolSize: '0' }, { channel: 'a', poolSize: '65' }, { channel: 'a', poolSize: 'x' }, { channel: 'a'.repeat(1025) }];
    for (const query of queries) {
      expect(() => view.snapshot(new URLSearchParams(query)), JSON.stringify(query).slice(0, 60)).toThrow(/engine|poolSize|channel/);
    }
  });
});

describe('ClusterView with figures, events and a handover', () => {
  it("shows each member's figures (or null), link health, the channel spread, the handover and recent events", () => {
    const registry = new Registry();
    const figures = new PeerStats();
    const events = new EventLog();
    const handover = new HandoverCoordinator({ signal: () => undefined, timeoutMs: 60_000, logger });
    const view = new ClusterView({
      registry,
      pending: () => false,
      figures,
      events,
      handover: () => handover.progress(),
      coordinated: (socketId) => socketId === 'w1',
      dashboard: () => ({ intervalMs: 1000, clients: 1, maxClients: 10 }),
    });
    const W1 = 'ws://127.0.0.1:8000';
    registry.join({ socketId: 'b1', instanceType: 'scc-broker', instanceId: 'b1', uri: B1, joinedAt: 1000 });
    registry.join({ socketId: 'b2', instanceType: 'scc-broker', instanceId: null, uri: B2, joinedAt: 1000 });
    registry.join({ socketId: 'w1', instanceType: 'scc-worker', instanceId: 'w1', uri: W1, joinedAt: 1000 });
    registry.join({ socketId: 'w2', instanceType: 'scc-worker', instanceId: null, uri: 'ws://127.0.0.1:8001', joinedAt: 1000 });
    const report = { uptimeMs: 1000, cpuMicros: 0, rssBytes: 1, connections: 2, channels: 5, messagesIn: 0, messagesOut: 0 };
    figures.record('b1', report, 10_000);
    figures.record('b1', { ...report, uptimeMs: 2000, messagesIn: 30 }, 11_000);
    figures.record('w1', { ...report, links: [{ broker: B1, up: true, lastHeardAgoMs: 250, channels: 4 }, { broker: B2, up: false, lastHeardAgoMs: null, channels: 1 }] }, 11_000);
    expect(() => figures.record('b2', { nope: true }, 11_000)).toThrow();
    events.record('joined', 'scc-broker joined', B1, 900);
    events.record('left', 'scc-broker left', B2, 950);
    handover.begin(42, ['w1', 'w2']);
    handover.ack('w2', 42, 'subscribed');

    const s = view.snapshot(new URLSearchParams(), 11_500);
    expect(s.brokers[0]!.figures).toMatchObject({ connections: 2, channels: 5, messagesInPerSecond: 30, ageMs: 500, receivedAt: new Date(11_000).toISOString() });
    expect(s.brokers[1]).toMatchObject({ figures: null, statsRefused: 1 });
    expect(s.channelSpread).toEqual([{ broker: B1, channels: 5 }, { broker: B2, channels: null }]);
    expect(s.workers[0]!.sccHandover).toBe(true);
    expect(s.workers[1]).toMatchObject({ sccHandover: false, figures: null });
    expect(s.workers[0]!.figures!.links).toEqual([
      { broker: B1, up: true, lastHeardAt: new Date(10_750).toISOString(), channels: 4 },
      { broker: B2, up: false, lastHeardAt: null, channels: 1 },
    ]);
    expect(s.handover).toMatchObject({ time: 42, phase: 'subscribed', participants: [W1, 'ws://127.0.0.1:8001'], waiting: [W1] });
    expect(s.events.map((e) => [e.kind, e.uri])).toEqual([['left', B2], ['joined', B1]]);
    expect(s.links).toEqual({ unreachable: [], withdrawn: [] });
    expect(s.dashboard).toEqual({ intervalMs: 1000, clients: 1, maxClients: 10 });
    handover.close();
  });

  it(`keeps the newest ${MAX_RECENT_EVENTS} events`, () => {
    const events = new EventLog();
    for (let i = 0; i < MAX_RECENT_EVENTS + 5; i++) events.record('list', `list ${i}`);
    const recent = events.recent();
    expect(recent).toHaveLength(MAX_RECENT_EVENTS);
    expect(recent[0]!.text).toBe(`list ${MAX_RECENT_EVENTS + 4}`);
  });
});
