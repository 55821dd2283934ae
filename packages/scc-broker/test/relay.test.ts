/**
 * The broker's relay on a real HTTP server on 127.0.0.1, driven by raw `ws` clients that write
 * every frame by hand: handshake, subscriptions, encode-once fan-out, batches both ways, barrier
 * ordering, refusals with named errors that change nothing, and the upgrade and socket limits.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger, isSafeChannelName, InvalidChannelError, type Logger } from '@scc-ts/shared';
import { Relay, type RelayOptions, type RelayedPacket } from '../src/relay.js';
import { RawSocket, scUrl } from '../../../harness/raw.js';
import { testRelayOptions } from './relay-fixture.js';

interface LogLine {
  level: number;
  msg: string;
}
const WARN = 40;

/** A JSON logger whose lines the test reads. */
function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: createLogger({ name: 'relay-test', level: 3, format: 'json', destination }), lines };
}

interface Started {
  relay: Relay;
  port: number;
  lines: LogLine[];
  http: Server;
}
const started: Started[] = [];
const sockets: Peer[] = [];

async function start(overrides: Partial<RelayOptions> = {}): Promise<Started> {
  const http = createServer((_req, res) => res.writeHead(404).end());
  const { logger, lines } = captureLogger();
  const relay = new Relay(testRelayOptions(http, logger, overrides));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const s = { relay, port: (http.address() as AddressInfo).port, lines, http };
  started.push(s);
  return s;
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const s of started.splice(0)) {
    await s.relay.close();
    await new Promise<void>((resolve) => s.http.close(() => resolve()));
  }
});

/** A raw socket that also keeps every non-ping frame as received. */
class Peer extends RawSocket {
  readonly frames: string[] = [];
  constructor(url: string, options?: WebSocket.ClientOptions) {
    super(url, options);
    this.ws.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() !== '') this.frames.push(data.toString());
    });
    sockets.push(this);
  }
  /** Every packet received, batches unpacked, in order. */
  packets(): Array<{ event?: string; data?: { channel?: string; data?: unknown }; rid?: number; error?: { name: string } }> {
    return this.frames.flatMap((f) => {
      const parsed = JSON.parse(f) as unknown;
      return (Array.isArray(parsed) ? parsed : [parsed]) as never[];
    });
  }
  publishes(channel?: string): unknown[] {
    return this.packets()
      .filter((p) => p.event === '#publish' && (channel === undefined || p.data?.channel === channel))
      .map((p) => p.data?.data);
  }
}

async function session(port: number, query: Record<string, string> = {}): Promise<Peer> {
  const peer = new Peer(scUrl(port, query));
  expect(await peer.handshake()).toEqual({ kind: 'replied' });
  return peer;
}

async function replied(peer: Peer, event: string, data: unknown): Promise<void> {
  expect(await peer.outcome(peer.invoke(event, data), 5000)).toEqual({ kind: 'replied' });
}

describe('handshake', () => {
  it('answers {id, pingTimeout, isAuthenticated: false}, counts the socket once and refuses a second handshake with 4008', async () => {
    const { relay, port, lines } = await start({ pingTimeoutMs: 12_345 });
    const peer = await session(port);
    const reply = peer.replies.get(1);
    expect(reply?.data).toMatchObject({ pingTimeout: 12_345, isAuthenticated: false });
    expect(typeof (reply?.data as { id?: unknown }).id).toBe('string');
    expect(relay.connectionCount).toBe(1);
    expect(await peer.outcome(peer.invoke('#handshake', {}), 5000)).toEqual({ kind: 'error', name: 'InvalidHandshakeError' });
    expect((await peer.closedWithin(5000))?.code).toBe(4008);
    await expect.poll(() => relay.connectionCount).toBe(0);
    // A healthy session logs no warning.
    const clean = await session(port);
    await replied(clean, '#subscribe', { channel: 'a' });
    expect(lines.filter((l) => l.level >= WARN && !/InvalidHandshakeError/.test(l.msg))).toEqual([]);
  });

  it('closes a socket that sends anything else first with 4009, and one that sends nothing with 4005', async () => {
    const { port, relay } = await start({ handshakeTimeoutMs: 200 });
    const early = new Peer(scUrl(port));
    expect(await early.opened).toBeNull();
    early.invoke('#subscribe', { channel: 'a' });
    expect((await early.closedWithin(5000))?.code).toBe(4009);
    const idle = new Peer(scUrl(port));
    expect(await idle.opened).toBeNull();
    expect((await idle.closedWithin(5000))?.code).toBe(4005);
    expect(relay.pendingCount + relay.connectionCount).toBe(0);
  });

  it('drops a socket that stops answering pings with 4001 and keeps one that answers', async () => {
    const { port } = await start({ pingIntervalMs: 50, pingTimeoutMs: 300 });
    const answering = await session(port);
    const silent = new WebSocket(scUrl(port));
    const closed = new Promise<number>((resolve) => silent.on('close', (code) => resolve(code)));
    silent.on('open', () => silent.send(JSON.stringify({ event: '#handshake', data: {}, cid: 1 })));
    expect(await closed).toBe(4001);
    expect(answering.open).toBe(true);
  });
});

