/**
 * Compatibility 4: toward an ORIGINAL scc-state 9.x. A spy with the original's handshake rules
 * (auth key at the upgrade, major version 9 at the SocketCluster handshake) records what our broker
 * and worker send and checks it field by field against docs/protocol.md — and against what the original
 * scc-broker 10.0.1 and scc-broker-client 9.2.0 send to the same kind of spy. It then pushes
 * membership updates to our worker the way the original state server does, and checks that the
 * worker acts on them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ANNOUNCED_VERSION, SkeletonRendezvousMapper, LogEvent } from '@scc-ts/shared';
import { Collector, connect, disconnectAll, waitUntil } from '../../harness/clients.js';
import { startOriginalBroker, startOriginalWorker } from '../helpers/originals.js';
import { startBroker, startWorker, stopAll, waitReady, type ServiceProcess } from '../helpers/processes.js';
import { SpyStateServer, type SpyPeer } from '../helpers/spy-state.js';

const KEY = 'spy-state-key';
const AUTH = { SCC_AUTH_KEY: KEY };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** docs/protocol.md: the query parameters of the state-server connection, and nothing else. */
const QUERY_NAMES = ['authKey', 'instancePort', 'instanceType', 'version'];

let spy: SpyStateServer;
/** Stands in for scc-state 10, only to record what the original scc-broker 10.0.1 sends (scc-state 9 refuses it). */
let spy10: SpyStateServer;
let brokerURIs: string[] = [];
let broker: ServiceProcess;
let worker: ServiceProcess;
let ourBroker: SpyPeer;
let ourWorker: SpyPeer;
let originalBroker: SpyPeer;
let originalWorker: SpyPeer;

const isPeer = (type: string, port: number) => (p: SpyPeer) => p.query['instanceType'] === type && p.query['instancePort'] === String(port);

beforeAll(async () => {
  spy = await SpyStateServer.start({ authKey: KEY, brokerURIs: () => brokerURIs });
  spy10 = await SpyStateServer.start({ authKey: KEY, major: 10 });
  broker = await startBroker(spy.port, AUTH);
  ourBroker = (await spy.waitForCall(isPeer('scc-broker', broker.port), 'sccBrokerJoinCluster')).peer;
  brokerURIs = [`ws://127.0.0.1:${broker.port}`];
  worker = await startWorker(spy.port, AUTH);
  ourWorker = (await spy.waitForCall(isPeer('scc-worker', worker.port), 'sccWorkerJoinCluster')).peer;
  const [ob, ow] = await Promise.all([startOriginalBroker(spy10.port, AUTH), startOriginalWorker(spy.port, AUTH)]);
  originalBroker = (await spy10.waitForCall(isPeer('scc-broker', ob.port), 'sccBrokerJoinCluster')).peer;
  originalWorker = (await spy.waitForCall(isPeer('scc-worker', ow.port), 'sccWorkerJoinCluster')).peer;
});

afterAll(async () => {
  disconnectAll();
  await stopAll();
  await spy?.close();
  await spy10?.close();
});

/** `typeof` of every field, to compare payload shapes with the originals'. */
function shape(data: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(data as Record<string, unknown>).map(([k, v]) => [k, v === null ? 'null' : typeof v]));
}

function call(peer: SpyPeer, procedure: string) {
  const found = peer.calls.find((c) => c.procedure === procedure);
  expect(found, `${procedure} call`).toBeDefined();
  return found!;
}

