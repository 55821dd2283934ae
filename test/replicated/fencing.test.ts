/**
 * Fencing of replicated scc-state, piece by piece: a worker refuses a push of an older term than it
 * has heard; the membership record is written only under the term that leads; a relayed peer's
 * address is taken only with a replica's proof.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import socketClusterClient from 'socketcluster-client';
import { Etcd3 } from 'etcd3';
import { LogEvent, createLogger } from '@scc-ts/shared';
import { EtcdStore } from '../../packages/scc-state/src/leadership/etcd.js';
import { NotLeaderError, type LeadershipHandlers, type MembershipRecord } from '../../packages/scc-state/src/leadership/store.js';
import { RELAYED_FOR_HEADER, RELAY_PROOF_HEADER, relayProof } from '../../packages/scc-state/src/coordinator.js';
import { waitUntil } from '../../harness/clients.js';
import { startEtcd, type Etcd } from '../helpers/replicas.js';
import { SpyStateServer } from '../helpers/spy-state.js';
import { startState, startWorker, stopAll } from '../helpers/processes.js';

let etcd: Etcd;
const logger = createLogger({ name: 'fencing-test', level: 1, format: 'json' });

beforeAll(async () => {
  etcd = await startEtcd();
}, 30_000);

afterAll(async () => {
  await stopAll();
  await etcd?.stop();
});

const record = (term: number, brokers: string[]): MembershipRecord => ({ version: 1, term, brokers, workers: [], withdrawn: [], lastTime: term, handover: null, savedAt: Date.now() });

function recorder(): LeadershipHandlers & { events: Array<{ kind: string; term?: number; record?: MembershipRecord | null; at: number }> } {
  const events: Array<{ kind: string; term?: number; record?: MembershipRecord | null; at: number }> = [];
  return {
    events,
    elected: (term, r) => events.push({ kind: 'elected', term, record: r, at: Date.now() }),
    deposed: () => events.push({ kind: 'deposed', at: Date.now() }),
    leaderChanged: () => undefined,
    storeStatus: () => undefined,
  };
}

describe('the membership record is written only under the leading term', () => {
  it('a replaced leader’s save is refused with NotLeaderError and changes nothing; the next leader starts from the last record', async () => {
    const prefix = `/fence-${randomUUID()}/`;
    const make = (id: string) => new EtcdStore({ self: { id, address: `127.0.0.1:${id.length}` }, leaseTtlMs: 2000, endpoints: [etcd.endpoint], prefix, logger });
    const a = make('a');
    const aEvents = recorder();
    a.start(aEvents);
    await waitUntil(() => aEvents.events.some((e) => e.kind === 'elected'), 5000, 'a elected');
    const aTerm = aEvents.events[0]!.term!;
    await a.save(record(aTerm, ['ws://10.0.0.1:8888']));

    // The leader key vanishes behind a's back (as when its lease expires in etcd); b is elected.
    const client = new Etcd3({ hosts: [etcd.endpoint] });
    await client.delete().key(`${prefix}leader`);
    const b = make('b');
    const bEvents = recorder();
    b.start(bEvents);
    await waitUntil(() => bEvents.events.some((e) => e.kind === 'elected'), 5000, 'b elected');
    const elected = bEvents.events.find((e) => e.kind === 'elected')!;
    expect(elected.term).toBeGreaterThan(aTerm);
    expect(elected.record?.brokers).toEqual(['ws://10.0.0.1:8888']);

    await expect(a.save(record(aTerm, ['ws://10.6.6.6:1']))).rejects.toBeInstanceOf(NotLeaderError);
    const stored = JSON.parse((await client.get(`${prefix}membership`).string()) ?? 'null') as MembershipRecord;
    expect(stored.brokers, 'the replaced leader wrote nothing').toEqual(['ws://10.0.0.1:8888']);
    await waitUntil(() => aEvents.events.some((e) => e.kind === 'deposed'), 5000, 'a deposed');
    await Promise.all([a.close(), b.close()]);
    client.close();
  }, 20_000);
});

describe('etcd stopped and started again', () => {
  it('the leader steps down within its lease; back, a leader is elected from the record', async () => {
    const prefix = `/stop-${randomUUID()}/`;
    const store = new EtcdStore({ self: { id: 'solo', address: '127.0.0.1:1' }, leaseTtlMs: 2000, endpoints: [etcd.endpoint], prefix, logger });
    const events = recorder();
    store.start(events);
    await waitUntil(() => events.events.some((e) => e.kind === 'elected'), 5000, 'elected');
    await store.save(record(events.events[0]!.term!, ['ws://10.0.0.7:8888']));
    const haltedAt = Date.now();
    await etcd.halt();
    await waitUntil(() => events.events.some((e) => e.kind === 'deposed'), 4000, 'deposed');
    const deposedAt = events.events.find((e) => e.kind === 'deposed')!.at;
    expect(deposedAt - haltedAt, 'stepped down within the lease').toBeLessThanOrEqual(2000);
    await etcd.restart();
    await waitUntil(() => events.events.filter((e) => e.kind === 'elected').length === 2, 10_000, 'elected again');
    const again = events.events.filter((e) => e.kind === 'elected')[1]!;
    expect(again.term).toBeGreaterThan(events.events[0]!.term!);
    expect(again.record?.brokers).toEqual(['ws://10.0.0.7:8888']);
    await store.close();
  }, 30_000);
});

describe('a worker and a replaced leader', () => {
  it('refuses a push of an older term (StaleTermError) and applies the newer ones', async () => {
    const spy = await SpyStateServer.start({ authKey: null, brokerURIs: () => [] });
    const worker = await startWorker(spy.port);
    const { peer } = await spy.waitForCall((p) => p.query['instanceType'] === 'scc-worker', 'sccWorkerJoinCluster');
    const push = (term: number, uris: string[], time: number) => peer.socket!.invoke('sccBrokerJoinCluster', { sccBrokerURIs: uris, time, sccTerm: term }, {});
    const from = worker.mark();
    await push(5, ['ws://127.0.0.1:1'], Date.now());
    await worker.waitForEvent(LogEvent.BrokerList, { brokers: 1 }, 5000, from);
    // The replaced leader (term 4) pushes a newer time: refused by name, nothing applied.
    const error = await push(4, ['ws://127.0.0.1:1', 'ws://127.0.0.1:2'], Date.now() + 60_000).catch((e: unknown) => e as Error);
    expect((error as Error).name).toBe('StaleTermError');
    // A new leader (term 6) may use an older clock: its list applies.
    const beforeNewTerm = worker.mark();
    await push(6, ['ws://127.0.0.1:3'], 1);
    await worker.waitForEvent(LogEvent.BrokerList, { brokers: 1 }, 5000, beforeNewTerm);
    expect(worker.logs.filter((l) => l['event'] === LogEvent.BrokerList && l['brokers'] === 2)).toHaveLength(0);
    await waitUntil(() => worker.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('state server term 6')), 5000, 'the new term logged');
    await worker.stop();
  }, 20_000);
});

describe('relayed peers', () => {
  it('takes a relayed address only with a valid proof', async () => {
    const leader = await startState({
      SCC_STATE_SERVER_ETCD_ENDPOINTS: etcd.endpoint,
      SCC_STATE_SERVER_ETCD_PREFIX: `/relay-${randomUUID()}/`,
      SCC_INSTANCE_IP: '127.0.0.1',
      SCC_AUTH_KEY: 'k3y',
    });
    await waitUntil(() => leader.logs.some((l) => l['event'] === LogEvent.Elected), 10_000, 'elected');
    const join = async (port: number, headers: Record<string, string>) => {
      const socket = socketClusterClient.create({
        hostname: '127.0.0.1',
        port: leader.port,
        autoReconnect: false,
        query: { authKey: 'k3y', instancePort: String(port), instanceType: 'scc-broker', version: '10.0.1' },
        wsOptions: { headers },
      } as Parameters<typeof socketClusterClient.create>[0]);
      await socket.invoke('sccBrokerJoinCluster', { instanceId: `b${port}` });
      return socket;
    };
    const forged = await join(1001, { [RELAYED_FOR_HEADER]: '10.9.9.9', [RELAY_PROOF_HEADER]: 'not-a-proof' });
    const proven = await join(1002, { [RELAYED_FOR_HEADER]: '10.9.9.8', [RELAY_PROOF_HEADER]: relayProof('k3y', '10.9.9.8') });
    const view = (await (await fetch(`http://127.0.0.1:${leader.port}/cluster.json`)).json()) as { brokers: Array<{ uri: string }> };
    const uris = view.brokers.map((b) => b.uri).sort();
    expect(uris[0]).toBe('ws://10.9.9.8:1002');
    // The forged header is ignored: the address the leader sees (IPv4-mapped on a dual-stack socket) is used.
    expect(uris[1]).toMatch(/^ws:\/\/(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):1001$/);
    forged.disconnect();
    proven.disconnect();
  }, 20_000);
});
