/**
 * The dashboard's event stream on a real HTTP server: a snapshot at once and then one per interval
 * (the interval timer is faked, so the count is exact), built only while someone watches; a bounded
 * audience (503 with the reason); close() ends every stream.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@scc-ts/shared';
import { DASHBOARD_EVENTS_PATH, Dashboard } from '../src/dashboard.js';

const logger = createLogger({ name: 'test', level: 0, format: 'json' });
const INTERVAL_MS = 1000;

let server: Server;
let dashboard: Dashboard;
let built = 0;

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  built = 0;
  dashboard = new Dashboard({ intervalMs: INTERVAL_MS, maxClients: 2, snapshot: () => ({ n: ++built }), logger });
  server = createServer((req, res) => {
    if (!dashboard.handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterEach(async () => {
  dashboard.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  vi.useRealTimers();
});

/** An open stream: its status, and the `data:` payloads received so far. */
interface Stream {
  res: IncomingMessage;
  data: unknown[];
  body: string;
  close(): void;
}

function open(method = 'GET'): Promise<Stream> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: DASHBOARD_EVENTS_PATH, method }, (res) => {
      const stream: Stream = { res, data: [], body: '', close: () => req.destroy() };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        stream.body += chunk;
        stream.data = [...stream.body.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!));
      });
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}

const until = (check: () => boolean) => vi.waitFor(() => expect(check()).toBe(true), { timeout: 5000, interval: 10 });

describe('Dashboard', () => {
  it('sends a snapshot at once and one per interval, and builds none while nobody watches', async () => {
    vi.advanceTimersByTime(5 * INTERVAL_MS);
    expect(built).toBe(0);

    const a = await open();
    expect(a.res.statusCode).toBe(200);
    expect(a.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await until(() => a.data.length === 1);
    expect(a.body).toMatch(/^retry: \d+\n\n/);

    vi.advanceTimersByTime(3 * INTERVAL_MS);
    await until(() => a.data.length === 4);
    expect(a.data).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);

    // A second watcher shares the ticks: one snapshot per tick for both.
    const b = await open();
    await until(() => b.data.length === 1);
    vi.advanceTimersByTime(INTERVAL_MS);
    await until(() => a.data.length === 5 && b.data.length === 2);
    expect(built).toBe(6);

    a.close();
    b.close();
    await until(() => dashboard.clientCount === 0);
    vi.advanceTimersByTime(10 * INTERVAL_MS);
    expect(built).toBe(6);
  });

  it('refuses watchers past the limit with 503 and the reason, and anything but GET with 405', async () => {
    const a = await open();
    const b = await open();
    const c = await open();
    expect([a.res.statusCode, b.res.statusCode]).toEqual([200, 200]);
    expect(c.res.statusCode).toBe(503);
    expect(c.res.headers['retry-after']).toBe('10');
    await until(() => c.body.length > 0);
    expect(c.body).toMatch(/at most 2 may watch at once \(SCC_STATE_DASHBOARD_MAX_CLIENTS\)/);
    const post = await open('POST');
    expect(post.res.statusCode).toBe(405);
    expect(dashboard.clientCount).toBe(2);
  });

  it('close() ends every stream and refuses new ones; safe to call twice', async () => {
    const a = await open();
    const ended = new Promise<void>((resolve) => a.res.on('end', resolve));
    dashboard.close();
    dashboard.close();
    await ended;
    expect(dashboard.clientCount).toBe(0);
    const late = await open();
    expect(late.res.statusCode).toBe(503);
  });
});
