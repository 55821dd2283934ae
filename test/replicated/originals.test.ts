/**
 * Original peers (scc-broker 10.0.1, scc-broker-client 9.2.0 in an original worker) with replicated
 * scc-state: they know one state server address (a follower's), and keep working through a failover
 * of the leader: they re-join the new leader through it, and messages cross between the original
 * worker and ours both ways before and after.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, disconnectAll, waitUntil, Collector, type Client } from '../../harness/clients.js';
import { startEtcd, replicaEnv as replicaEnvOf, waitForLeaderAmong, type Etcd } from '../helpers/replicas.js';
import { startBroker, startState, startWorker, stopAll, uriOf, waitForBrokerCount, type ServiceProcess } from '../helpers/processes.js';
import { startOriginalBroker, startOriginalWorker, waitForBrokers, waitForJoin } from '../helpers/originals.js';

let etcd: Etcd;
const replicas: ServiceProcess[] = [];
let prefix: string;
let via: ServiceProcess;
let brokers: ServiceProcess[];
let ours: ServiceProcess;
let original: ServiceProcess;
let toOurs: Client;
let toOriginal: Client;
const collector = new Collector();
const channels = ['orig/a', 'orig/b', 'orig/c', 'orig/d'];

const replicaEnv = (index: number, port?: number): Record<string, string> => ({
  ...replicaEnvOf({ count: 2, etcdEndpoint: etcd.endpoint, prefix, env: { SCC_STATE_SERVER_LEASE_TTL: '2000', SCC_STATE_SERVER_REJOIN_TIMEOUT: '4000' } }, index),
  ...(port === undefined ? {} : { SCC_STATE_SERVER_PORT: String(port) }),
});

/** The leader's index in `replicas` and its term, once one of a term above `afterTerm` leads. */
async function leaderIndex(afterTerm = 0, timeoutMs = 10_000): Promise<{ index: number; term: number }> {
  return waitForLeaderAmong(replicas, { afterTerm, timeoutMs });
}

/** One message each way on every channel arrives exactly once. */
async function crossBothWays(tag: string): Promise<void> {
  await Promise.all(channels.map((c) => toOurs.invokePublish(c, { id: `${tag}-from-ours-${c}` })));
  await Promise.all(channels.map((c) => toOriginal.invokePublish(c, { id: `${tag}-from-original-${c}` })));
  await waitUntil(
    () => channels.every((c) => collector.messages('original', c).some((m) => m.id === `${tag}-from-ours-${c}`) && collector.messages('ours', c).some((m) => m.id === `${tag}-from-original-${c}`)),
    10_000,
    `${tag} crossed both ways`,
  );
  for (const c of channels) {
    expect(collector.messages('original', c).filter((m) => m.id === `${tag}-from-ours-${c}`)).toHaveLength(1);
    expect(collector.messages('ours', c).filter((m) => m.id === `${tag}-from-original-${c}`)).toHaveLength(1);
  }
}

beforeAll(async () => {
  etcd = await startEtcd();
  prefix = `/orig-${randomUUID()}/`;
  for (let i = 0; i < 2; i++) replicas.push(await startState(replicaEnv(i)));
  const { index } = await leaderIndex();
  via = replicas[1 - index]!;
  brokers = [await startOriginalBroker(via.port), await startBroker(via.port)];
  await Promise.all(brokers.map((b) => waitForJoin(via, 'scc-broker', uriOf(b))));
  ours = await startWorker(via.port);
  original = await startOriginalWorker(via.port);
  await waitForBrokerCount(ours, 2, 0, 15_000);
  await waitForBrokers(original, 2, 0, 15_000);
  toOurs = await connect(ours.port);
  toOriginal = await connect(original.port);
  for (const c of channels) {
    await collector.subscribe('ours', toOurs, c);
    await collector.subscribe('original', toOriginal, c);
  }
}, 60_000);

afterAll(async () => {
  disconnectAll();
  await stopAll();
  await etcd?.stop();
});

describe('original peers through a failover of replicated scc-state', () => {
  it('re-join the new leader through the follower they know, and messages cross both ways before and after', async () => {
    await crossBothWays('before');
    const { index, term } = await leaderIndex();
    const killedAt = Date.now();
    const old = replicas[index]!;
    await old.stop('SIGKILL');
    replicas[index] = await startState(replicaEnv(index, old.port));
    await leaderIndex(term, 8000);
    // Every original peer re-joins the new leader (through the address it knows).
    for (const b of brokers) await waitForJoin(via, 'scc-broker', uriOf(b), killedAt);
    await waitForJoin(via, 'scc-worker', uriOf(original), killedAt);
    await crossBothWays('after');
    const view = (await (await fetch(`http://127.0.0.1:${via.port}/cluster.json`)).json()) as { brokers: unknown[]; workers: unknown[] };
    expect(view.brokers).toHaveLength(2);
    expect(view.workers).toHaveLength(2);
  }, 60_000);
});
