/**
 * The relay with history on (docs/history.md, "Broker wire"), on a real HTTP server on 127.0.0.1,
 * driven by raw `ws` clients: positioned relay and storage, other channels' packets byte for byte
 * as before, the four procedures (every hostile request refused by name and changing nothing),
 * pending moved channels, the drain's wait for exports, and the history series.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HistoryProcedure,
  createLogger,
  createMapper,
  encodePublishText,
  isSafeChannelName,
  InvalidChannelError,
  type HistoryConfig,
  type HistoryPage,
  type HistoryState,
} from '@scc-ts/shared';
import { Relay, type RelayOptions } from '../src/relay.js';
import { drainBroker } from '../src/drain.js';
import { createBrokerMetrics } from '../src/metrics.js';
import { RawSocket, scUrl } from '../../../harness/raw.js';
import { testRelayOptions } from './relay-fixture.js';

const HISTORY: HistoryConfig = { channelPrefixes: ['h/'], size: 100, ttlMs: 0, channelMaxBytes: 100_000, maxBytes: 1_000_000 };
const logger = createLogger({ name: 'relay-history-test', level: 0, format: 'json' });

interface Started {
  relay: Relay;
  port: number;
  http: Server;
}
const started: Started[] = [];
const sockets: Peer[] = [];

async function start(overrides: Partial<RelayOptions> = {}): Promise<Started> {
  const http = createServer((_req, res) => res.writeHead(404).end());
  const relay = new Relay(testRelayOptions(http, logger, { history: HISTORY, refuseChannel: refusePrototype, ...overrides }));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const s = { relay, port: (http.address() as AddressInfo).port, http };
  started.push(s);
  return s;
}

function refusePrototype(channel: string): Error | null {
  return isSafeChannelName(channel) ? null : new InvalidChannelError(`channel ${channel} is refused`);
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const s of started.splice(0)) {
    await s.relay.close();
    await new Promise<void>((resolve) => s.http.close(() => resolve()));
  }
});

interface Packet {
  event?: string;
  data?: { channel?: string; data?: unknown };
  rid?: number;
  error?: { name: string };
}

/** A raw socket that keeps every non-ping frame as received. */
class Peer extends RawSocket {
  readonly frames: string[] = [];
  constructor(url: string) {
    super(url);
    this.ws.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() !== '') this.frames.push(data.toString());
    });
    sockets.push(this);
  }
  packets(): Packet[] {
    return this.frames.flatMap((f) => {
      const parsed = JSON.parse(f) as unknown;
      return (Array.isArray(parsed) ? parsed : [parsed]) as Packet[];
    });
  }
  publishes(channel: string): unknown[] {
    return this.packets()
      .filter((p) => p.event === '#publish' && p.data?.channel === channel)
      .map((p) => p.data?.data);
  }
  /** Invokes and waits for the answer; its data, or throws with the error's name. */
  async call<T = unknown>(event: string, data: unknown): Promise<T> {
    const cid = this.invoke(event, data);
    await this.until(() => this.replies.has(cid) || this.closed !== null, 5000);
    const reply = this.replies.get(cid);
    if (reply === undefined) throw new Error('no answer');
    if (reply.error) throw Object.assign(new Error(reply.error.message), { name: reply.error.name ?? 'Error' });
    return reply.data as T;
  }
  /** The error name a call is refused with ('answered' when it is not). */
  async refusal(event: string, data: unknown): Promise<string> {
    try {
      await this.call(event, data);
      return 'answered';
    } catch (error) {
      return (error as Error).name;
    }
  }
}

async function session(port: number): Promise<Peer> {
  const peer = new Peer(scUrl(port));
  expect(await peer.handshake()).toEqual({ kind: 'replied' });
  return peer;
}

const fetch = (peer: Peer, request: object) => peer.call<HistoryPage>(HistoryProcedure.Fetch, request);
type Positioned = { sender: string; messages: unknown[]; sccEpoch: string; sccOffset: number };

