/**
 * The front-facing ws engine on its own, on real sockets (127.0.0.1, port 0): per-turn batching of
 * JSON-object frames in order, HTTP 503 past maxConnections, slow consumers closed with 4100, and a
 * repeated `#handshake` refused before the server sees it, and the heartbeat (pings, 4001 on silence).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect as tcpConnect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, type WebSocketServer } from 'ws';
import { CONNECTION_LIMIT_HTTP_STATUS, SLOW_CONSUMER_CLOSE_CODE, createWsEngine, type HeartbeatOptions, type WsEngine } from '../src/ws-engine.js';

const TIMEOUT_MS = 5000;

interface Started {
  engine: WsEngine;
  server: WebSocketServer;
  port: number;
  warnings: string[];
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(options: { maxConnections?: number; maxOutboundBufferBytes?: number; batchFrames?: boolean; heartbeat?: HeartbeatOptions } = {}): Promise<Started> {
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      warnings.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
      callback();
    },
  });
  const engine = createWsEngine({
    maxConnections: options.maxConnections ?? 100,
    maxOutboundBufferBytes: options.maxOutboundBufferBytes ?? 16 * 1024 * 1024,
    batchFrames: options.batchFrames ?? true,
    heartbeat: options.heartbeat ?? null,
    logger: pino({ level: 'warn' }, sink),
  });
  const server = new engine.Server({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  cleanups.push(async () => {
    engine.close();
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { engine, server, port: (server.address() as AddressInfo).port, warnings };
}

/** A client that records every frame it receives, and its close. */
async function client(port: number): Promise<{ ws: WebSocket; frames: string[]; closed: Promise<[number, string]> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  cleanups.push(() => ws.terminate());
  const frames: string[] = [];
  ws.on('message', (data) => frames.push(String(data)));
  const closed = once(ws, 'close').then(([code, reason]) => [code as number, String(reason)] as [number, string]);
  await once(ws, 'open');
  return { ws, frames, closed };
}

