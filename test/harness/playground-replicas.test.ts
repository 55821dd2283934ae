/**
 * The playground with replicated state servers (`pnpm start -- --state-replicas 3`): it starts an
 * etcd and three replicas; "restart the state server" SIGKILLs the leader, a follower takes over and
 * the cluster carries on (pub/sub through the workers, every member listed again); SIGINT stops every
 * child, etcd included, and exits 0.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Collector, connect, disconnectAll, primeChannels } from '../../harness/clients.js';
import { stopAll, type ServiceProcess } from '../../harness/service-process.js';
import { pidGone, startPlaygroundOnFreePort, type PlaygroundStatus } from '../helpers/playground.js';

const WAIT_MS = 60_000;
let playground: ServiceProcess | undefined;

afterAll(async () => {
  disconnectAll();
  await playground?.stop('SIGINT', 20_000);
  await stopAll();
});

describe('the playground with three state server replicas', () => {
  it('fails the leader over on "restart the state server", carries on, and stops everything on SIGINT', { timeout: 3 * WAIT_MS }, async () => {
    const started = await startPlaygroundOnFreePort({ SCC_LOG_FORMAT: 'json', SCC_STATE_SERVER_STARTUP_DELAY: '0', SCC_STATE_SERVER_SCALE_OUT_DELAY: '300' }, ['--state-replicas', '3']);
    playground = started.playground;
    const control = `http://127.0.0.1:${started.controlPort}`;
    const status = async (): Promise<PlaygroundStatus | undefined> => (await fetch(`${control}/status`).then((r) => r.json(), () => undefined)) as PlaygroundStatus | undefined;
    const deadline = Date.now() + WAIT_MS;
    let ready = await status();
    while (ready?.phase !== 'ready') {
      if (!playground.alive) throw new Error(`the playground exited: ${playground.tail(20)}`);
      if (Date.now() > deadline) throw new Error(`not ready within ${WAIT_MS} ms: ${JSON.stringify(ready)}`);
      await new Promise((r) => setTimeout(r, 200));
      ready = await status();
    }
    expect(ready.children.filter((c) => c.role === 'state' && c.state === 'running')).toHaveLength(3);
    // The leader reads the replica list from etcd every half lease.
    type View = { replication: { store: string; replicas: unknown[] } };
    const readView = async (): Promise<View> => (await (await fetch(`http://127.0.0.1:${ready!.statePort}/cluster.json`)).json()) as View;
    let view = await readView();
    for (let i = 0; i < 50 && view.replication.replicas.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      view = await readView();
    }
    expect(view.replication.store).toBe('etcd');
    expect(view.replication.replicas).toHaveLength(3);

    const workers = ready.children.filter((c) => c.role === 'worker');
    const collector = new Collector();
    await collector.subscribe('b', await connect(workers[1]!.port), 'room');
    const publisher = await connect(workers[0]!.port);
    await primeChannels(publisher, collector, ['b'], ['room']);

    const res = await fetch(`${control}/actions/restart-state`, { method: 'POST', headers: { Origin: `http://127.0.0.1:${ready.statePort}` } });
    const body = (await res.json()) as { done: string; membership: { brokers: number[]; workers: number[] }; settled: boolean };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.done).toMatch(/^killed the state leader r\d \(term \d+\); r\d leads \(term \d+\) \d+ ms later, and r\d came back as a replica$/);
    expect(body.settled).toBe(true);
    expect(body.membership.brokers).toHaveLength(2);
    expect(body.membership.workers).toHaveLength(2);
    await publisher.invokePublish('room', { id: 'after-failover' });
    await collector.until(() => collector.messages('b', 'room').some((m) => m.id === 'after-failover'), 10_000, 'a message after the failover');

    const pids = (await status())!.children.filter((c) => c.state === 'running').map((c) => c.pid);
    const exit = await playground.stop('SIGINT', 30_000);
    expect(exit.code).toBe(0);
    for (const pid of pids) expect(pidGone(pid), `pid ${pid} gone`).toBe(true);
    expect(playground.logs.some((l) => l.msg.includes('all processes stopped'))).toBe(true);
  });
});