describe('positioned relay', () => {
  it('says sccHistory at the handshake, positions each packet of a history channel and stores it even with no subscriber', async () => {
    const { port, relay } = await start();
    const a = await session(port);
    expect(a.replies.get(1)?.data).toMatchObject({ sccHistory: true, isAuthenticated: false });
    const b = await session(port);
    await b.call('#subscribe', { channel: 'h/1' });
    await a.call('#publish', { channel: 'h/1', data: { sender: 'w1', messages: [1, 'two'], seq: 7 } });
    // A peer cannot set positions: the broker's replace them.
    await a.call('#publish', { channel: 'h/1', data: { sender: 'w1', messages: [{ x: 3 }], sccEpoch: 'forged', sccOffset: 99 } });
    await expect.poll(() => b.publishes('h/1').length).toBe(2);
    const [first, second] = b.publishes('h/1') as Positioned[];
    expect(first).toEqual({ sender: 'w1', messages: [1, 'two'], seq: 7, sccEpoch: first!.sccEpoch, sccOffset: 1 });
    expect(second).toEqual({ sender: 'w1', messages: [{ x: 3 }], sccEpoch: first!.sccEpoch, sccOffset: 3 });
    expect(Object.keys(second!)).toEqual(['sender', 'messages', 'sccEpoch', 'sccOffset']);
    // Nobody subscribes h/2: stored anyway.
    await a.call('#publish', { channel: 'h/2', data: { sender: 'w1', messages: ['alone'] } });
    expect(await fetch(a, { channel: 'h/2', limit: 10 })).toMatchObject({ first: 1, last: 1, from: 1, messages: ['alone'] });
    expect(await fetch(a, { channel: 'h/1', limit: 10 })).toEqual({ epoch: first!.sccEpoch, first: 1, last: 3, from: 1, messages: [1, 'two', { x: 3 }] });
    expect(relay.history?.counts).toMatchObject({ channels: 2, messages: 4 });
  });

  it('relays empty and non-packet data on a history channel as they are, unstored', async () => {
    const { port, relay } = await start();
    const a = await session(port);
    await a.call('#subscribe', { channel: 'h/1' });
    const datas = [{ sender: 'w', messages: [] }, 'plain', null];
    for (const data of datas) await a.call('#publish', { channel: 'h/1', data });
    expect(a.publishes('h/1')).toEqual(datas);
    expect(relay.history?.counts.messages).toBe(0);
  });

  it('answers a publish after its positioned copy, in the same frame', async () => {
    const { port } = await start();
    const a = await session(port);
    await a.call('#subscribe', { channel: 'h/1' });
    const cid = a.invoke('#publish', { channel: 'h/1', data: { sender: 'w', messages: [1] } });
    await a.until(() => a.replies.has(cid), 5000);
    const packets = a.packets();
    const copy = packets.findIndex((p) => p.event === '#publish');
    expect(copy).toBeGreaterThanOrEqual(0);
    expect(copy).toBeLessThan(packets.findIndex((p) => p.rid === cid));
  });

  it('relays a non-history channel byte for byte as with history off', async () => {
    const { port } = await start();
    const a = await session(port);
    const b = await session(port);
    await b.call('#subscribe', { channel: 'plain' });
    // Keys out of order, unicode, numbers as written, and fields that look like positions.
    const data = '{"z":1,"messages":["é\\u00e9",1e3],"sender":"w","sccEpoch":"x","sccOffset":3}';
    a.send(`{"event":"#publish","data":{"channel":"plain","data":${data}}}`);
    await expect.poll(() => b.frames.length).toBe(3);
    expect(b.frames[2]).toBe(encodePublishText('plain', JSON.stringify(JSON.parse(data))));
    expect(b.frames[2]).toBe('{"event":"#publish","data":{"channel":"plain","data":{"z":1,"messages":["éé",1000],"sender":"w","sccEpoch":"x","sccOffset":3}}}');
  });

  it('refuses a history packet too deeply nested to encode with InvalidPayloadError and stores nothing', async () => {
    const { port, relay } = await start({ maxPayloadBytes: 2_000_000 });
    const a = await session(port);
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    a.send(`{"event":"#publish","data":{"channel":"h/1","data":{"messages":[${deep}]}},"cid":900}`);
    expect(await a.outcome(900, 5000)).toEqual({ kind: 'error', name: 'InvalidPayloadError' });
    expect(relay.history?.has('h/1')).toBe(false);
  });
});

