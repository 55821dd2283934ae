/**
 * The launcher's replicated state (`stateReplicas`): three replicas through a real etcd, peers dialing
 * replica 0; `leader()` names the one leader, `killLeader()` SIGKILLs it and restarts it on its port,
 * `waitForLeader()` finds the next term's; the cluster's stop ends every replica, the restarted one too.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster } from '../../harness/cluster.js';
import { startEtcd, type Etcd } from '../../harness/etcd.js';
import { clusterSnapshot } from '../../harness/ready.js';
import { stopAll } from '../../harness/service-process.js';
import { leadersAmong, NoLeaderError } from '../../harness/state-replicas.js';

let etcd: Etcd | undefined;
let cluster: Cluster | undefined;
afterAll(async () => {
  await cluster?.close();
  await etcd?.stop();
  await stopAll();
});

describe('Cluster with stateReplicas', () => {
  it('starts replicas that elect one leader, kills it, finds the next term, restarts it on its port, and stops them all', async () => {
    etcd = await startEtcd();
    cluster = await Cluster.start({
      brokers: 1,
      workers: 1,
      fixedPorts: true,
      stateReplicas: { count: 3, etcdEndpoint: etcd.endpoint, prefix: `/harness-${randomUUID()}/`, env: { SCC_STATE_SERVER_LEASE_TTL: '2000' } },
    });
    expect(cluster.replicas.map((r) => r.name)).toEqual(['state r1', 'state r2', 'state r3']);
    expect(cluster.state).toBe(cluster.replicas[0]);
    expect(new Set(cluster.replicas.map((r) => r.port)).size).toBe(3);
    // Peers dialed replica 0; its view (its own, or the leader's through it) lists them.
    const view = await clusterSnapshot(cluster.statePort);
    expect([view.brokers.length, view.workers.length]).toEqual([1, 1]);

    const first = await cluster.leader();
    expect(await leadersAmong(cluster.replicas)).toEqual([first]);
    const victim = cluster.replicas[first.index]!;
    const kill = await cluster.killLeader();
    expect([kill.index, kill.term]).toEqual([first.index, first.term]);
    expect(victim.alive).toBe(false);
    const next = await cluster.waitForLeader(kill.term, 15_000, 20);
    expect(next.term).toBeGreaterThan(kill.term);
    expect(next.at).toBeGreaterThan(kill.killedAt);
    const restarted = await kill.restarted;
    expect(restarted.port).toBe(victim.port);
    expect(cluster.replicas[first.index]).toBe(restarted);
    expect(cluster.retired).toContain(victim);
    expect(cluster.doubleLeaders).toBe(0);
    await expect(cluster.waitForLeader(next.term, 300)).rejects.toBeInstanceOf(NoLeaderError);

    await cluster.stop();
    expect(cluster.all().every((p) => !p.alive)).toBe(true);
  }, 60_000);
});