describe('subscriptions', () => {
  it('acknowledges #subscribe and #unsubscribe (with and without a cid) and keeps the counts', async () => {
    const { relay, port } = await start();
    const a = await session(port);
    const b = await session(port);
    await replied(a, '#subscribe', { channel: 'x' });
    await replied(a, '#subscribe', { channel: 'y' });
    await replied(b, '#subscribe', { channel: 'x' });
    // A repeat changes nothing and is acknowledged.
    await replied(b, '#subscribe', { channel: 'x' });
    expect([relay.subscriptionCount, relay.channelCount, relay.subscriberCount('x'), relay.subscriberCount('y')]).toEqual([3, 2, 2, 1]);
    const emptied: string[] = [];
    relay.onChannelEmpty((c) => emptied.push(c));
    await replied(a, '#unsubscribe', 'y');
    a.send(JSON.stringify({ event: '#unsubscribe', data: 'x' }));
    expect(await a.probe(5000)).toEqual({ kind: 'error', name: 'BrokerError' });
    expect([relay.subscriptionCount, relay.channelCount, relay.subscriberCount('x')]).toEqual([1, 1, 1]);
    expect(emptied).toEqual(['y']);
    // A disconnect drops what the socket held.
    b.close();
    await expect.poll(() => relay.channelCount).toBe(0);
    expect(emptied).toEqual(['y', 'x']);
    expect(relay.subscriptionCount).toBe(0);
  });

  it('treats Object.prototype names as ordinary channels (nothing is keyed by them)', async () => {
    const { relay, port } = await start();
    const a = await session(port);
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype);
    const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
    for (const channel of names) await replied(a, '#subscribe', { channel });
    expect(relay.channelCount).toBe(names.length);
    for (const channel of names) await replied(a, '#publish', { channel, data: channel });
    expect(names.map((c) => a.publishes(c))).toEqual(names.map((c) => [c]));
    expect(relay.subscriberCount('valueOf')).toBe(0);
    // Nothing was written into Object.prototype.
    expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(prototypeKeys);
    expect(({} as Record<string, unknown>)['constructor']).toBe(Object);
    for (const channel of names) await replied(a, '#unsubscribe', channel);
    expect(relay.channelCount).toBe(0);
  });

  it('applies an extra channel policy: a refused subscribe answers BrokerError naming InvalidChannelError', async () => {
    const { relay, port } = await start({
      refuseChannel: (c) => (isSafeChannelName(c) ? null : new InvalidChannelError(`channel ${c} is refused`)),
    });
    const a = await session(port);
    const cid = a.invoke('#subscribe', { channel: 'constructor' });
    expect(await a.outcome(cid, 5000)).toEqual({ kind: 'error', name: 'BrokerError' });
    expect(a.replies.get(cid)?.error?.message).toMatch(/InvalidChannelError/);
    expect(await a.outcome(a.invoke('#publish', { channel: 'toString', data: 1 }), 5000)).toEqual({ kind: 'error', name: 'InvalidChannelError' });
    expect(relay.channelCount).toBe(0);
  });
});