describe('procedures', () => {
  it('exports a channel (then forgets it) and imports it elsewhere, which continues its offsets', async () => {
    const one = await start();
    const two = await start();
    const a = await session(one.port);
    const b = await session(two.port);
    await a.call('#publish', { channel: 'h/1', data: { sender: 'w', messages: ['m1', 'm2'] } });
    const state = await a.call<HistoryState>(HistoryProcedure.Export, { channel: 'h/1' });
    expect(state).toMatchObject({ last: 2, from: 1, messages: ['m1', 'm2'] });
    expect(await fetch(a, { channel: 'h/1', limit: 10 })).toMatchObject({ epoch: null, messages: [] });
    expect(await a.call(HistoryProcedure.Export, { channel: 'h/1' })).toBeNull();
    expect(await b.call(HistoryProcedure.Import, { channel: 'h/1', state })).toEqual({ adopted: true });
    expect(await b.call(HistoryProcedure.Import, { channel: 'h/1', state })).toEqual({ adopted: false });
    await b.call('#subscribe', { channel: 'h/1' });
    await b.call('#publish', { channel: 'h/1', data: { sender: 'w', messages: ['m3'] } });
    expect(b.publishes('h/1')).toEqual([{ sender: 'w', messages: ['m3'], sccEpoch: state.epoch, sccOffset: 3 }]);
    expect(await fetch(b, { channel: 'h/1', since: { epoch: state.epoch, offset: 1 }, limit: 10 })).toEqual({
      epoch: state.epoch,
      first: 1,
      last: 3,
      from: 2,
      messages: ['m2', 'm3'],
    });
  });

  it('lists the channels another broker owns under a broker list', async () => {
    const { port } = await start();
    const a = await session(port);
    const channels = Array.from({ length: 20 }, (_, i) => `h/${i}`);
    for (const channel of channels) await a.call('#publish', { channel, data: { sender: 'w', messages: [1] } });
    const brokers = ['ws://10.0.0.1:8888', 'ws://10.0.0.2:8888'];
    const self = brokers[0]!;
    const { channels: moves } = await a.call<{ channels: Array<{ channel: string; to: string }> }>(HistoryProcedure.Moves, { brokers, self, mapping: 'skeletonRendezvous' });
    const mapper = createMapper('skeletonRendezvous');
    mapper.setSites(brokers);
    const expected = channels.filter((c) => mapper.findSite(c) !== self).map((channel) => ({ channel, to: mapper.findSite(channel) }));
    expect(expected.length).toBeGreaterThan(0);
    expect(moves).toEqual(expected);
  });

  it('refuses every hostile request by name and changes nothing', async () => {
    const { port, relay } = await start();
    const a = await session(port);
    await a.call('#publish', { channel: 'h/1', data: { sender: 'w', messages: ['m1', 'm2'] } });
    const before = await fetch(a, { channel: 'h/1', limit: 10 });
    const epoch = before.epoch as string;
    const counts = () => JSON.stringify([relay.history?.counts, relay.history?.pendingCount, relay.subscriptionCount]);
    const countsBefore = counts();
    const good: HistoryState = { epoch: 'e', last: 1, from: 1, messages: ['x'], times: [Date.now()] };
    const cases: Array<[string, unknown, string]> = [
      [HistoryProcedure.Fetch, null, 'InvalidPayloadError'],
      [HistoryProcedure.Fetch, ['h/1'], 'InvalidPayloadError'],
      [HistoryProcedure.Fetch, { channel: 7, limit: 1 }, 'InvalidChannelError'],
      [HistoryProcedure.Fetch, { channel: 'constructor', limit: 1 }, 'InvalidChannelError'],
      [HistoryProcedure.Fetch, { channel: 'plain', limit: 1 }, 'HistoryNotEnabledError'],
      [HistoryProcedure.Fetch, { channel: 'h/1', limit: 1001 }, 'InvalidPayloadError'],
      [HistoryProcedure.Fetch, { channel: 'h/1', limit: -1 }, 'InvalidPayloadError'],
      [HistoryProcedure.Fetch, { channel: 'h/1', limit: 1.5 }, 'InvalidPayloadError'],
      [HistoryProcedure.Fetch, { channel: 'h/1', limit: '5' }, 'InvalidPayloadError'],
      [HistoryProcedure.Fetch, { channel: 'h/1', since: 'x', limit: 1 }, 'InvalidPositionError'],
      [HistoryProcedure.Fetch, { channel: 'h/1', since: { epoch: '', offset: 1 }, limit: 1 }, 'InvalidPositionError'],
      [HistoryProcedure.Fetch, { channel: 'h/1', since: { epoch: 'e'.repeat(65), offset: 1 }, limit: 1 }, 'InvalidPositionError'],
      [HistoryProcedure.Fetch, { channel: 'h/1', since: { epoch, offset: -1 }, limit: 1 }, 'InvalidPositionError'],
      [HistoryProcedure.Fetch, { channel: 'h/1', since: { epoch, offset: 2 ** 60 }, limit: 1 }, 'InvalidPositionError'],
      [HistoryProcedure.Fetch, { channel: 'h/1', since: { epoch, offset: 3 }, limit: 1 }, 'InvalidPositionError'],
      [HistoryProcedure.Moves, 'x', 'InvalidPayloadError'],
      [HistoryProcedure.Moves, { brokers: 'ws://a', self: 'ws://a', mapping: 'simple' }, 'InvalidPayloadError'],
      [HistoryProcedure.Moves, { brokers: [1], self: 'ws://a', mapping: 'simple' }, 'InvalidPayloadError'],
      [HistoryProcedure.Moves, { brokers: ['ws://a'], self: 7, mapping: 'simple' }, 'InvalidPayloadError'],
      [HistoryProcedure.Moves, { brokers: ['ws://a'], self: 'ws://a', mapping: 'custom' }, 'InvalidPayloadError'],
      [HistoryProcedure.Moves, { brokers: ['ws://a'], self: 'ws://a', mapping: 'constructor' }, 'InvalidPayloadError'],
      [HistoryProcedure.Export, {}, 'InvalidChannelError'],
      [HistoryProcedure.Export, { channel: 'plain' }, 'HistoryNotEnabledError'],
      [HistoryProcedure.Export, { channel: '__proto__' }, 'InvalidChannelError'],
      [HistoryProcedure.Import, { channel: 'h/1' }, 'InvalidPayloadError'],
      [HistoryProcedure.Import, { channel: 'h/new' }, 'InvalidPayloadError'],
      [HistoryProcedure.Import, { channel: 'plain', state: good }, 'HistoryNotEnabledError'],
      [HistoryProcedure.Import, { channel: 'h/new', state: 'x' }, 'InvalidPayloadError'],
      [HistoryProcedure.Import, { channel: 'h/new', state: { ...good, epoch: '' } }, 'InvalidPayloadError'],
      [HistoryProcedure.Import, { channel: 'h/new', state: { ...good, from: 0 } }, 'InvalidPayloadError'],
      [HistoryProcedure.Import, { channel: 'h/new', state: { ...good, last: 5 } }, 'InvalidPayloadError'],
      [HistoryProcedure.Import, { channel: 'h/new', state: { ...good, times: [] } }, 'InvalidPayloadError'],
      [HistoryProcedure.Import, { channel: 'h/new', state: { ...good, times: ['now'] } }, 'InvalidPayloadError'],
      [HistoryProcedure.Expect, null, 'InvalidPayloadError'],
      [HistoryProcedure.Expect, { channels: 'h/new' }, 'InvalidPayloadError'],
      [HistoryProcedure.Expect, { channels: Array.from({ length: 10_001 }, (_, i) => `h/${i}`) }, 'InvalidPayloadError'],
      // One bad name refuses the whole request: the good one before it is not made pending.
      [HistoryProcedure.Expect, { channels: ['h/new', 'plain'] }, 'HistoryNotEnabledError'],
      [HistoryProcedure.Expect, { channels: ['h/new', 7] }, 'InvalidChannelError'],
    ];
    const names: string[] = [];
    for (const [procedure, data] of cases) names.push(await a.refusal(procedure, data));
    expect(names).toEqual(cases.map(([, , name]) => name));
    // Without a cid: no answer, nothing changed.
    a.send(JSON.stringify({ event: HistoryProcedure.Export, data: { channel: 'h/1' } }));
    a.send(JSON.stringify({ event: HistoryProcedure.Import, data: { channel: 'h/new', state: good } }));
    expect(await fetch(a, { channel: 'h/1', limit: 10 })).toEqual(before);
    expect(relay.history?.has('h/new')).toBe(false);
    expect(relay.history?.isPending('h/new')).toBe(false);
    expect(counts()).toBe(countsBefore);
    expect(a.open).toBe(true);
  });

  it('answers HistoryNotEnabledError to every procedure when history is off, and says nothing at the handshake', async () => {
    const { port } = await start({ history: { ...HISTORY, channelPrefixes: [] } });
    const a = await session(port);
    expect(a.replies.get(1)?.data).not.toHaveProperty('sccHistory');
    for (const procedure of Object.values(HistoryProcedure)) expect(await a.refusal(procedure, { channel: 'h/1', limit: 1 })).toBe('HistoryNotEnabledError');
    await a.call('#subscribe', { channel: 'h/1' });
    await a.call('#publish', { channel: 'h/1', data: { sender: 'w', messages: [1] } });
    expect(a.publishes('h/1')).toEqual([{ sender: 'w', messages: [1] }]);
  });
});

