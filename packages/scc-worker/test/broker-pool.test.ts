/**
 * The worker's broker links (BrokerPool) against real brokers on 127.0.0.1: our relay, and a plain
 * socketcluster-server standing in for the original broker (scc-broker is one). Subscribe,
 * publish and transmit, barrier, unsubscribe, reconnect with resubscribe, pool index selection,
 * and the named errors of a request that gets no answer.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import socketClusterServer from 'socketcluster-server';
import { WebSocketServer } from 'ws';
import { createLogger, queryOf } from '@scc-ts/shared';
import { BrokerPool, type BrokerPoolOptions } from '../src/cluster/broker-pool.js';
import { Relay } from '../../scc-broker/src/relay.js';
import { testRelayOptions } from '../../scc-broker/test/relay-fixture.js';

const logger = createLogger({ name: 'broker-pool-test', level: 0, format: 'json' });

/** A broker the test can stop and start again on the same port. */
interface Broker {
  port: number;
  stop(): Promise<void>;
}

type Kind = 'ours' | 'socketcluster-server';

async function listenOn(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function startOurs(port = 0): Promise<Broker> {
  const http = createServer();
  const relay = new Relay(
    testRelayOptions(http, logger, {
      // A channel the broker refuses, to see its error's name come back through the pool.
      refuseChannel: (channel) => (channel === 'refused' ? new Error('refused by this test broker') : null),
    }),
  );
  const bound = await listenOn(http, port);
  return {
    port: bound,
    async stop() {
      await relay.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

async function startSocketCluster(port = 0, onSubscription?: (channel: string, poolIndex: string | null) => void): Promise<Broker> {
  const http = createServer();
  const agServer = socketClusterServer.attach(http);
  if (onSubscription) {
    void (async () => {
      for await (const { socket, channel } of agServer.listener('subscription')) {
        onSubscription(channel, queryOf((socket.request as IncomingMessage).url).get('poolIndex'));
      }
    })();
  }
  const bound = await listenOn(http, port);
  return {
    port: bound,
    async stop() {
      for (const socket of Object.values(agServer.clients)) socket.disconnect(1011, 'test restart');
      agServer.close();
      agServer.closeAllListeners();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

const start = (kind: Kind, port = 0): Promise<Broker> => (kind === 'ours' ? startOurs(port) : startSocketCluster(port));

const brokers: Broker[] = [];
const pools: BrokerPool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) pool.close();
  for (const broker of brokers.splice(0)) await broker.stop();
});

/** A pool that records what it receives and its status changes. */
function pool(port: number, overrides: Partial<BrokerPoolOptions> = {}): { pool: BrokerPool; got: Array<[string, unknown]>; status: boolean[] } {
  const got: Array<[string, unknown]> = [];
  const status: boolean[] = [];
  const p = new BrokerPool({
    uri: `ws://127.0.0.1:${port}`,
    size: 1,
    authKey: null,
    retryDelayMs: 50,
    reconnectRandomnessMs: 20,
    logger,
    onPacket: (channel, packet) => got.push([channel, packet]),
    onStatus: (up) => status.push(up),
    linkTimeoutMs: 3000,
    ...overrides,
  });
  pools.push(p);
  return { pool: p, got, status };
}

describe.each<Kind>(['ours', 'socketcluster-server'])('BrokerPool against %s', (kind) => {
  it('subscribes (resolving on the ack), delivers publishes and transmits to every subscriber in order, the publisher included', async () => {
    const broker = await start(kind);
    brokers.push(broker);
    const a = pool(broker.port);
    const b = pool(broker.port);
    const started = Date.now();
    await Promise.all([a.pool.subscribe('room'), b.pool.subscribe('room')]);
    // The acknowledgement, not the fallback wait (5 s), resolved it.
    expect(Date.now() - started).toBeLessThan(3000);
    expect([a.pool.isSubscribed('room'), b.pool.isSubscribed('other')]).toEqual([true, false]);
    expect(b.pool.subscriptions()).toEqual(['room']);
    await expect.poll(() => a.pool.connected && b.pool.connected).toBe(true);
    expect(a.status).toEqual([true]);
    for (let i = 0; i < 100; i++) void a.pool.transmit('room', { sender: 'a', messages: [i] });
    await a.pool.publish('room', { sender: 'a', messages: ['last'] });
    // Acknowledged means relayed: the publisher's own copies are already here, in order.
    const expected = [...Array.from({ length: 100 }, (_, i) => i), 'last'].map((m) => ['room', { sender: 'a', messages: [m] }]);
    expect(a.got).toEqual(expected);
    await expect.poll(() => b.got.length).toBe(101);
    expect(b.got).toEqual(expected);
  });

  it('barrier resolves after everything sent before it was relayed; an unsubscribed channel delivers nothing', async () => {
    const broker = await start(kind);
    brokers.push(broker);
    const a = pool(broker.port, { size: 3 });
    const b = pool(broker.port);
    const channels = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    await Promise.all(channels.map((c) => a.pool.subscribe(c)));
    await b.pool.subscribe('c1');
    for (const c of channels) void a.pool.transmit(c, c);
    await a.pool.barrier();
    expect(a.got.map(([c]) => c).sort()).toEqual(channels);
    b.pool.unsubscribe('c1');
    expect(b.pool.isSubscribed('c1')).toBe(false);
    await b.pool.barrier();
    const before = b.got.length;
    await a.pool.publish('c1', 'after');
    await b.pool.barrier();
    expect(b.got.length).toBe(before);
  });

  it('reconnects after the broker restarts, resubscribes and reports down then up', async () => {
    let broker = await start(kind);
    const a = pool(broker.port);
    const b = pool(broker.port);
    await Promise.all([a.pool.subscribe('r'), b.pool.subscribe('r')]);
    await expect.poll(() => b.status).toEqual([true]);
    await broker.stop();
    await expect.poll(() => b.status).toEqual([true, false]);
    expect(b.pool.connected).toBe(false);
    // Still wanted while down: sent again on the next connection.
    expect(b.pool.isSubscribed('r')).toBe(true);
    broker = await start(kind, broker.port);
    brokers.push(broker);
    await expect.poll(() => b.status, { timeout: 5000 }).toEqual([true, false, true]);
    await expect.poll(() => a.pool.connected, { timeout: 5000 }).toBe(true);
    // Once b's resubscription is acknowledged, subscribe() answers at once.
    await b.pool.subscribe('r');
    await b.pool.barrier();
    await a.pool.publish('r', 'again');
    await expect.poll(() => b.got).toEqual([['r', 'again']]);
  });

  it('fails a publish with the broker\'s error name, or with AckTimeoutError / BrokerPublishError when no answer can come', async () => {
    const broker = await start(kind);
    brokers.push(broker);
    const a = pool(broker.port);
    if (kind === 'ours') await expect(a.pool.publish('refused', 1)).rejects.toMatchObject({ name: 'InvalidChannelError' });
    const closing = a.pool.publish('x', 1);
    a.pool.close();
    a.pool.close();
    await expect(closing).rejects.toMatchObject({ name: 'BrokerPublishError' });
    await expect(a.pool.publish('x', 2)).rejects.toMatchObject({ name: 'BrokerPublishError' });
    // Barriers never reject.
    await expect(a.pool.barrier()).resolves.toBeUndefined();
  });
});

describe('BrokerPool', () => {
  it('carries each channel on the link hashToIndex picks, each link with its own poolIndex and authKey', async () => {
    const seen = new Map<string, string | null>();
    const broker = await startSocketCluster(0, (channel, poolIndex) => seen.set(channel, poolIndex));
    brokers.push(broker);
    const a = pool(broker.port, { size: 3 });
    const channels = Array.from({ length: 30 }, (_, i) => `channel-${i}`);
    await Promise.all(channels.map((c) => a.pool.subscribe(c)));
    await expect.poll(() => seen.size).toBe(30);
    for (const c of channels) expect(seen.get(c), c).toBe(String(a.pool.poolIndexFor(c)));
    expect(new Set(seen.values())).toEqual(new Set(['0', '1', '2']));
  });

  it('sends authKey as given, and the literal "null" without one', async () => {
    const queries: URLSearchParams[] = [];
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: '/socketcluster/' });
    wss.on('connection', (ws, req) => {
      queries.push(queryOf(req.url));
      ws.close();
    });
    const port = await listenOn(http, 0);
    pool(port, { authKey: 'k y' });
    pool(port);
    await expect.poll(() => queries.length).toBeGreaterThanOrEqual(2);
    expect(queries.map((q) => q.get('authKey')).sort()).toEqual(['k y', 'null']);
    for (const p of pools.splice(0)) p.close();
    wss.close();
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  it('fails a publish the broker never answers with AckTimeoutError and keeps the link', async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: '/socketcluster/' });
    // Answers the handshake, then nothing.
    wss.on('connection', (ws) =>
      ws.on('message', (data) => {
        const packet = JSON.parse(data.toString()) as { event?: string; cid?: number };
        if (packet.event === '#handshake') ws.send(JSON.stringify({ rid: packet.cid, data: { id: 'x', pingTimeout: 30_000, isAuthenticated: false } }));
      }),
    );
    const port = await listenOn(http, 0);
    const a = pool(port, { ackTimeoutMs: 200 });
    await expect(a.pool.publish('x', 1)).rejects.toMatchObject({ name: 'AckTimeoutError' });
    expect(a.pool.connected).toBe(true);
    a.pool.close();
    wss.close();
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
});
