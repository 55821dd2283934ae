/**
 * Quiet, telling logs of the services run as processes: the no-auth-key warning only where the
 * service is reachable beyond loopback (the address it actually bound, `SCC_BIND_HOST`), a bad bind
 * address stopping the service with one line naming it, a broker waiting for its state server (one
 * info line, repeats at debug), and each process's title in `ps`.
 * (A whole healthy local cluster printing no warning is test/harness/playground.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { LogEvent } from '@scc-ts/shared';
import { freePort } from '../../harness/ports.js';
import { spawnService, startBroker, startState, startWorker, stopAll, type LogLine, type ServiceProcess } from '../helpers/processes.js';

afterAll(() => stopAll());

const WARN = 40;
const INFO = 30;
const DEBUG = 20;
const authWarnings = (service: ServiceProcess): LogLine[] => service.logs.filter((l) => l.level === WARN && l.msg.includes('SCC_AUTH_KEY'));

/** What `ps -o args=` shows for `pid`: the process title on Linux. */
function psArgs(pid: number): string {
  return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim();
}

describe('the no-auth-key warning', () => {
  it('is not given when the state server and a broker bind 127.0.0.1', async () => {
    const state = await startState({ SCC_BIND_HOST: '127.0.0.1' });
    const broker = await startBroker(state.port, { SCC_BIND_HOST: '127.0.0.1' });
    // The warning is written before the listening line, so once that is seen it would be there.
    await state.waitForEvent(LogEvent.Listening);
    await broker.waitForEvent(LogEvent.Listening);
    await broker.waitForEvent(LogEvent.Joined);
    expect(authWarnings(state)).toEqual([]);
    expect(authWarnings(broker)).toEqual([]);
    expect([...state.logs, ...broker.logs].filter((l) => l.level >= WARN)).toEqual([]);
  });

  it('is given once by each when they bind every interface (0.0.0.0) without SCC_AUTH_KEY', async () => {
    const state = await startState({ SCC_BIND_HOST: '0.0.0.0' });
    const broker = await startBroker(state.port, { SCC_BIND_HOST: '0.0.0.0' });
    await state.waitForEvent(LogEvent.Listening);
    await broker.waitForEvent(LogEvent.Listening);
    for (const service of [state, broker]) {
      const warnings = authWarnings(service);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.msg).toMatch(/listens on every interface without SCC_AUTH_KEY.*SCC_BIND_HOST=127\.0\.0\.1/);
    }
  });

  it('is not given with an auth key, whatever the address', async () => {
    const state = await startState({ SCC_BIND_HOST: '0.0.0.0', SCC_AUTH_KEY: 'secret' });
    await state.waitForEvent(LogEvent.Listening);
    expect(authWarnings(state)).toEqual([]);
  });
});

describe('expected waits', () => {
  it('a broker started before its state server says so once at info, its retries at debug, then joins without a warning', async () => {
    const statePort = await freePort();
    // Level 4 shows the debug lines, so the test sees the retries happen before the state server starts.
    const broker = await startBroker(statePort, { SCC_BROKER_SERVER_LOG_LEVEL: '4', SCC_BIND_HOST: '127.0.0.1' });
    const waiting = `waiting for state server 127.0.0.1:${statePort} (state server link: `;
    await broker.waitFor({ test: (l) => l.level === DEBUG && l.msg.startsWith(waiting), describe: 'a repeated wait at debug' }, 10_000);
    const state = await startState({ SCC_STATE_SERVER_PORT: String(statePort) });
    await broker.waitForEvent(LogEvent.Joined, { rejoin: false }, 10_000);
    const waits = broker.logs.filter((l) => l.msg.startsWith(waiting) && l.level > DEBUG);
    expect(waits.map((l) => l.level)).toEqual([INFO]);
    expect(broker.logs.filter((l) => l.level >= WARN)).toEqual([]);
    expect(state.port).toBe(statePort);
  });
});

describe('SCC_BIND_HOST', () => {
  it('stops a service at start with one line naming a bad value', async () => {
    const state = spawnService('state-bad-bind', 'scc-state', { SCC_STATE_SERVER_PORT: '0', SCC_BIND_HOST: 'not a host!' });
    const exit = await state.exited;
    expect(exit.code).toBe(1);
    expect(state.stderr).toEqual(['scc-state: ConfigError: SCC_BIND_HOST="not a host!": must be an IP address or a host name']);
  });
});

describe('process titles', () => {
  it('show in ps as scc-state, scc-broker :PORT and scc-worker :PORT', async () => {
    const state = await startState();
    const broker = await startBroker(state.port);
    const worker = await startWorker(state.port);
    // Each service sets its title just before it writes its listening line.
    await Promise.all([state, broker, worker].map((s) => s.waitForEvent(LogEvent.Listening)));
    const expected = new Map([
      [state, 'scc-state'],
      [broker, `scc-broker :${broker.port}`],
      [worker, `scc-worker :${worker.port}`],
    ]);
    for (const [service, title] of expected) {
      expect(psArgs(service.pid), service.name).toBe(title);
    }
  });
});
