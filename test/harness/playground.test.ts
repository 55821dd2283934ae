/**
 * The playground (`pnpm start`, scripts/local-cluster.ts) run as a child on free ports, so it does not
 * clash with a developer's own: a healthy start prints no warning (JSON logs) and one info line per
 * expected wait; the processes are titled in ps; a broker killed from outside leaves the cluster
 * carrying on (pub/sub through the workers still works); the control API adds a broker and a
 * worker, drains a broker and restarts the state server, and refuses other origins; SIGINT stops
 * every child and exits 0.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { Collector, connect, disconnectAll, primeChannels } from '../../harness/clients.js';
import { clusterSnapshot, waitForMembers } from '../../harness/ready.js';
import { stopAll, type ServiceProcess } from '../../harness/service-process.js';
import { pidGone, startPlaygroundOnFreePort, type ChildStatus, type PlaygroundStatus } from '../helpers/playground.js';

/** Bound on the playground coming up, and on each action, ms (two shared cores). */
const WAIT_MS = 90_000;
/** Long enough that both workers are refused at least once while the brokers join, ms. */
const STARTUP_DELAY_MS = 8_000;
const WARN = 40;
const INFO = 30;

interface JsonLine {
  level: number;
  msg: string;
  name: string;
  [key: string]: unknown;
}

let playground: ServiceProcess | undefined;
afterAll(async () => {
  disconnectAll();
  await playground?.stop('SIGINT', 20_000);
  await stopAll();
});

/** The children's JSON log lines the playground printed (`name | {json}`), from line `from` on. */
function childLines(from = 0): JsonLine[] {
  const lines: JsonLine[] = [];
  for (const { msg } of playground!.logs.slice(from)) {
    const at = msg.indexOf(' | ');
    const body = at === -1 ? '' : msg.slice(at + 3);
    if (!body.startsWith('{') || msg.startsWith('cluster ')) continue;
    lines.push(JSON.parse(body) as JsonLine);
  }
  return lines;
}

/** The playground's own lines (`cluster | …`). */
const ownLines = (): string[] => playground!.logs.filter((l) => l.msg.startsWith('cluster ')).map((l) => l.msg.slice(l.msg.indexOf(' | ') + 3));

const psArgs = (pid: number): string => execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim();


