/**
 * Compatibility 1: our scc-state coordinates ORIGINAL brokers (scc-broker 10.0.1 from npm, its own
 * server.js) and our workers; cross-worker pub/sub works, each channel on the broker the mapping names.
 * Every service shares one SCC_AUTH_KEY, as in a production cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkeletonRendezvousMapper } from '@scc-ts/shared';
import { disconnectAll } from '../../harness/clients.js';
import { exchange, expectExactlyOnce, relayingBrokers, startMesh, type Mesh } from '../helpers/mesh.js';
import { ORIGINAL_VERSIONS, startOriginalBroker, uriOf, waitForBrokers, waitForJoin } from '../helpers/originals.js';
import { startState, startWorker, stopAll, waitReady, type ServiceProcess } from '../helpers/processes.js';
import { BrokerSpy } from '../../harness/spy.js';

const AUTH = { SCC_AUTH_KEY: 'compat-1-key' };
const channels = Array.from({ length: 40 }, (_, i) => `orig-brokers/${i}`);
let state: ServiceProcess;
let brokers: ServiceProcess[];
let workers: ServiceProcess[];
let mesh: Mesh;

beforeAll(async () => {
  state = await startState(AUTH);
  brokers = await Promise.all([startOriginalBroker(state.port, AUTH), startOriginalBroker(state.port, AUTH)]);
  await Promise.all(brokers.map((b) => waitForJoin(state, 'scc-broker', uriOf(b))));
  workers = await Promise.all([startWorker(state.port, AUTH), startWorker(state.port, AUTH)]);
  await Promise.all(workers.map((w) => waitReady(w.port)));
  await Promise.all(workers.map((w) => waitForBrokers(w, 2)));
  mesh = await startMesh(workers, channels);
});

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

describe('our scc-state + original scc-broker 10.0.1 + our workers', () => {
  it('runs the npm originals we claim to interoperate with', () => {
    expect(ORIGINAL_VERSIONS.broker).toBe('10.0.1');
  });

  it('admits the original brokers (they announce 10.0.1) and lists them to our workers', () => {
    for (const b of brokers) {
      const joined = state.logs.find((l) => l.msg.startsWith(`scc-broker ${uriOf(b)} joined`));
      expect(joined?.msg).toContain('version 10.0.1');
    }
  });

  it('delivers every message across workers exactly once, each channel through the broker the mapping names', async () => {
    const spies = await Promise.all(brokers.map((b) => BrokerSpy.attach(b.port, channels, AUTH.SCC_AUTH_KEY)));
    const result = await exchange(mesh, channels, 'ob', 5, spies);
    expectExactlyOnce(mesh, result);

    const mapper = new SkeletonRendezvousMapper();
    mapper.setSites(brokers.map(uriOf));
    const relays = relayingBrokers(result, spies, workers.length);
    for (const channel of channels) {
      const owner = mapper.findSite(channel)!;
      expect(relays.get(channel), channel).toEqual([[owner], [owner]]);
    }
    // Both original brokers carry traffic: the cluster really runs on them.
    const used = new Set(channels.map((c) => mapper.findSite(c)));
    expect(used.size).toBe(2);
  });
});
