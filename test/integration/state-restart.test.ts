/** The state server dies: pub/sub carries on with the last broker list; restarted, the cluster rejoins it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disconnectAll, primeChannels, type Client, type Collector } from '../../harness/clients.js';
import { startBroker, startState, startSubscribedCluster, stopAll, waitForBrokerCount, type TestCluster, waitForMembers } from '../helpers/processes.js';
import { LogEvent } from '@scc-ts/shared';

const channels = Array.from({ length: 20 }, (_, i) => `state/${i}`);
let cluster: TestCluster;
let publisher: Client;
let collector: Collector;

beforeAll(async () => {
  ({ cluster, publisher, collector } = await startSubscribedCluster(channels, { brokers: 2, workers: 2 }));
});

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

async function roundTrip(tag: string): Promise<void> {
  await Promise.all(channels.map((c) => publisher.invokePublish(c, { id: `${tag}-${c}` })));
  await collector.until(() => channels.every((c) => collector.messages('B', c).some((m) => m.id === `${tag}-${c}`)), 5000, tag);
  for (const c of channels) expect(collector.messages('B', c).filter((m) => m.id === `${tag}-${c}`)).toHaveLength(1);
}

describe('the state server goes away', () => {
  it('keeps pub/sub working while it is down, and the cluster rejoins a restarted one', async () => {
    const statePort = cluster.state.port;
    await cluster.state.stop('SIGKILL');
    await Promise.all(cluster.workers.map((w) => w.waitForEvent(LogEvent.StateDisconnected)));
    await roundTrip('while-down');
    for (const w of cluster.workers) {
      const ready = await fetch(`http://127.0.0.1:${w.port}/ready`);
      expect(ready.status, 'workers stay ready without the state server').toBe(200);
    }

    const restarted = await startState({ SCC_STATE_SERVER_PORT: String(statePort) });
    expect(restarted.port).toBe(statePort);
    // Brokers and workers reconnect and join again on their own.
    await waitForMembers(statePort, { brokerCount: 2, workerCount: 2 }, { timeoutMs: 10_000 });

    // The rebuilt view is live: a broker joining now reaches both workers through the new state server.
    const marks = cluster.workers.map((w) => w.logs.length);
    await startBroker(statePort);
    await Promise.all(cluster.workers.map((w, i) => waitForBrokerCount(w, 3, marks[i])));
    collector.clear();
    await primeChannels(publisher, collector, ['B'], channels);
    await roundTrip('after-restart');
  });
});