describe('the playground', () => {
  it('carries on through kills, drains and a state restart, obeys only the dashboard, and exits 0 on SIGINT', { timeout: 8 * WAIT_MS }, async () => {
    // Passed through to every service: JSON logs to check, and lists pushed sooner than the 5 s default.
    const started = await startPlaygroundOnFreePort({ SCC_LOG_FORMAT: 'json', SCC_STATE_SERVER_STARTUP_DELAY: String(STARTUP_DELAY_MS), SCC_STATE_SERVER_SCALE_OUT_DELAY: '300' });
    playground = started.playground;
    const control = `http://127.0.0.1:${started.controlPort}`;
    const status = async (): Promise<PlaygroundStatus> => (await (await fetch(`${control}/status`)).json()) as PlaygroundStatus;
    const waitFor = async (what: string, check: (s: PlaygroundStatus) => boolean): Promise<PlaygroundStatus> => {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        if (!playground!.alive) throw new Error(`the playground exited while waiting for ${what}: ${playground!.tail(20)}`);
        const s = await status().catch(() => undefined);
        if (s && check(s)) return s;
        if (Date.now() > deadline) throw new Error(`${what} not reached within ${WAIT_MS} ms: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const running = (s: PlaygroundStatus, role: ChildStatus['role']): ChildStatus[] => s.children.filter((c) => c.role === role && c.state === 'running');

    const ready = await waitFor('ready', (s) => s.phase === 'ready');
    const dashboard = `http://127.0.0.1:${ready.statePort}`;
    const post = (action: string, origin: string | null = dashboard): Promise<Response> =>
      fetch(`${control}/actions/${action}`, { method: 'POST', headers: origin === null ? {} : { Origin: origin } });
    const act = async (action: string): Promise<{ done: string; membership: { brokers: number[]; workers: number[] }; settled: boolean }> => {
      const res = await post(action);
      const body = (await res.json()) as { done: string; membership: { brokers: number[]; workers: number[] }; settled: boolean };
      expect(res.status, `${action}: ${JSON.stringify(body)}`).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(dashboard);
      return body;
    };
    const allPids = new Set(ready.children.map((c) => c.pid));

    // A healthy start: no warning at all, and each expected wait said once at info.
    const start = childLines();
    expect(start.filter((l) => l.level >= WARN)).toEqual([]);
    const waits = start.filter((l) => l.name === 'scc-state' && /waits for the startup delay/.test(l.msg));
    expect(waits.map((l) => l.level)).toEqual([INFO, INFO]);
    const retries = start.filter((l) => l.name === 'scc-worker' && /sccWorkerJoinCluster failed \(ClusterNotReadyError/.test(l.msg));
    expect(retries.map((l) => [l.level, l.pid]).sort()).toEqual(running(ready, 'worker').map((w) => [INFO, w.pid]).sort());
    expect(ownLines()).toContain(`dashboard: ${dashboard}/cluster?playground=${control}`);

    // Titles as ps shows them.
    for (const child of ready.children) {
      expect(psArgs(child.pid)).toBe(child.role === 'state' ? 'scc-state' : `scc-${child.role} :${child.port}`);
    }

    // Pub/sub from one worker to the other.
    const [w1, w2] = running(ready, 'worker');
    const collector = new Collector();
    await collector.subscribe('b', await connect(w2!.port), 'room');
    const publisher = await connect(w1!.port);
    await primeChannels(publisher, collector, ['b'], ['room']);
    await publisher.invokePublish('room', { id: 'before' });
    await collector.until(() => collector.messages('b', 'room').some((m) => m.id === 'before'), 10_000, 'a message before the kill');

    // A broker killed from outside: one line says so, the cluster carries on with the other.
    const victim = running(ready, 'broker')[0]!;
    process.kill(victim.pid, 'SIGKILL');
    await waitForMembers(ready.statePort, { brokerCount: 1, settled: true }, { timeoutMs: WAIT_MS });
    const afterKill = await waitFor('the kill noted', (s) => s.children.some((c) => c.pid === victim.pid && c.state === 'exited'));
    expect(afterKill.children.find((c) => c.pid === victim.pid)?.exit).toBe('SIGKILL');
    expect(ownLines().filter((l) => l.includes(`broker:${victim.port} exited unexpectedly (SIGKILL); the cluster carries on`))).toHaveLength(1);
    expect(playground.alive).toBe(true);
    await publisher.invokePublish('room', { id: 'after-kill' });
    await collector.until(() => collector.messages('b', 'room').some((m) => m.id === 'after-kill'), 15_000, 'a message after the kill');

    // Refused: another page's origin, and a change without an Origin; nothing changes.
    const before = await clusterSnapshot(ready.statePort);
    const foreign = await post('add-broker', 'http://evil.example');
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect(((await foreign.json()) as { error: { name: string } }).error.name).toBe('ForbiddenOriginError');
    const bare = await post('add-broker', null);
    expect(bare.status).toBe(403);
    expect(((await bare.json()) as { error: { name: string } }).error.name).toBe('ForbiddenOriginError');
    const preflight = await fetch(`${control}/actions/add-broker`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(preflight.status).toBe(403);
    const dashboardPreflight = await fetch(`${control}/actions/add-broker`, { method: 'OPTIONS', headers: { Origin: dashboard, 'Access-Control-Request-Method': 'POST' } });
    expect(dashboardPreflight.status).toBe(204);
    expect(dashboardPreflight.headers.get('access-control-allow-origin')).toBe(dashboard);
    expect((await fetch(`${control}/actions/add-broker`)).status).toBe(405);
    const unknown = await post('reboot-everything');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { name: string } }).error.name).toBe('UnknownActionError');
    const now = await clusterSnapshot(ready.statePort);
    expect(now.brokers.map((m) => m.uri)).toEqual(before.brokers.map((m) => m.uri));
    expect(running(await status(), 'broker')).toHaveLength(1);

    // Add a broker and a worker, drain a broker, restart the state server.
    const added = await act('add-broker');
    expect(added.settled).toBe(true);
    expect(added.membership.brokers).toHaveLength(2);
    const addedWorker = await act('add-worker');
    expect(addedWorker.membership.workers).toHaveLength(3);
    const drained = await act('drain-broker');
    expect(drained.done).toMatch(/^drained broker:\d+: .*exited \(code 0\)/);
    expect(drained.membership.brokers).toHaveLength(1);
    const restarted = await act('restart-state');
    expect(restarted.settled).toBe(true);
    expect(restarted.membership).toEqual(drained.membership);
    const view = await clusterSnapshot(ready.statePort);
    expect(view.brokers).toHaveLength(1);
    expect(view.workers).toHaveLength(3);
    await publisher.invokePublish('room', { id: 'after-restart' });
    await collector.until(() => collector.messages('b', 'room').some((m) => m.id === 'after-restart'), 15_000, 'a message after the state restart');

    // SIGINT: every child stopped, exit 0.
    for (const child of (await status()).children) allPids.add(child.pid);
    disconnectAll();
    const exit = await playground.stop('SIGINT', 40_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect([...allPids].filter((pid) => !pidGone(pid))).toEqual([]);
  });
});
