/**
 * Refusals with named errors: a wrong auth key at the WebSocket upgrade (BadClusterAuthError, HTTP
 * 401) and an incompatible version at the SocketCluster handshake (CompatibilityError, close 4008).
 * The services keep serving well-behaved peers afterwards.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import socketClusterClient from 'socketcluster-client';
import { Collector, connect, disconnectAll, primeChannels } from '../../harness/clients.js';
import { startBroker, startState, startWorker, stopAll, waitReady, type ServiceProcess } from '../helpers/processes.js';
import { LogEvent } from '@scc-ts/shared';

const KEY = 'correct horse battery staple';
let state: ServiceProcess;
let broker: ServiceProcess;

beforeAll(async () => {
  state = await startState({ SCC_AUTH_KEY: KEY });
  broker = await startBroker(state.port, { SCC_AUTH_KEY: KEY });
  await broker.waitForEvent(LogEvent.Joined);
});

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

/** Sends a raw WebSocket upgrade request and returns the HTTP status and body of the answer. */
function upgrade(port: number, query: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: `/socketcluster/?${query}`,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Connects like a peer of the state server and reports how the handshake ended. */
async function handshake(port: number, query: Record<string, string>): Promise<{ connected: boolean; errorName?: string; closeCode?: number }> {
  const client = socketClusterClient.create({ hostname: '127.0.0.1', port, query, autoReconnect: false });
  try {
    const outcome = await Promise.race([
      client.listener('connect').once(5000).then(() => ({ connected: true })),
      Promise.all([client.listener('error').once(5000), client.listener('connectAbort').once(5000)]).then(([e, abort]) => ({
        connected: false,
        errorName: (e as { error: Error }).error.name,
        closeCode: (abort as { code: number }).code,
      })),
    ]);
    return outcome;
  } finally {
    client.disconnect();
    client.closeAllListeners();
  }
}

describe('auth key', () => {
  it('refuses a wrong or missing key at the state server upgrade with 401 and BadClusterAuthError', async () => {
    const mark = state.logs.length;
    for (const query of ['authKey=wrong&instanceType=scc-broker&instancePort=1&version=9.0.0', 'instanceType=scc-broker&instancePort=1&version=9.0.0', 'authKey=null']) {
      const answer = await upgrade(state.port, query);
      expect(answer.status, query).toBe(401);
      expect(answer.body).toMatch(/valid authKey/);
    }
    await state.waitForLog(/BadClusterAuthError/, 2000, mark);
    const ok = await upgrade(state.port, `authKey=${encodeURIComponent(KEY)}&instanceType=scc-broker&instancePort=1&version=9.0.0`);
    expect(ok.status).toBe(101);
  });

  it('refuses a wrong key at the broker upgrade with 401', async () => {
    expect((await upgrade(broker.port, 'authKey=nope&poolIndex=0')).status).toBe(401);
    expect((await upgrade(broker.port, `authKey=${encodeURIComponent(KEY)}&poolIndex=0`)).status).toBe(101);
    await broker.waitForLog(/BadClusterAuthError/, 2000);
  });

  it('keeps a worker with the wrong key out of the cluster', async () => {
    const outsider = await startWorker(state.port, { SCC_AUTH_KEY: 'wrong' });
    await outsider.waitForLog(/state server link: .*(Socket hung up|401)/, 5000);
    const ready = await fetch(`http://127.0.0.1:${outsider.port}/ready`);
    expect(ready.status).toBe(503);
    expect(state.logs.some((l) => /scc-worker .* joined/.test(l.msg))).toBe(false);
    await outsider.stop();
  });
});

describe('version check', () => {
  const base = { authKey: KEY, instanceType: 'scc-worker', instancePort: '1234' };

  it('refuses incompatible majors with CompatibilityError and close code 4008', async () => {
    for (const version of ['8.0.0', '11.0.0', 'garbage']) {
      const outcome = await handshake(state.port, { ...base, version });
      expect(outcome, version).toEqual({ connected: false, errorName: 'CompatibilityError', closeCode: 4008 });
    }
    const missing = await handshake(state.port, { authKey: KEY, instanceType: 'scc-worker', instancePort: '1234' });
    expect(missing).toEqual({ connected: false, errorName: 'CompatibilityError', closeCode: 4008 });
  });

  it('accepts our major and the originals\' 9 and 10', async () => {
    for (const version of ['1.0.0', '9.2.0', '9.3.0', '10.0.1']) {
      expect((await handshake(state.port, { ...base, version })).connected, version).toBe(true);
    }
  });

  it('refuses an unknown instanceType or a bad instancePort with InvalidHandshakeError', async () => {
    expect(await handshake(state.port, { ...base, version: '9.3.0', instanceType: 'scc-mystery' })).toMatchObject({ errorName: 'InvalidHandshakeError', closeCode: 4008 });
    expect(await handshake(state.port, { ...base, version: '9.3.0', instancePort: '99999' })).toMatchObject({ errorName: 'InvalidHandshakeError', closeCode: 4008 });
  });
});

describe('after the refusals', () => {
  it('still serves: workers with the right key join and pub/sub works', async () => {
    const env = { SCC_AUTH_KEY: KEY };
    const [a, b] = await Promise.all([startWorker(state.port, env), startWorker(state.port, env)]);
    await Promise.all([waitReady(a.port), waitReady(b.port)]);
    const collector = new Collector();
    await collector.subscribe('B', await connect(b.port), 'after');
    const publisher = await connect(a.port);
    await primeChannels(publisher, collector, ['B'], ['after']);
    await publisher.invokePublish('after', { id: 'x' });
    await collector.until(() => collector.messages('B', 'after').length === 1);
    expect(state.alive && broker.alive).toBe(true);
    expect((await fetch(`http://127.0.0.1:${state.port}/health-check`)).status).toBe(200);
  });
});
