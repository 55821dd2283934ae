/** The cluster view's data: members, last pushes, and channel owners over the list the workers hold. */
import { describe, expect, it } from 'vitest';
import { createMapper, hashToIndex } from '@scc-ts/shared';
import { ClusterView } from '../src/cluster-view.js';
import { Registry } from '../src/registry.js';
import type { ListKind } from '../src/notifier.js';

const B1 = 'ws://127.0.0.1:8888';
const B2 = 'ws://127.0.0.1:8889';
const B3 = 'ws://127.0.0.1:8890';

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
