/**
 * Cross-worker pub/sub on a real cluster: 1 state, 2 brokers, 2 workers, all child processes,
 * clients from socketcluster-client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector, connect, disconnectAll, primeChannels, type Client } from '../../harness/clients.js';
import { startCluster, stopAll, type TestCluster } from '../helpers/processes.js';

let cluster: TestCluster;
let onA: Client;
let onB: Client;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 2, workers: 2 });
  onA = await connect(cluster.workers[0]!.port);
  onB = await connect(cluster.workers[1]!.port);
});

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

describe('pub/sub across workers', () => {
  it('delivers a publish on worker A to a subscriber on B and a local subscriber on A, each exactly once', async () => {
    const collector = new Collector();
    await collector.subscribe('A', onA, 'room1');
    await collector.subscribe('B', onB, 'room1');
    const publisher = await connect(cluster.workers[0]!.port);
    await primeChannels(publisher, collector, ['A', 'B'], ['room1']);

    await publisher.invokePublish('room1', { id: 'hello' });
    await collector.until(() => collector.messages('B', 'room1').length >= 1 && collector.messages('A', 'room1').length >= 1);
    // Give a duplicate time to show up: a second copy would arrive within the same round trip.
    await new Promise((r) => setTimeout(r, 300));
    expect(collector.messages('A', 'room1').map((m) => m.id)).toEqual(['hello']);
    expect(collector.messages('B', 'room1').map((m) => m.id)).toEqual(['hello']);
  });

  it('delivers every message exactly once on 100 channels with subscribers on both workers', async () => {
    const channels = Array.from({ length: 100 }, (_, i) => `bulk/${i}`);
    const collector = new Collector();
    for (const channel of channels) {
      await Promise.all([collector.subscribe('A', onA, channel), collector.subscribe('B', onB, channel)]);
    }
    const pubA = await connect(cluster.workers[0]!.port);
    const pubB = await connect(cluster.workers[1]!.port);
    await primeChannels(pubA, collector, ['A', 'B'], channels);
    await primeChannels(pubB, collector, ['A', 'B'], channels);

    const perChannel = 5;
    const sends: Promise<unknown>[] = [];
    for (const channel of channels) {
      for (let i = 0; i < perChannel; i++) {
        sends.push(pubA.invokePublish(channel, { id: `a-${channel}-${i}` }));
        sends.push(pubB.invokePublish(channel, { id: `b-${channel}-${i}` }));
      }
    }
    await Promise.all(sends);
    const expected = perChannel * 2;
    await collector.until(
      () => channels.every((c) => collector.messages('A', c).length >= expected && collector.messages('B', c).length >= expected),
      15_000,
      'all deliveries',
    );
    await new Promise((r) => setTimeout(r, 300));

    for (const label of ['A', 'B']) {
      for (const channel of channels) {
        const ids = collector.messages(label, channel).map((m) => m.id);
        expect(ids.length, `${label} ${channel}`).toBe(expected);
        expect(new Set(ids).size, `${label} ${channel} duplicates`).toBe(expected);
        // Per-publisher order is kept on one channel.
        const fromA = ids.filter((id) => id.startsWith('a-'));
        expect(fromA).toEqual(Array.from({ length: perChannel }, (_, i) => `a-${channel}-${i}`));
      }
    }
  });
});