describe('pending moved channels', () => {
  it('holds a moved channel’s packets, answers and fetches until the import, then relays them continuing it', async () => {
    const { port, relay } = await start();
    const a = await session(port);
    const worker = await session(port);
    await a.call('#subscribe', { channel: 'h/m' });
    expect(await worker.call(HistoryProcedure.Expect, { channels: ['h/m', 'h/m'] })).toEqual({ pending: 1 });
    const p1 = worker.invoke('#publish', { channel: 'h/m', data: { sender: 'w', messages: ['n1'] } });
    worker.send(JSON.stringify({ event: '#publish', data: { channel: 'h/m', data: { sender: 'w', messages: ['n2', 'n3'] } } }));
    const f = worker.invoke(HistoryProcedure.Fetch, { channel: 'h/m', limit: 10 });
    // Another channel is not held.
    await worker.call('#publish', { channel: 'h/other', data: { sender: 'w', messages: ['o'] } });
    expect(relay.history?.isPending('h/m')).toBe(true);
    expect(a.publishes('h/m')).toEqual([]);
    expect(worker.replies.has(p1) || worker.replies.has(f)).toBe(false);
    const state: HistoryState = { epoch: 'moved', last: 5, from: 4, messages: ['o4', 'o5'], times: [Date.now(), Date.now()] };
    const importer = await session(port);
    expect(await importer.call(HistoryProcedure.Import, { channel: 'h/m', state })).toEqual({ adopted: true });
    await expect.poll(() => a.publishes('h/m').length).toBe(2);
    expect(a.publishes('h/m')).toEqual([
      { sender: 'w', messages: ['n1'], sccEpoch: 'moved', sccOffset: 6 },
      { sender: 'w', messages: ['n2', 'n3'], sccEpoch: 'moved', sccOffset: 7 },
    ]);
    expect(await worker.outcome(p1, 5000)).toEqual({ kind: 'replied' });
    await worker.until(() => worker.replies.has(f), 5000);
    expect(worker.replies.get(f)?.data).toEqual({ epoch: 'moved', first: 4, last: 8, from: 4, messages: ['o4', 'o5', 'n1', 'n2', 'n3'] });
    // The worker's answer followed the relayed copy.
    const packets = worker.packets();
    expect(packets.findIndex((p) => p.rid === p1)).toBeGreaterThan(packets.findIndex((p) => p.event === '#publish' && p.data?.channel === 'h/m'));
    // Once it has state, an expectation changes nothing.
    expect(await worker.call(HistoryProcedure.Expect, { channels: ['h/m'] })).toEqual({ pending: 0 });
    await worker.call('#publish', { channel: 'h/m', data: { sender: 'w', messages: ['n4'] } });
    expect(relay.history?.isPending('h/m')).toBe(false);
    expect((a.publishes('h/m')[2] as Positioned).sccOffset).toBe(9);
  });

  it('starts a new epoch when no import comes within the pending timeout', async () => {
    const { port } = await start({ historyPendingTimeoutMs: 200 });
    const a = await session(port);
    await a.call('#subscribe', { channel: 'h/m' });
    await a.call(HistoryProcedure.Expect, { channels: ['h/m'] });
    const startedAt = Date.now();
    await a.call('#publish', { channel: 'h/m', data: { sender: 'w', messages: ['n1'] } });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(150);
    expect(a.publishes('h/m')).toMatchObject([{ messages: ['n1'], sccOffset: 1 }]);
    // A late import is not adopted.
    expect(await a.call(HistoryProcedure.Import, { channel: 'h/m', state: null })).toEqual({ adopted: false });
  });

  it('starts a new epoch at once past the pending bound (bytes per channel)', async () => {
    const { port } = await start({ history: { ...HISTORY, channelMaxBytes: 30 } });
    const a = await session(port);
    await a.call('#subscribe', { channel: 'h/m' });
    await a.call(HistoryProcedure.Expect, { channels: ['h/m'] });
    a.send(JSON.stringify({ event: '#publish', data: { channel: 'h/m', data: { sender: 'w', messages: ['x'.repeat(10)] } } }));
    expect(await a.call('#publish', { channel: 'h/m', data: { sender: 'w', messages: ['y'.repeat(20)] } })).toBeUndefined();
    expect(a.publishes('h/m')).toMatchObject([{ sccOffset: 1 }, { sccOffset: 2 }]);
  });

  it('a null import releases the channel into a new epoch', async () => {
    const { port } = await start();
    const a = await session(port);
    await a.call('#subscribe', { channel: 'h/m' });
    await a.call(HistoryProcedure.Expect, { channels: ['h/m'] });
    const p = a.invoke('#publish', { channel: 'h/m', data: { sender: 'w', messages: ['n1'] } });
    expect(await a.call(HistoryProcedure.Import, { channel: 'h/m', state: null })).toEqual({ adopted: true });
    expect(await a.outcome(p, 5000)).toEqual({ kind: 'replied' });
    expect(a.publishes('h/m')).toMatchObject([{ messages: ['n1'], sccOffset: 1 }]);
  });
});