describe('our scc-broker toward an original scc-state 9.x', () => {
  it('is admitted: it announces a major-9 version', () => {
    expect(ourBroker.refusedWith).toBeNull();
    expect(ourBroker.query['version']).toBe(DEFAULT_ANNOUNCED_VERSION);
    expect(Number.parseInt(ourBroker.query['version']!.split('.')[0]!, 10)).toBe(9);
  });

  it('sends exactly the query parameters of docs/protocol.md, as the original broker does', () => {
    expect([...ourBroker.queryNames].sort()).toEqual(QUERY_NAMES);
    expect([...originalBroker.queryNames].sort()).toEqual(QUERY_NAMES);
    expect(ourBroker.query).toEqual({ authKey: KEY, instancePort: String(broker.port), instanceType: 'scc-broker', version: DEFAULT_ANNOUNCED_VERSION });
    // The original broker's values have the same form (it announces its own version, 10.0.1).
    expect(originalBroker.query).toMatchObject({ authKey: KEY, instanceType: 'scc-broker', version: '10.0.1' });
    expect(originalBroker.query['instancePort']).toMatch(/^\d+$/);
  });

  it('joins with sccBrokerJoinCluster {instanceId, instanceIp, instanceIpFamily, instanceSecure}, shaped as the original', () => {
    const join = call(ourBroker, 'sccBrokerJoinCluster');
    expect(Object.keys(join.data as object).sort()).toEqual(['instanceId', 'instanceIp', 'instanceIpFamily', 'instanceSecure']);
    expect(join.data).toMatchObject({ instanceIp: '127.0.0.1', instanceIpFamily: 'IPv4', instanceSecure: false });
    expect((join.data as { instanceId: string }).instanceId).toMatch(UUID);
    expect(shape(join.data)).toEqual(shape(call(originalBroker, 'sccBrokerJoinCluster').data));
    // The original state server sends nothing to brokers, and our broker calls nothing else.
    expect(ourBroker.calls.map((c) => c.procedure)).toEqual(['sccBrokerJoinCluster']);
  });

  it('counts the join acknowledgement as joined (ready)', async () => {
    await waitReady(broker.port);
  });
});

