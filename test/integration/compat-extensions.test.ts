/**
 * Compatibility 6: whatever we add beyond the original (message ids, handover, drain) is ignored
 * safely by an original peer and never required from one. An ORIGINAL worker (scc-broker-client
 * 9.2.0) in a mixed cluster — our state, one broker ours and one original, two workers ours — gets
 * every message it would get in an all-original cluster, exactly once; and the packet envelope rules
 * an extension must keep are pinned down on the original worker itself: extra top-level packet
 * fields are ignored, `messages` elements reach clients verbatim, and a packet with no messages
 * (a control packet) delivers nothing and breaks nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkeletonRendezvousMapper } from '@scc-ts/shared';
import { Collector, connect, disconnectAll, type Client } from '../../harness/clients.js';
import { exchange, expectExactlyOnce, prime, startMesh, type Mesh } from '../helpers/mesh.js';
import { startOriginalBroker, startOriginalWorker, uriOf, waitForBrokers, waitForJoin } from '../helpers/originals.js';
import { startBroker, startState, startWorker, stopAll, waitReady, type ServiceProcess } from '../helpers/processes.js';

const channels = Array.from({ length: 100 }, (_, i) => `ext/${i}`);
let brokers: ServiceProcess[];
/** [ours, original, ours] */
let workers: ServiceProcess[];
let mesh: Mesh;

beforeAll(async () => {
  const state = await startState();
  brokers = [await startBroker(state.port), await startOriginalBroker(state.port)];
  await Promise.all(brokers.map((b) => waitForJoin(state, 'scc-broker', uriOf(b))));
  workers = [await startWorker(state.port), await startOriginalWorker(state.port), await startWorker(state.port)];
  await Promise.all([workers[0]!, workers[2]!].map((w) => waitReady(w.port)));
  await Promise.all(workers.map((w) => waitForBrokers(w, 2)));
  mesh = await startMesh(workers, channels);
});

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

/** Warnings and errors the original worker logged (scc-broker-client errors, publish or subscribe failures), and its stderr. */
function originalWorkerTrouble(): string[] {
  const original = workers[1]!;
  return [...original.logs.filter((l) => l.level >= 40).map((l) => l.msg), ...original.stderr];
}

describe('an original worker among ours', () => {
  it('gets every message from every worker exactly once, in order per publisher: 100 channels x 5 messages x 3 workers', async () => {
    const result = await exchange(mesh, channels, 'all', 5);
    expectExactlyOnce(mesh, result);
    expect(originalWorkerTrouble()).toEqual([]);
    expect(workers[1]!.alive).toBe(true);
  });

  it('ignores extension fields and control packets from our side: clients get exactly the messages, verbatim', async () => {
    const mapper = new SkeletonRendezvousMapper();
    mapper.setSites(brokers.map(uriOf));
    const injectors = new Map<string, Client>();
    for (const b of brokers) injectors.set(uriOf(b), await connect(b.port, { authKey: 'null', poolIndex: '0' }));
    const sample = channels.slice(0, 20);
    // Both brokers take part, so packets pass through an original and one of ours.
    expect(new Set(sample.map((c) => mapper.findSite(c))).size).toBe(2);

    const collector = new Collector();
    const originalClient = await connect(workers[1]!.port);
    const ourClient = await connect(workers[2]!.port);
    for (const c of sample) await Promise.all([collector.subscribe('original', originalClient, c), collector.subscribe('ours', ourClient, c)]);
    await prime({ ...mesh, labels: ['original', 'ours'], collector }, sample);

    // Packets as a peer with extensions might relay them through the channel's broker, in order.
    const packets = (c: string) => [
      { sender: 'ext-peer', messages: [{ id: `${c}/x1`, text: 'one' }], ids: ['6f1c'], seq: 1, epoch: 7, handover: { phase: 'prepare' } },
      { sender: 'ext-peer', messages: [], ack: [1], drain: true },
      { sender: 'ext-peer', handover: { phase: 'commit', channels: [c] } },
      { sender: 'ext-peer', messages: [{ id: `${c}/x2` }, { id: `${c}/x3`, nested: { a: [1, 2] } }], seq: 2, ids: ['6f1d', '6f1e'] },
    ];
    for (const c of sample) {
      const injector = injectors.get(mapper.findSite(c)!)!;
      for (const packet of packets(c)) await injector.invokePublish(c, packet);
    }
    // A fence from an ordinary worker publish on each channel, on the same broker: once it is in,
    // every injected packet before it has been handled.
    await Promise.all(sample.map((c) => mesh.publishers[0]!.invokePublish(c, { id: `${c}/fence`, probe: true })));
    const heardFence = (label: string, c: string) => (collector.received.get(`${label}|${c}`) ?? []).some((m) => m.id === `${c}/fence`);
    await collector.until(() => sample.every((c) => heardFence('original', c) && heardFence('ours', c)), 10_000, 'fences');

    for (const label of ['original', 'ours']) {
      for (const c of sample) {
        expect(collector.messages(label, c), `${label} ${c}`).toEqual([{ id: `${c}/x1`, text: 'one' }, { id: `${c}/x2` }, { id: `${c}/x3`, nested: { a: [1, 2] } }]);
      }
    }
    expect(originalWorkerTrouble()).toEqual([]);

    // And the original worker carries on as before.
    const after = await exchange(mesh, channels.slice(0, 10), 'after', 3);
    expectExactlyOnce(mesh, after);
  });
});
