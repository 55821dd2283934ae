/**
 * The worker's broker engine on a real socketcluster-server with real socketcluster-clients:
 * fan-outs sliced over event-loop turns keep every subscriber's order and reach each once, the
 * outbound middleware still sees (and may change) every delivery, and server-side exchange
 * subscribers hear publishes as with ag-simple-broker.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import socketClusterServer from 'socketcluster-server';
import socketClusterClient from 'socketcluster-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { AGServer } from '@scc-ts/shared';
import { WorkerBrokerEngine } from '../src/broker-engine.js';

type Client = ReturnType<typeof socketClusterClient.create>;
const DEADLINE_MS = 10_000;

let httpServer: Server | undefined;
let agServer: AGServer | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  agServer?.close();
  await new Promise<void>((resolve) => (httpServer ? httpServer.close(() => resolve()) : resolve()));
  httpServer = undefined;
  agServer = undefined;
});

async function start(engine: WorkerBrokerEngine): Promise<number> {
  httpServer = createServer();
  agServer = socketClusterServer.attach(httpServer, { brokerEngine: engine }) as AGServer;
  engine.bindServer(agServer);
  await new Promise<void>((resolve) => httpServer!.listen(0, '127.0.0.1', resolve));
  return (httpServer.address() as AddressInfo).port;
}

/** `count` clients subscribed to every channel of `channels`; returns what each receives, in order. */
async function subscribers(port: number, count: number, channels: readonly string[]): Promise<string[][]> {
  const received: string[][] = [];
  for (let i = 0; i < count; i++) {
    const client = socketClusterClient.create({ hostname: '127.0.0.1', port, autoReconnect: false });
    clients.push(client);
    const mine: string[] = [];
    received.push(mine);
    for (const name of channels) {
      const channel = client.subscribe(name);
      void (async () => {
        for await (const data of channel) mine.push(`${name}:${String(data)}`);
      })();
      await channel.listener('subscribe').once();
    }
  }
  return received;
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WorkerBrokerEngine', () => {
  it('slices a big fan-out over turns and keeps every subscriber in order, each message once, later channels behind it', async () => {
    // 12 subscribers, slices of 5: every fan-out takes three turns.
    const engine = new WorkerBrokerEngine({ sliceSockets: 5 });
    const port = await start(engine);
    const received = await subscribers(port, 12, ['big', 'other']);
    for (let k = 0; k < 20; k++) {
      void engine.transmitPublish('big', k);
      if (k % 5 === 0) void engine.transmitPublish('other', k);
    }
    const expected = [...Array.from({ length: 20 }, (_, k) => `big:${k}`), ...[0, 5, 10, 15].map((k) => `other:${k}`)];
    await until(() => received.every((r) => r.length >= expected.length));
    for (const mine of received) {
      expect(mine.filter((m) => m.startsWith('big:'))).toEqual(expected.slice(0, 20));
      expect(mine.filter((m) => m.startsWith('other:'))).toEqual(expected.slice(20));
      // 'other' was published behind 'big' k and must not overtake it.
      for (const k of [0, 5, 10, 15]) expect(mine.indexOf(`other:${k}`)).toBeGreaterThan(mine.indexOf(`big:${k}`));
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(received.every((r) => r.length === expected.length)).toBe(true);
  });

  it('delivers to sockets subscribed at publish time only, skipping one that closed meanwhile', async () => {
    const engine = new WorkerBrokerEngine({ sliceSockets: 2 });
    const port = await start(engine);
    const received = await subscribers(port, 6, ['c']);
    void engine.transmitPublish('c', 'one');
    // Closed before its slice comes (it is the last target): skipped, nobody else affected.
    clients[5]!.disconnect();
    const late = await subscribers(port, 1, ['c']);
    await until(() => received.slice(0, 5).every((r) => r.length === 1));
    void engine.transmitPublish('c', 'two');
    await until(() => received.slice(0, 5).every((r) => r.length === 2) && late[0]!.length === 1);
    expect(received.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => ['c:one', 'c:two']));
    expect(late[0]).toEqual(['c:two']);
  });

  it('sends a long publish in a sliced fan-out as the same text frame every client decodes', async () => {
    const engine = new WorkerBrokerEngine({ sliceSockets: 2 });
    const port = await start(engine);
    const received = await subscribers(port, 5, ['c']);
    const long = `é${'x'.repeat(10_000)}€`;
    void engine.transmitPublish('c', long);
    void engine.transmitPublish('c', 'short');
    await until(() => received.every((r) => r.length === 2));
    expect(received).toEqual(Array.from({ length: 5 }, () => [`c:${long}`, 'c:short']));
  });

  it('runs the outbound middleware for every delivery when the server has one (it may change or block each)', async () => {
    const engine = new WorkerBrokerEngine({ sliceSockets: 2 });
    const port = await start(engine);
    const server = agServer!;
    server.setMiddleware(server.MIDDLEWARE_OUTBOUND, async (stream) => {
      for await (const action of stream) {
        if (action.type === action.PUBLISH_OUT && action.data === 'secret') action.block(new Error('blocked'));
        else if (action.type === action.PUBLISH_OUT) action.allow({ data: `${String(action.data)}!` });
        else action.allow();
      }
    });
    const received = await subscribers(port, 5, ['c']);
    void engine.transmitPublish('c', 'secret');
    void engine.transmitPublish('c', 'hi');
    await until(() => received.every((r) => r.length >= 1));
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toEqual(Array.from({ length: 5 }, () => ['c:hi!']));
  });

  it('lets server code subscribe through the exchange and hear what clients publish', async () => {
    const engine = new WorkerBrokerEngine();
    const port = await start(engine);
    const heard: unknown[] = [];
    const channel = agServer!.exchange.subscribe('news');
    void (async () => {
      for await (const data of channel) heard.push(data);
    })();
    const publisher = socketClusterClient.create({ hostname: '127.0.0.1', port, autoReconnect: false });
    clients.push(publisher);
    await publisher.listener('connect').once();
    await publisher.invokePublish('news', 'from a client');
    await until(() => heard.length === 1);
    expect(heard).toEqual(['from a client']);
    expect(engine.isSubscribed('news')).toBe(true);
  });

  it('calls publish hooks synchronously for publishes that raise the event, never for relayed ones, until removed', async () => {
    const engine = new WorkerBrokerEngine();
    const port = await start(engine);
    const heard: string[] = [];
    const remove = engine.onPublish((channel, data) => heard.push(`${channel}:${String(data)}`));
    void engine.transmitPublish('c', 'local');
    expect(heard).toEqual(['c:local']);
    void engine.invokePublish('c', 'relayed', true);
    expect(heard).toEqual(['c:local']);
    const publisher = socketClusterClient.create({ hostname: '127.0.0.1', port, autoReconnect: false });
    clients.push(publisher);
    await publisher.invokePublish('room', 'from a client');
    expect(heard).toEqual(['c:local', 'room:from a client']);
    remove();
    void engine.transmitPublish('c', 'after');
    expect(heard).toHaveLength(2);
  });

  it('refuses a slice size that is not a positive integer', () => {
    expect(() => new WorkerBrokerEngine({ sliceSockets: 0 })).toThrow(RangeError);
    expect(() => new WorkerBrokerEngine({ sliceSockets: 1.5 })).toThrow(/sliceSockets/);
  });
});