describe('our scc-worker toward an original scc-state 9.x', () => {
  it('sends exactly the query parameters of docs/protocol.md, as the original worker does', () => {
    expect(ourWorker.refusedWith).toBeNull();
    expect([...ourWorker.queryNames].sort()).toEqual(QUERY_NAMES);
    expect([...originalWorker.queryNames].sort()).toEqual(QUERY_NAMES);
    expect(ourWorker.query).toEqual({ authKey: KEY, instancePort: String(worker.port), instanceType: 'scc-worker', version: DEFAULT_ANNOUNCED_VERSION });
    expect(originalWorker.query).toMatchObject({ authKey: KEY, instanceType: 'scc-worker', version: '9.2.0' });
  });

  it('joins with sccWorkerJoinCluster {instanceId, instanceIp, instanceIpFamily}, shaped as the original, plus the sccHandover flag', () => {
    const join = call(ourWorker, 'sccWorkerJoinCluster');
    // sccHandover is our extension (acknowledged handover); an original state server ignores it.
    expect(Object.keys(join.data as object).sort()).toEqual(['instanceId', 'instanceIp', 'instanceIpFamily', 'sccHandover']);
    expect(join.data).toMatchObject({ instanceIp: '127.0.0.1', instanceIpFamily: 'IPv4', sccHandover: true });
    expect((join.data as { instanceId: string }).instanceId).toMatch(UUID);
    const { sccHandover: _flag, ...originalFields } = join.data as Record<string, unknown>;
    expect(shape(originalFields)).toEqual(shape(call(originalWorker, 'sccWorkerJoinCluster').data));
  });

  it('uses the join reply {sccWorkerURIs, sccBrokerURIs, time, sccSourceWorkerURI}: it connects to the broker listed and is ready', async () => {
    await worker.waitForLog(new RegExp(`joined the cluster as ws://127\\.0\\.0\\.1:${worker.port}: 1 brokers, 1 workers`));
    await waitReady(worker.port);
  });

  it('acts on an sccBrokerJoinCluster push {sccBrokerURIs, time, sccSourceWorkerURI}: it subscribes upstream on the new broker', async () => {
    const second = await startBroker(spy.port, AUTH);
    await spy.waitForCall(isPeer('scc-broker', second.port), 'sccBrokerJoinCluster');
    const uris = [...brokerURIs, `ws://127.0.0.1:${second.port}`];
    const mapper = new SkeletonRendezvousMapper();
    mapper.setSites(uris);
    const channels = Array.from({ length: 40 }, (_, i) => `spy-push/${i}`).filter((c) => mapper.findSite(c) === uris[1]);
    expect(channels.length).toBeGreaterThan(5);

    const collector = new Collector();
    const subscriber = await connect(worker.port);
    for (const c of channels) await collector.subscribe('W', subscriber, c);

    const mark = worker.logs.length;
    const self = `ws://127.0.0.1:${worker.port}`;
    await spy.push(ourWorker, 'sccBrokerJoinCluster', { sccBrokerURIs: uris, time: Date.now() + 1000, sccSourceWorkerURI: self });
    await worker.waitForEvent(LogEvent.BrokerList, { brokers: 2, source: 'push' }, 5000, mark);

    // A packet published straight on the new broker, as another worker would: it reaches the local
    // subscriber only if the worker subscribed the channel there after the push.
    const onSecond = await connect(second.port, { authKey: KEY, poolIndex: '0' });
    const deadline = Date.now() + 5000;
    for (let round = 0; channels.some((c) => collector.messages('W', c).length === 0); round++) {
      if (Date.now() > deadline) throw new Error('the worker never heard the new broker');
      const silent = channels.filter((c) => collector.messages('W', c).length === 0);
      await Promise.all(silent.map((c) => onSecond.invokePublish(c, { sender: 'another-worker', messages: [{ id: `via-second-${round}` }] })));
      await collector.until(() => silent.every((c) => collector.messages('W', c).length > 0), 200, 'deliveries').catch(() => undefined);
    }
    brokerURIs = uris;
  });

  it('ignores a push older than the last list applied, and applies the next newer one (sccBrokerLeaveCluster)', async () => {
    const self = `ws://127.0.0.1:${worker.port}`;
    const mark = worker.logs.length;
    // Acknowledged even though stale: the original state server retries a push that fails.
    await spy.push(ourWorker, 'sccBrokerLeaveCluster', { sccBrokerURIs: [brokerURIs[1]], time: 1, sccSourceWorkerURI: self });
    await spy.push(ourWorker, 'sccBrokerLeaveCluster', { sccBrokerURIs: [brokerURIs[0]], time: Date.now() + 2000, sccSourceWorkerURI: self });
    const applied = await worker.waitForEvent(LogEvent.BrokerList, { source: 'push' }, 5000, mark);
    // The first list applied after the mark is the newer one: the stale one would have logged first.
    expect(applied.msg).toContain('1 brokers');
    expect(applied.msg).toContain(`-${brokerURIs[1]}`);
  });

  it('acknowledges the worker-list pushes sccWorkerJoinCluster and sccWorkerLeaveCluster {sccWorkerURIs, time, sccSourceWorkerURI}', async () => {
    const self = `ws://127.0.0.1:${worker.port}`;
    const other = 'ws://127.0.0.1:1';
    await expect(spy.push(ourWorker, 'sccWorkerJoinCluster', { sccWorkerURIs: [self, other], time: Date.now() + 3000, sccSourceWorkerURI: self })).resolves.toBeUndefined();
    await expect(spy.push(ourWorker, 'sccWorkerLeaveCluster', { sccWorkerURIs: [self], time: Date.now() + 4000, sccSourceWorkerURI: self })).resolves.toBeUndefined();
  });

  it('leaves with sccWorkerLeaveCluster and no data on SIGTERM; the broker with sccBrokerLeaveCluster and no data', async () => {
    // A local subscriber is still connected: its unsubscribes race the shutdown (a worker used to crash here).
    const exit = await worker.stop('SIGTERM');
    expect(exit.code, worker.stderr.join('\n')).toBe(0);
    expect((await broker.stop('SIGTERM')).code).toBe(0);
    const workerLeave = call(ourWorker, 'sccWorkerLeaveCluster');
    const brokerLeave = call(ourBroker, 'sccBrokerLeaveCluster');
    expect([workerLeave.hasData, brokerLeave.hasData]).toEqual([false, false]);
  });
});

describe('the announced version', () => {
  it('is what an original scc-state checks: SCC_ANNOUNCE_VERSION=1.0.0 gets both kinds refused with CompatibilityError', async () => {
    const env = { ...AUTH, SCC_ANNOUNCE_VERSION: '1.0.0' };
    const [b, w] = await Promise.all([startBroker(spy.port, env), startWorker(spy.port, env)]);
    for (const [service, type] of [[b, 'scc-broker'], [w, 'scc-worker']] as const) {
      const refused = await spy.waitForRefusal(isPeer(type, service.port));
      expect(refused.refusedWith).toBe('CompatibilityError');
      expect(refused.query['version']).toBe('1.0.0');
      await service.waitForLog(/CompatibilityError/);
    }
    await waitUntil(() => spy.peers.filter((p) => isPeer('scc-broker', b.port)(p)).length >= 2, 5000, 'a retry');
    expect(spy.peers.filter((p) => isPeer('scc-broker', b.port)(p) && p.calls.length > 0)).toEqual([]);
  });
});