describe('relay', () => {
  it('encodes each publish once and writes the same text to every subscriber, the publisher included', async () => {
    const { relay, port } = await start();
    const subscribers = [await session(port), await session(port), await session(port)];
    for (const s of subscribers) await replied(s, '#subscribe', { channel: 'room' });
    const relayed: RelayedPacket[] = [];
    relay.onRelayed((p) => relayed.push(p));
    const publisher = subscribers[0]!;
    await replied(publisher, '#publish', { channel: 'room', data: { sender: 'w1', messages: [1, 'two'] } });
    expect(relayed).toHaveLength(1);
    expect(relayed[0]).toMatchObject({ channel: 'room', subscribers: 3, data: { sender: 'w1', messages: [1, 'two'] } });
    const text = relayed[0]!.text!;
    expect(JSON.parse(text)).toEqual({ event: '#publish', data: { channel: 'room', data: { sender: 'w1', messages: [1, 'two'] } } });
    for (const s of subscribers.slice(1)) await expect.poll(() => s.frames.includes(text)).toBe(true);
    // The publisher's own copy came in the same frame as its acknowledgement, before it.
    const packets = publisher.packets();
    const copy = packets.findIndex((p) => p.event === '#publish');
    const ack = packets.findIndex((p) => p.rid === 3);
    expect(copy).toBeGreaterThanOrEqual(0);
    expect(copy).toBeLessThan(ack);
    // Without a cid: relayed, no answer.
    publisher.send(JSON.stringify({ event: '#publish', data: { channel: 'room', data: 'quiet' } }));
    for (const s of subscribers) await expect.poll(() => s.publishes('room')).toEqual([{ sender: 'w1', messages: [1, 'two'] }, 'quiet']);
    expect(relayed.map((r) => r.subscribers)).toEqual([3, 3]);
  });

  it('takes batch frames in and sends what one turn produces as one batch frame', async () => {
    const { port, relay } = await start();
    const a = await session(port);
    const b = await session(port);
    const frame = (p: object[]) => JSON.stringify(p);
    a.send(
      frame([
        { event: '#subscribe', data: { channel: 'p' }, cid: 10 },
        { event: '#subscribe', data: { channel: 'q' }, cid: 11 },
      ]),
    );
    expect(await a.outcome(11, 5000)).toEqual({ kind: 'replied' });
    expect(a.replies.has(10)).toBe(true);
    expect(relay.subscriberCount('p') + relay.subscriberCount('q')).toBe(2);
    const before = a.frames.length;
    b.send(frame([1, 2, 3, 4, 5].map((n) => ({ event: '#publish', data: { channel: n % 2 ? 'p' : 'q', data: n } }))));
    await expect.poll(() => a.publishes().length).toBe(5);
    const after = a.frames.slice(before);
    expect(after).toHaveLength(1);
    expect(JSON.parse(after[0]!)).toHaveLength(5);
    expect(a.publishes()).toEqual([1, 2, 3, 4, 5]);
  });

  it('acknowledges a publish to a channel nobody subscribes only after everything sent before it on that socket', async () => {
    const { port } = await start();
    const a = await session(port);
    await replied(a, '#subscribe', { channel: 'x' });
    for (let i = 0; i < 50; i++) a.send(JSON.stringify({ event: '#publish', data: { channel: 'x', data: i } }));
    const barrier = a.invoke('#publish', { channel: 'scc-ts/barrier', data: null });
    expect(await a.outcome(barrier, 5000)).toEqual({ kind: 'replied' });
    const packets = a.packets();
    const ackAt = packets.findIndex((p) => p.rid === barrier);
    expect(packets.slice(0, ackAt).filter((p) => p.event === '#publish')).toHaveLength(50);
  });
});

