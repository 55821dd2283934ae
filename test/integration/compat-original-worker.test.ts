/**
 * Compatibility 2: our scc-state and brokers, one worker ours and one ORIGINAL (socketcluster-server
 * 20 + scc-broker-client 9.2.0): a message published on either worker arrives on the other (and on
 * the publisher's own local subscriber) exactly once, on 100 channels. Run once with each message
 * in its own packet and once with publish batching on both workers (multi-message packets both ways).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { disconnectAll } from '../../harness/clients.js';
import { exchange, expectExactlyOnce, startMesh } from '../helpers/mesh.js';
import { ORIGINAL_VERSIONS, startOriginalWorker, uriOf, waitForBrokers, waitForJoin } from '../helpers/originals.js';
import { startBroker, startState, startWorker, stopAll, waitReady } from '../helpers/processes.js';
import { BrokerSpy } from '../../harness/spy.js';
import { LogEvent } from '@scc-ts/shared';

const channels = Array.from({ length: 100 }, (_, i) => `orig-worker/${i}`);

afterEach(async () => {
  disconnectAll();
  await stopAll();
});

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

/** Our state + 2 of our brokers; worker 0 ours, worker 1 original; both with `workerEnv`. */
async function startMixedWorkers(workerEnv: Record<string, string>) {
  const state = await startState();
  const brokers = await Promise.all([startBroker(state.port), startBroker(state.port)]);
  await Promise.all(brokers.map((b) => b.waitForEvent(LogEvent.Joined)));
  const ours = await startWorker(state.port, workerEnv);
  const original = await startOriginalWorker(state.port, workerEnv);
  await waitReady(ours.port);
  await Promise.all([waitForBrokers(ours, 2), waitForBrokers(original, 2)]);
  await waitForJoin(state, 'scc-worker', uriOf(original));
  return { state, brokers, workers: [ours, original] };
}

describe('our state and brokers, one worker ours and one original (scc-broker-client 9.2.0)', () => {
  it('runs scc-broker-client 9.2.0 from npm', () => {
    expect(ORIGINAL_VERSIONS.brokerClient).toBe('9.2.0');
  });

  it('delivers each message published on either worker exactly once on the other, on 100 channels (pool size 3)', async () => {
    const { state, workers } = await startMixedWorkers({ SCC_CLIENT_POOL_SIZE: '3' });
    // The original worker announces its own version; our state server admits it.
    expect(state.logs.find((l) => l.msg.startsWith(`scc-worker ${uriOf(workers[1]!)} joined`))?.msg).toContain('version 9.2.0');
    const mesh = await startMesh(workers, channels);
    const result = await exchange(mesh, channels, 'ow', 5);
    expectExactlyOnce(mesh, result);
    // Nothing the original worker could not use: no publish or subscribe failures logged on either side.
    expect(workers[1]!.logs.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([]);
  });

  it('does the same with publish batching on both workers (packets of many messages both ways)', async () => {
    const { brokers, workers } = await startMixedWorkers({ SCC_PUB_SUB_BATCH_DURATION: '50' });
    const mesh = await startMesh(workers, channels);
    const spies = await Promise.all(brokers.map((b) => BrokerSpy.attach(b.port, channels)));
    const result = await exchange(mesh, channels, 'owb', 5, spies);
    expectExactlyOnce(mesh, result);
    // The batches really held several messages.
    expect(Math.max(...spies.map((s) => s.maxBatch))).toBeGreaterThan(1);
    expect(workers[1]!.logs.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([]);
  });
});
