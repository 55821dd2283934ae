/**
 * The playground's control API guard on its own (its status and actions given as functions; the
 * real playground behind it is test/harness/playground.test.ts): only the dashboard's origin may
 * act, a POST needs an Origin, a foreign Host is refused, and refusals answer their stable names.
 */
import { request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { dashboardOrigins, startControlApi, type ControlApi } from '../../scripts/playground/control-api.js';
import { NoBrokerLeftError } from '../../scripts/playground/errors.js';
import type { ActionName, PlaygroundStatus } from '../../scripts/playground/playground.js';

const STATE_PORT = 7777;
const [DASHBOARD] = dashboardOrigins(STATE_PORT);
const acted: ActionName[] = [];
const status: PlaygroundStatus = { phase: 'ready', busy: null, statePort: STATE_PORT, children: [] };
let api: ControlApi;

afterAll(async () => {
  await api.close();
  await api.close(); // safe twice
});

async function call(path: string, method: string, headers: Record<string, string> = {}): Promise<{ status: number; body: { error?: { name: string } } & Record<string, unknown>; allowOrigin: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: api.port, path, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : JSON.parse(text), allowOrigin: res.headers['access-control-allow-origin'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('control API', () => {
  it('acts for the dashboard only, and names every refusal', async () => {
    api = await startControlApi({
      port: 0,
      allowedOrigins: () => dashboardOrigins(STATE_PORT),
      status: () => status,
      act: async (action) => {
        if (action === 'kill-broker') throw new NoBrokerLeftError('no broker is running');
        acted.push(action);
        return { action, done: `did ${action}`, membership: { brokers: [8888], workers: [8000] }, settled: true };
      },
    });

    // Status: for the dashboard (with CORS) and for a shell (no Origin); not for another page.
    expect(await call('/status', 'GET', { Origin: DASHBOARD! })).toMatchObject({ status: 200, body: status, allowOrigin: DASHBOARD });
    expect(await call('/status', 'GET')).toMatchObject({ status: 200, allowOrigin: undefined });
    expect(await call('/status', 'GET', { Origin: 'http://evil.example' })).toMatchObject({ status: 403, body: { error: { name: 'ForbiddenOriginError' } }, allowOrigin: undefined });

    // Changes: POST from the dashboard only.
    expect(await call('/actions/add-broker', 'POST', { Origin: 'http://localhost:7777' })).toMatchObject({ status: 200, body: { done: 'did add-broker' } });
    expect(await call('/actions/add-worker', 'POST')).toMatchObject({ status: 403, body: { error: { name: 'ForbiddenOriginError' } } });
    expect(await call('/actions/add-worker', 'POST', { Origin: 'http://127.0.0.1:7778' })).toMatchObject({ status: 403 });
    expect(await call('/actions/add-worker', 'GET', { Origin: DASHBOARD! })).toMatchObject({ status: 405, body: { error: { name: 'MethodNotAllowedError' } } });
    expect(await call('/actions/add-worker', 'POST', { Origin: DASHBOARD!, Host: `evil.example:${api.port}` })).toMatchObject({ status: 403, body: { error: { name: 'ForbiddenHostError' } } });
    expect(acted).toEqual(['add-broker']);

    // The action's own refusal, an unknown action, an unknown path.
    expect(await call('/actions/kill-broker', 'POST', { Origin: DASHBOARD! })).toMatchObject({ status: 409, body: { error: { name: 'NoBrokerLeftError' } }, allowOrigin: DASHBOARD });
    expect(await call('/actions/format-disk', 'POST', { Origin: DASHBOARD! })).toMatchObject({ status: 404, body: { error: { name: 'UnknownActionError' } } });
    expect(await call('/nothing', 'GET')).toMatchObject({ status: 404, body: { error: { name: 'NotFoundError' } } });

    // Preflight: answered for the dashboard alone.
    expect(await call('/actions/add-broker', 'OPTIONS', { Origin: DASHBOARD!, 'Access-Control-Request-Method': 'POST' })).toMatchObject({ status: 204, allowOrigin: DASHBOARD });
    expect(await call('/actions/add-broker', 'OPTIONS', { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' })).toMatchObject({ status: 403, allowOrigin: undefined });
    expect(acted).toEqual(['add-broker']);
  });
});