describe('refusals', () => {
  it('refuses malformed frames and channels with named errors and changes nothing', async () => {
    const { relay, port, lines } = await start();
    const a = await session(port);
    await replied(a, '#subscribe', { channel: 'keep' });
    const counts = () => [relay.connectionCount, relay.subscriptionCount, relay.channelCount];
    const before = counts();
    a.send('not json');
    a.send('5');
    a.send('null');
    a.send(JSON.stringify({ event: 7, cid: 1 }));
    a.send(Buffer.from('binary'));
    const ask = (event: string, data: unknown) => a.outcome(a.invoke(event, data), 5000);
    expect(await ask('#publish', { data: 1 })).toEqual({ kind: 'error', name: 'InvalidChannelError' });
    expect(await ask('#publish', 'x')).toEqual({ kind: 'error', name: 'InvalidChannelError' });
    // Any string is a channel, as for the original broker: the empty name and a long one are carried.
    expect(await ask('#publish', { channel: '', data: 1 })).toEqual({ kind: 'replied' });
    expect(await ask('#publish', { channel: 'x'.repeat(10_000), data: 1 })).toEqual({ kind: 'replied' });
    expect(await ask('#subscribe', { channel: 7 })).toEqual({ kind: 'error', name: 'BrokerError' });
    expect(await ask('#subscribe', null)).toEqual({ kind: 'error', name: 'BrokerError' });
    expect(await ask('#unsubscribe', { channel: 'keep' })).toEqual({ kind: 'error', name: 'InvalidChannelError' });
    expect(await ask('#authenticate', 'token')).toEqual({ kind: 'error', name: 'UnsupportedActionError' });
    expect(a.open).toBe(true);
    expect(counts()).toEqual(before);
    // Each refusal without a cid was one (rate-limited) warning naming its error.
    expect(lines.filter((l) => /InvalidFrameError/.test(l.msg)).length).toBeGreaterThanOrEqual(4);
  });

  it('refuses a packet too deeply nested to encode again with InvalidPayloadError, and keeps serving', async () => {
    const { port, relay } = await start({ maxPayloadBytes: 2_000_000 });
    const a = await session(port);
    await replied(a, '#subscribe', { channel: 'x' });
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    a.send(`{"event":"#publish","data":{"channel":"x","data":${deep}},"cid":900}`);
    expect(await a.outcome(900, 5000)).toEqual({ kind: 'error', name: 'InvalidPayloadError' });
    await replied(a, '#publish', { channel: 'x', data: 'fine' });
    await expect.poll(() => a.publishes('x')).toEqual(['fine']);
    expect(relay.connectionCount).toBe(1);
  });

  it('logs at most the per-second budget of warnings for a flood of bad frames', async () => {
    const { port, lines } = await start();
    const a = await session(port);
    for (let i = 0; i < 200; i++) a.send('garbage');
    expect(await a.probe(5000)).toEqual({ kind: 'error', name: 'BrokerError' });
    expect(lines.filter((l) => l.level >= WARN).length).toBeLessThanOrEqual(25);
  });

  it('closes a message over maxPayload with 1009', async () => {
    const { port } = await start({ maxPayloadBytes: 1000 });
    const a = await session(port);
    a.send(JSON.stringify({ event: '#publish', data: { channel: 'x', data: 'a'.repeat(2000) } }));
    expect((await a.closedWithin(5000))?.code).toBe(1009);
  });

  it('refuses a wrong or missing auth key at the upgrade with HTTP 401 BadClusterAuthError', async () => {
    const refused: string[] = [];
    const { port } = await start({ authKey: 'secret', authErrorMessage: 'no valid authKey', onAuthRefused: (e) => refused.push(e.name) });
    expect(await new Peer(scUrl(port, { authKey: 'wrong' })).opened).toMatchObject({ kind: 'http', status: 401, body: 'no valid authKey' });
    expect(await new Peer(scUrl(port)).opened).toMatchObject({ kind: 'http', status: 401 });
    expect(refused).toEqual(['BadClusterAuthError', 'BadClusterAuthError']);
    await session(port, { authKey: 'secret' });
    expect(await new Peer(scUrl(port, { authKey: 'secret' }, '/other/')).opened).toMatchObject({ kind: 'http', status: 400 });
  });

  it('refuses connections past maxConnections with HTTP 503 and Retry-After, pending sockets included', async () => {
    const { port, relay } = await start({ maxConnections: 2 });
    await session(port);
    const pending = new Peer(scUrl(port));
    expect(await pending.opened).toBeNull();
    let retryAfter: string | undefined;
    const third = new Peer(scUrl(port));
    third.ws.on('unexpected-response', (_req, res) => (retryAfter = res.headers['retry-after']));
    const outcome = await third.opened;
    expect(outcome).toMatchObject({ kind: 'http', status: 503 });
    expect(outcome?.kind === 'http' && outcome.body).toMatch(/^ConnectionLimitError: /);
    expect(retryAfter).toBe('1');
    pending.close();
    await expect.poll(() => relay.pendingCount).toBe(0);
    await session(port);
  });

  it('closes a slow consumer with 4100 SlowConsumerError and keeps serving the others', async () => {
    const { port, relay, lines } = await start({ maxOutboundBufferBytes: 256 * 1024 });
    const slow = await session(port);
    const fast = await session(port);
    await replied(slow, '#subscribe', { channel: 'big' });
    await replied(fast, '#subscribe', { channel: 'big' });
    slow.ws.pause();
    const chunk = 'z'.repeat(64 * 1024);
    for (let i = 0; i < 400 && relay.subscriberCount('big') === 2; i++) {
      await replied(fast, '#publish', { channel: 'big', data: chunk });
    }
    expect(relay.subscriberCount('big')).toBe(1);
    slow.ws.resume();
    expect(await slow.closedWithin(10_000)).toMatchObject({ code: 4100, reason: 'SlowConsumerError' });
    expect(fast.open).toBe(true);
    expect(lines.some((l) => /SlowConsumerError/.test(l.msg))).toBe(true);
  });
});

describe('close', () => {
  it('closes every socket with the code given and is safe to call twice', async () => {
    const { relay, port } = await start();
    const a = await session(port);
    await replied(a, '#subscribe', { channel: 'x' });
    await Promise.all([relay.close(1012, 'bye'), relay.close()]);
    expect(await a.closedWithin(5000)).toMatchObject({ code: 1012, reason: 'bye' });
    expect([relay.connectionCount, relay.channelCount, relay.subscriptionCount]).toEqual([0, 0, 0]);
  });
});
