/**
 * The worker's optional modes end to end: the `simple` mapping engine, a client pool of 3 per broker
 * and publish batching (`SCC_PUB_SUB_BATCH_DURATION`): every message still arrives exactly once, in
 * order per publisher, and batches really carry several messages per packet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimpleMapper, LogEvent } from '@scc-ts/shared';
import { disconnectAll, waitUntil, type Client, type Collector } from '../../harness/clients.js';
import { startSubscribedCluster, stopAll, type TestCluster } from '../helpers/processes.js';
import { BrokerSpy } from '../../harness/spy.js';

const channels = Array.from({ length: 30 }, (_, i) => `opt/${i}`);
let cluster: TestCluster;
let publisher: Client;
let collector: Collector;

beforeAll(async () => {
  ({ cluster, publisher, collector } = await startSubscribedCluster(channels, {
    brokers: 2,
    workers: 2,
    workerEnv: { SCC_MAPPING_ENGINE: 'simple', SCC_CLIENT_POOL_SIZE: '3', SCC_PUB_SUB_BATCH_DURATION: '20' },
  }));
});

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

describe('simple engine, pool of 3, batching', () => {
  it('delivers exactly once, in order, through the broker the simple engine names, in batches', async () => {
    const ports = cluster.brokers.map((b) => b.port);
    const spies = await Promise.all(ports.map((p) => BrokerSpy.attach(p, channels)));
    // The simple engine maps over the list as the state server sent it: join order.
    const order = (await cluster.workers[0]!.waitForEvent(LogEvent.BrokerList, { source: 'join' })).msg.match(/ws:\/\/127\.0\.0\.1:\d+/g)!;
    const mapper = new SimpleMapper();
    mapper.setSites(order);
    collector.clear();

    const perChannel = 10;
    for (let i = 0; i < perChannel; i++) {
      for (const c of channels) void publisher.transmitPublish(c, { id: `${c}#${i}` });
    }
    await collector.until(() => channels.every((c) => collector.messages('B', c).length >= perChannel), 10_000, 'all messages');
    await waitUntil(() => channels.every((c) => spies.some((s) => s.relayed(c, `${c}#0`))), 5000, 'spies');
    await new Promise((r) => setTimeout(r, 200));
    for (const c of channels) {
      expect(collector.messages('B', c).map((m) => m.id), c).toEqual(Array.from({ length: perChannel }, (_, i) => `${c}#${i}`));
      const relayedBy = spies.filter((s) => s.relayed(c, `${c}#0`)).map((s) => s.uri);
      expect(relayedBy, c).toEqual([mapper.findSite(c)]);
    }
    expect(Math.max(...spies.map((s) => s.maxBatch)), 'messages per packet').toBeGreaterThan(1);
    // Three pool connections per broker per worker (plus the spy): the brokers saw them.
    for (const b of cluster.brokers) expect(b.logs.filter((l) => /worker connected/.test(l.msg)).length).toBeGreaterThanOrEqual(6);
  });
});