async function nextConnection(server: WebSocketServer): Promise<WebSocket> {
  const [socket] = (await once(server, 'connection')) as [WebSocket];
  return socket;
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('frame batching', () => {
  it('sends the JSON objects of one turn as one array frame, in order, flushing before other frames and before close', async () => {
    const { server, port } = await start();
    const connection = nextConnection(server);
    const c = await client(port);
    const socket = await connection;
    socket.send('{"a":1}');
    socket.send('{"b":2}');
    socket.send('#1'); // not a JSON object: the batch goes first, then this, at once
    socket.send('{"c":3}');
    socket.send('{"d":4}');
    await until(() => c.frames.length === 3, 'three frames');
    expect(c.frames).toEqual(['[{"a":1},{"b":2}]', '#1', '[{"c":3},{"d":4}]']);

    // A single frame in a turn goes as it is; a ping ('') goes at once, after what was batched.
    socket.send('{"e":5}');
    socket.send('');
    await until(() => c.frames.length === 5, 'five frames');
    expect(c.frames.slice(3)).toEqual(['{"e":5}', '']);

    // A reply right before a close reaches the peer before the close frame.
    socket.send('{"last":true}');
    socket.close(4001, 'bye');
    expect(await c.closed).toEqual([4001, 'bye']);
    expect(c.frames.at(-1)).toBe('{"last":true}');
  });

  it('sends every frame on its own when batching is off', async () => {
    const { server, port } = await start({ batchFrames: false });
    const connection = nextConnection(server);
    const c = await client(port);
    const socket = await connection;
    socket.send('{"a":1}');
    socket.send('{"b":2}');
    await until(() => c.frames.length === 2, 'two frames');
    expect(c.frames).toEqual(['{"a":1}', '{"b":2}']);
  });
});

const UPGRADE_REQUEST =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

/** Sends a raw upgrade request and reads the whole answer (the server closes after a refusal). */
function rawUpgrade(port: number, request = UPGRADE_REQUEST): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('maxConnections', () => {
  it('answers HTTP 503 ConnectionLimitError with Retry-After past the limit, counts each TCP connection once, and accepts again after one leaves', async () => {
    const { engine, server, port, warnings } = await start({ maxConnections: 2 });
    const first = await client(port);
    await client(port);
    // What is sent on an open socket (a repeated handshake, anything) does not change the count.
    first.ws.send('{"event":"#handshake","data":{},"cid":1}');
    const answer = await rawUpgrade(port);
    expect(answer).toMatch(new RegExp(`^HTTP/1.1 ${CONNECTION_LIMIT_HTTP_STATUS} Service Unavailable\r\n`));
    expect(answer).toMatch(/\r\nRetry-After: 1\r\n/);
    expect(answer).toMatch(/\r\n\r\nConnectionLimitError: this server holds its limit of 2 connections$/);
    expect(engine.counters.connectionsRefused).toBe(1);
    expect(warnings.some((w) => /ConnectionLimitError: 2 connections held \(1 refused so far\)/.test(w))).toBe(true);

    first.ws.close();
    await first.closed;
    await until(() => [...server.clients].length === 1, 'the server to see the close');
    const again = await client(port);
    expect(again.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('gives the count back for an upgrade ws refuses and for a connection whose peer drops it, once each', async () => {
    const { engine, server, port } = await start({ maxConnections: 1 });
    // No Sec-WebSocket-Key: ws answers 400 before any WebSocket exists (the TCP socket's close releases it).
    const refused = await rawUpgrade(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n');
    expect(refused).toMatch(/^HTTP\/1.1 400 /);
    // An open connection whose peer resets it (the WebSocket's close releases it).
    const dropped = await client(port);
    dropped.ws.terminate();
    await until(() => [...server.clients].length === 0, 'the server to see the drop');
    const again = await client(port);
    expect(again.ws.readyState).toBe(WebSocket.OPEN);
    // Released once each: the one connection held now still fills the limit of 1.
    expect(await rawUpgrade(port)).toMatch(new RegExp(`^HTTP/1.1 ${CONNECTION_LIMIT_HTTP_STATUS} `));
    expect(engine.counters.connectionsRefused).toBe(1);
  });
});

describe('slow consumers', () => {
  it('closes a socket whose buffer passes maxOutboundBufferBytes with 4100 SlowConsumerError and queues nothing more', async () => {
    const limit = 256 * 1024;
    const { engine, server, port, warnings } = await start({ maxOutboundBufferBytes: limit });
    const connection = nextConnection(server);
    // A peer that upgrades and then never reads.
    const raw: Socket = tcpConnect(port, '127.0.0.1', () => {
      raw.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
    });
    cleanups.push(() => void raw.destroy());
    const socket = await connection;
    raw.pause();
    const chunk = `{"chunk":"${'x'.repeat(64 * 1024)}"}`;
    // Bounded: 64 MB at most.
    for (let i = 0; i < 1000 && socket.readyState === WebSocket.OPEN; i++) {
      socket.send(chunk);
      if (i % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(socket.readyState).toBe(WebSocket.CLOSING);
    expect(engine.counters.slowConsumersClosed).toBe(1);
    expect(warnings.some((w) => /^closing socket from 127\.0\.0\.1: SlowConsumerError: outbound buffer passed 262144 bytes/.test(w))).toBe(true);
    const buffered = socket.bufferedAmount;
    socket.send(chunk);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.bufferedAmount).toBeLessThanOrEqual(buffered);
    expect(SLOW_CONSUMER_CLOSE_CODE).toBe(4100);
    // (That the peer then reads close 4100 SlowConsumerError is checked on a real worker, test/integration/limits.test.ts.)
  });
});

describe('repeated handshake', () => {
  it('passes the first #handshake on, refuses a second with InvalidHandshakeError and close 4008 before the server sees it', async () => {
    const { engine, server, port } = await start();
    const connection = nextConnection(server);
    const c = await client(port);
    const socket = await connection;
    const seen: string[] = [];
    socket.on('message', (data) => seen.push(String(data)));
    c.ws.send('{"event":"#handshake","data":{},"cid":1}');
    // The name in a payload is not a handshake.
    c.ws.send('{"event":"#publish","data":{"channel":"chat","data":"#handshake"}}');
    c.ws.send('{"event":"#publish","data":{"channel":"esc","data":"\\u00e9"}}');
    await until(() => seen.length === 3, 'three messages');
    // Escaped, to dodge a plain search: still a handshake.
    c.ws.send('{"event":"\\u0023handshake","data":{},"cid":2}');
    expect(await c.closed).toEqual([4008, 'InvalidHandshakeError']);
    expect(seen).toHaveLength(3);
    expect(c.frames.map((f) => JSON.parse(f) as unknown)).toEqual([
      { rid: 2, error: { name: 'InvalidHandshakeError', message: 'this socket has already completed its handshake' } },
    ]);
    expect(engine.counters.repeatedHandshakesRefused).toBe(1);
  });

  it('refuses two handshakes in one batch', async () => {
    const { server, port } = await start();
    const connection = nextConnection(server);
    const c = await client(port);
    const socket = await connection;
    const seen: string[] = [];
    socket.on('message', (data) => seen.push(String(data)));
    c.ws.send('[{"event":"#handshake","data":{},"cid":1},{"event":"#handshake","data":{},"cid":2}]');
    expect((await c.closed)[0]).toBe(4008);
    expect(seen).toEqual([]);
  });
});

const HANDSHAKE = '{"event":"#handshake","data":{},"cid":1}';

describe('heartbeat', () => {
  it('pings every open socket about once an interval; one that answers stays, one silent for the timeout is closed with 4001 on both sides', async () => {
    const intervalMs = 100;
    const timeoutMs = 450;
    const { engine, server, port } = await start({ heartbeat: { intervalMs, timeoutMs, ping: '' } });
    const serverCloses: number[] = [];
    server.on('connection', (socket: WebSocket) => socket.on('close', (code: number) => serverCloses.push(code)));
    // A socket that has not sent its handshake is neither pinged nor timed out (the server's handshake timeout is its limit).
    const unshaken = await client(port);
    const answering = await client(port);
    answering.ws.on('message', (data) => {
      if (String(data) === '') answering.ws.send('');
    });
    answering.ws.send(HANDSHAKE);
    const silent = await client(port);
    silent.ws.send(HANDSHAKE);
    const started = Date.now();
    const [code] = await silent.closed;
    const silentFor = Date.now() - started;
    // Closed once the timeout passed, not before (the upper bound only says it was this close, not a speed).
    expect(silentFor).toBeGreaterThanOrEqual(timeoutMs - intervalMs);
    expect(silentFor).toBeLessThan(timeoutMs + 5000);
    expect(code).toBe(4001);
    await until(() => serverCloses.length === 1, 'the server side of the silent socket to close');
    expect(serverCloses).toEqual([4001]);
    expect(engine.counters.pingTimeouts).toBe(1);
    // The silent one was pinged too before it was closed (pings of both are the empty text).
    expect(silent.frames.filter((f) => f === '').length).toBeGreaterThanOrEqual(2);
    // The answering one outlives several timeouts, pinged about once an interval.
    const pingsBefore = answering.frames.filter((f) => f === '').length;
    await new Promise((resolve) => setTimeout(resolve, 3 * timeoutMs));
    expect(answering.ws.readyState).toBe(WebSocket.OPEN);
    const pings = answering.frames.filter((f) => f === '').length - pingsBefore;
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(pings).toBeLessThanOrEqual(Math.ceil((3 * timeoutMs) / intervalMs) * 2);
    expect(engine.counters.pingTimeouts).toBe(1);
    expect(unshaken.ws.readyState).toBe(WebSocket.OPEN);
    expect(unshaken.frames).toEqual([]);
  });

  it('sends protocol 1 pings as #1, in order with the frames sent before them, and none once the engine is closed', async () => {
    const { engine, server, port } = await start({ heartbeat: { intervalMs: 50, timeoutMs: 10_000, ping: '#1' } });
    const connection = nextConnection(server);
    const peer = await client(port);
    const socket = await connection;
    peer.ws.send(HANDSHAKE);
    socket.send('{"event":"a"}');
    await until(() => peer.frames.includes('#1'), 'a protocol 1 ping');
    expect(peer.frames[0]).toBe('{"event":"a"}');
    engine.close();
    const count = peer.frames.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(peer.frames.length).toBe(count);
  });
});