describe('drain and metrics', () => {
  it('a drain waits until live history channels are exported, within its deadline', async () => {
    const { port, relay } = await start();
    const a = await session(port);
    await a.call('#publish', { channel: 'h/1', data: { sender: 'w', messages: [1] } });
    const timedOut = await drainBroker({ relay, history: relay.history, leave: async () => undefined, timeoutMs: 100, logger });
    expect(timedOut).toMatchObject({ outcome: 'timeout', subscriptionsLeft: 0, historyChannelsLeft: 1 });
    const drain = drainBroker({ relay, history: relay.history, leave: async () => undefined, timeoutMs: 5000, logger });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await a.call(HistoryProcedure.Export, { channel: 'h/1' });
    const result = await drain;
    expect(result).toMatchObject({ outcome: 'drained', historyChannelsLeft: 0 });
    expect(result.durationMs).toBeLessThan(2000);
  });

  it('reports the scc_broker_history_* series', async () => {
    const { port, relay } = await start({ history: { ...HISTORY, size: 2 } });
    const metrics = createBrokerMetrics({ relay, joined: () => true, draining: () => false });
    const a = await session(port);
    await a.call('#publish', { channel: 'h/1', data: { sender: 'w', messages: [1, 2, 3] } });
    const text = await metrics.registry.metrics();
    metrics.close();
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('scc_broker_history_channels')).toBe(1);
    expect(value('scc_broker_history_messages')).toBe(2);
    expect(value('scc_broker_history_bytes')).toBe(2);
    expect(value('scc_broker_history_limit_bytes')).toBe(HISTORY.maxBytes);
    expect(value('scc_broker_history_evicted_total{reason="size"}')).toBe(1);
    expect(value('scc_broker_history_evicted_total{reason="ttl"}')).toBe(0);
  });
});
