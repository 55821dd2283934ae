/**
 * Compatibility 3, fully mixed: our scc-state; one broker ours and one original (scc-broker 10.0.1);
 * one worker ours and one original (scc-broker-client 9.2.0). Then a broker of each kind joins, and
 * one of each kind leaves. After every change both workers must pick the same broker for every
 * channel: spies subscribed straight on every broker record which broker relays each worker's
 * publishes, and both must be the broker skeleton rendezvous names for the current list, while every
 * message still reaches both workers exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkeletonRendezvousMapper } from '@scc-ts/shared';
import { disconnectAll } from '../../harness/clients.js';
import { exchange, expectExactlyOnce, prime, relayingBrokers, startMesh, type Mesh } from '../helpers/mesh.js';
import { startOriginalBroker, startOriginalWorker, uriOf, waitForBrokers, waitForJoin } from '../helpers/originals.js';
import { startBroker, startState, startWorker, stopAll, waitReady, type ServiceProcess } from '../helpers/processes.js';
import { BrokerSpy } from '../../harness/spy.js';

const channels = Array.from({ length: 60 }, (_, i) => `mixed/${i}`);
let state: ServiceProcess;
let workers: ServiceProcess[];
let mesh: Mesh;
/** Brokers in the cluster now, each with its spy. */
const live = new Map<ServiceProcess, BrokerSpy>();

beforeAll(async () => {
  state = await startState();
  const ours = await startBroker(state.port);
  const original = await startOriginalBroker(state.port);
  await Promise.all([ours, original].map((b) => waitForJoin(state, 'scc-broker', uriOf(b))));
  workers = [await startWorker(state.port), await startOriginalWorker(state.port)];
  await waitReady(workers[0]!.port);
  await Promise.all(workers.map((w) => waitForBrokers(w, 2)));
  for (const b of [ours, original]) live.set(b, await BrokerSpy.attach(b.port, channels));
  mesh = await startMesh(workers, channels);
});

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

/** Applies a membership change and waits until both workers hold a list of the new size. */
async function change(apply: () => Promise<void>): Promise<void> {
  const marks = workers.map((w) => w.logs.length);
  await apply();
  await Promise.all(workers.map((w, i) => waitForBrokers(w, live.size, marks[i])));
}

/** Both workers route every channel through the same broker, the one the mapping names, and deliver exactly once. */
async function expectAgreement(tag: string): Promise<void> {
  await prime(mesh, channels);
  const spies = [...live.values()];
  const result = await exchange(mesh, channels, tag, 2, spies);
  expectExactlyOnce(mesh, result);

  const mapper = new SkeletonRendezvousMapper();
  mapper.setSites([...live.keys()].map(uriOf));
  const relays = relayingBrokers(result, spies, workers.length);
  const wrong: string[] = [];
  for (const channel of channels) {
    const owner = mapper.findSite(channel)!;
    const [ours, original] = relays.get(channel)!;
    if (ours?.join() !== owner || original?.join() !== owner) {
      wrong.push(`${channel}: owner ${owner}, our worker used [${ours?.join(' ')}], original worker used [${original?.join(' ')}]`);
    }
  }
  expect(wrong, `${tag}: channels the two kinds of worker routed differently`).toEqual([]);
  // Every broker of the list carries some channels, so the new ones are really exercised.
  const owners = new Set(channels.map((c) => mapper.findSite(c)));
  expect(owners.size).toBe(live.size);
}

describe('fully mixed cluster: brokers and workers of both kinds, brokers joining and leaving', () => {
  it("the state server's view has figures from our peers and none from the originals (which ignore nothing they are sent)", async () => {
    type Member = { uri: string; figures: { connections: number } | null; sccHandover?: boolean };
    const view = async () => (await (await fetch(`http://127.0.0.1:${state.port}/cluster.json`)).json()) as { brokers: Member[]; workers: Member[] };
    const [oursBroker, originalBroker] = [...live.keys()];
    const ourWorker = uriOf(workers[0]!);
    // Ours report right after joining (then every SCC_STATS_INTERVAL); the originals never do.
    await expect.poll(async () => (await view()).workers.find((w) => w.uri === ourWorker)?.figures !== null, { timeout: 10_000 }).toBe(true);
    await expect.poll(async () => (await view()).brokers.find((b) => b.uri === uriOf(oursBroker!))?.figures !== null, { timeout: 10_000 }).toBe(true);
    const v = await view();
    expect(v.brokers.find((b) => b.uri === uriOf(originalBroker!))!.figures).toBeNull();
    expect(v.workers.find((w) => w.uri === uriOf(workers[1]!))).toMatchObject({ figures: null, sccHandover: false });
    expect(v.workers.find((w) => w.uri === ourWorker)!.sccHandover).toBe(true);
  });

  it('agrees with 1 broker of each kind', async () => {
    await expectAgreement('start');
  });

  it('agrees after one of our brokers joins', async () => {
    await change(async () => {
      const b = await startBroker(state.port);
      live.set(b, await BrokerSpy.attach(b.port, channels));
    });
    await expectAgreement('ours-joined');
  });

  it('agrees after an original broker joins', async () => {
    await change(async () => {
      const b = await startOriginalBroker(state.port);
      live.set(b, await BrokerSpy.attach(b.port, channels));
    });
    await expectAgreement('original-joined');
  });

  it('agrees after one of our brokers leaves (SIGTERM, announced leave)', async () => {
    const leaving = [...live.keys()].find((b) => b.name === 'broker')!;
    await change(async () => {
      live.delete(leaving);
      await leaving.stop('SIGTERM');
    });
    await expectAgreement('ours-left');
  });

  it('agrees after an original broker leaves (SIGTERM: it exits without a leave call)', async () => {
    const leaving = [...live.keys()].find((b) => b.name === 'original-broker')!;
    await change(async () => {
      live.delete(leaving);
      await leaving.stop('SIGTERM');
    });
    await expectAgreement('original-left');
    expect([...live.keys()].map((b) => b.name).sort()).toEqual(['broker', 'original-broker']);
  });
});
