/**
 * The configurable limits on real services: payload size (close 1009), handshake timeout (close
 * 4005), channels per socket, connections per server (HTTP 503 ConnectionLimitError), outbound buffer
 * per socket (a slow consumer is closed with 4100 SlowConsumerError), and the warning a state
 * server or broker logs when it listens without SCC_AUTH_KEY. Well-behaved clients keep working.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Collector, connect, disconnectAll } from '../../harness/clients.js';
import { RawSocket, scUrl } from '../../harness/raw.js';
import { spawnService, startBroker, startState, startWorker, stopAll } from '../helpers/processes.js';
import { LogEvent } from '@scc-ts/shared';
import { scrape } from '../helpers/metrics.js';
import { WebSocket } from 'ws';

const raws: RawSocket[] = [];
function raw(port: number, query?: Record<string, string>): RawSocket {
  const socket = new RawSocket(scUrl(port, query));
  raws.push(socket);
  return socket;
}

afterEach(() => {
  for (const s of raws.splice(0)) s.close();
  disconnectAll();
});
afterAll(() => stopAll());

describe('limits', () => {
  it('closes a frame over SCC_MAX_PAYLOAD with 1009 and a socket that never handshakes with 4005', async () => {
    const worker = await startWorker(null, { SCC_MAX_PAYLOAD: '2048', SCC_HANDSHAKE_TIMEOUT: '300' });
    const small = raw(worker.port);
    expect(await small.handshake()).toEqual({ kind: 'replied' });
    small.send(JSON.stringify({ event: 'x', data: 'a'.repeat(1500) }));
    expect((await small.probe(5000)).kind).toBe('error');

    const big = raw(worker.port);
    expect(await big.handshake()).toEqual({ kind: 'replied' });
    big.send(JSON.stringify({ event: 'x', data: 'a'.repeat(3000) }));
    expect((await big.closedWithin(5000))?.code).toBe(1009);

    const idle = raw(worker.port);
    expect(await idle.opened).toBeNull();
    const started = Date.now();
    expect((await idle.closedWithin(5000))?.code).toBe(4005);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(small.open).toBe(true);
  });

  it('refuses a subscription past SCC_SOCKET_CHANNEL_LIMIT and keeps the socket', async () => {
    const worker = await startWorker(null, { SCC_SOCKET_CHANNEL_LIMIT: '3' });
    const socket = raw(worker.port);
    expect(await socket.handshake()).toEqual({ kind: 'replied' });
    for (const c of ['a', 'b', 'c']) expect(await socket.outcome(socket.invoke('#subscribe', { channel: c }), 5000)).toEqual({ kind: 'replied' });
    const refused = await socket.outcome(socket.invoke('#subscribe', { channel: 'd' }), 5000);
    expect(refused).toEqual({ kind: 'error', name: 'BrokerError' });
    expect(socket.replies.get(5)?.error?.message).toMatch(/channel subscription limit of 3/);
    // Making room makes the next subscription possible.
    expect(await socket.outcome(socket.invoke('#unsubscribe', 'a'), 5000)).toEqual({ kind: 'replied' });
    expect(await socket.outcome(socket.invoke('#subscribe', { channel: 'd' }), 5000)).toEqual({ kind: 'replied' });
    expect(socket.open).toBe(true);
  });

  it('refuses connections past SCC_MAX_CONNECTIONS with HTTP 503 ConnectionLimitError, and accepts again after one leaves', async () => {
    const worker = await startWorker(null, { SCC_MAX_CONNECTIONS: '4' });
    const held = [raw(worker.port), raw(worker.port), raw(worker.port)];
    for (const s of held) expect(await s.handshake()).toEqual({ kind: 'replied' });
    // A pending socket (upgraded, no handshake yet) counts too.
    const pending = raw(worker.port);
    expect(await pending.opened).toBeNull();
    const refused = await raw(worker.port).opened;
    expect(refused).toMatchObject({ kind: 'http', status: 503 });
    expect(refused?.kind === 'http' && refused.body).toMatch(/^ConnectionLimitError: /);
    await worker.waitForLog(/ConnectionLimitError/, 5000);
    expect((await scrape(worker.port)).value('scc_worker_connections_refused_total')).toBe(1);
    pending.close();
    await pending.closedWithin(5000);
    const client = await connect(worker.port);
    expect(client.state).toBe('open');
  });

  it('closes a slow consumer with 4100 once its outbound buffer passes SCC_MAX_OUTBOUND_BUFFER, and keeps serving others', async () => {
    const worker = await startWorker(null, { SCC_MAX_OUTBOUND_BUFFER: String(256 * 1024) });
    const slow = raw(worker.port);
    expect(await slow.handshake()).toEqual({ kind: 'replied' });
    expect(await slow.outcome(slow.invoke('#subscribe', { channel: 'firehose' }), 5000)).toEqual({ kind: 'replied' });
    // Stop reading: the kernel buffers fill, then the worker's queue for this socket grows.
    const tcp = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    tcp.pause();

    const collector = new Collector();
    await collector.subscribe('fast', await connect(worker.port), 'firehose');
    const publisher = await connect(worker.port);
    const chunk = 'x'.repeat(64 * 1024);
    let sent = 0;
    // Bounded: 40 MB at most, or until the worker reports the slow consumer.
    for (; sent < 640 && !worker.logs.some((l) => /SlowConsumerError/.test(l.msg)); sent++) {
      await publisher.invokePublish('firehose', { id: String(sent), chunk });
    }
    await worker.waitForLog(/closing socket .*SlowConsumerError/, 10_000);
    tcp.resume();
    expect(await slow.closedWithin(10_000)).toEqual({ code: 4100, reason: 'SlowConsumerError' });
    expect((await scrape(worker.port)).value('scc_worker_slow_consumers_closed_total')).toBe(1);
    await collector.until(() => collector.messages('fast', 'firehose').length === sent, 10_000, 'the fast subscriber');
    await publisher.invokePublish('firehose', { id: 'after', chunk: '' });
    await collector.until(() => collector.messages('fast', 'firehose').some((m) => m.id === 'after'), 5000, 'a message after the drop');
    expect(worker.alive).toBe(true);
  });
});

describe('auth key warning', () => {
  const WARNING = /listens on every interface without SCC_AUTH_KEY/;

  it('state server and broker warn when they listen beyond loopback without a key, and stay quiet with one', async () => {
    const open = await startState();
    await open.waitForLog(WARNING, 5000);
    // The broker's default level (1, errors only) must not hide it.
    const broker = await startBroker(open.port, { SCC_BROKER_SERVER_LOG_LEVEL: '1' });
    await broker.waitForLog(WARNING, 5000);
    const keyed = await startState({ SCC_AUTH_KEY: 'k' });
    const keyedBroker = await startBroker(keyed.port, { SCC_AUTH_KEY: 'k' });
    await keyedBroker.waitForEvent(LogEvent.Joined, {}, 10_000);
    expect(keyed.logs.some((l) => WARNING.test(l.msg))).toBe(false);
    expect(keyedBroker.logs.some((l) => WARNING.test(l.msg))).toBe(false);
  });
});

describe('heartbeat', () => {
  it("keeps socketcluster's pings with SOCKETCLUSTER_OPTIONS' settings: a client stays connected past its ping timeout, a silent socket is closed with 4001", async () => {
    const worker = await startWorker(null, { SOCKETCLUSTER_OPTIONS: '{"pingInterval":200,"pingTimeout":1000}' });
    const client = await connect(worker.port);
    const disconnects: number[] = [];
    void (async () => {
      for await (const { code } of client.listener('disconnect')) disconnects.push(code);
    })();
    // The handshake told the client the 1 s timeout: without pings it would close itself (4000) in that time.
    expect(client.pingTimeout).toBe(1000);
    const silent = new WebSocket(scUrl(worker.port));
    const silentClosed = new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));
    await new Promise((resolve) => silent.once('open', resolve));
    silent.send(JSON.stringify({ event: '#handshake', data: {}, cid: 1 }));
    // Bounded: the silent socket must close well before this.
    const code = await Promise.race([silentClosed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 10_000))]);
    expect(code).toBe(4001);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(client.state).toBe(client.OPEN);
    expect(disconnects).toEqual([]);
    expect((await scrape(worker.port)).value('scc_worker_ping_timeouts_total')).toBe(1);
  });

  it('a bad ping setting in SOCKETCLUSTER_OPTIONS stops the worker at start with one line naming it', async () => {
    const bad = spawnService('worker', 'scc-worker', { SOCKETCLUSTER_PORT: '0', SOCKETCLUSTER_OPTIONS: '{"pingInterval":5000,"pingTimeout":4000}' });
    expect((await bad.exited).code).toBe(1);
    expect(bad.stderr).toHaveLength(1);
    expect(bad.stderr[0]).toMatch(/^scc-worker: failed to start: ConfigError: .*SOCKETCLUSTER_OPTIONS\.pingTimeout=4000: must be longer than pingInterval/);
  });
});

describe('limit variables', () => {
  it('a bad limit stops the service at start with one line naming the variable', async () => {
    const bad = spawnService('worker', 'scc-worker', { SOCKETCLUSTER_PORT: '0', SCC_MAX_PAYLOAD: 'lots', SCC_MAX_CONNECTIONS: '0' });
    expect((await bad.exited).code).toBe(1);
    expect(bad.stderr).toHaveLength(1);
    expect(bad.stderr[0]).toMatch(/^scc-worker: ConfigError: SCC_MAX_PAYLOAD="lots": .*; SCC_MAX_CONNECTIONS="0": /);
  });
});
