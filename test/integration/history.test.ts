/**
 * Channel history and recovery (docs/history.md) end to end: real brokers and workers, real
 * socketcluster-client subscribers. One cluster (2 of our brokers, 2 of our workers, history on
 * `hist/`) is shared by every case, in order: recovery across workers; recovery while brokers scale
 * 2 → 3 → 2; the owner SIGKILLed (a new epoch); hostile positions and history fetches; then an original
 * worker and an original broker join (mixed clusters).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkeletonRendezvousMapper, type Position } from '@scc-ts/shared';
import { Collector, connect, disconnectAll, waitUntil, type Client } from '../../harness/clients.js';
import { HistoryReader, type HistoryRequest } from '../../harness/history.js';
import { freePort } from '../../harness/ports.js';
import { BrokerSpy } from '../../harness/spy.js';
import { startOriginalBroker, startOriginalWorker, waitForBrokers, waitForJoin } from '../helpers/originals.js';
import { startBroker, startCluster, stopAll, uriOf, waitForBrokerCount, type ServiceProcess, type TestCluster } from '../helpers/processes.js';

const HISTORY = { SCC_HISTORY_CHANNELS: 'hist/', SCC_HISTORY_SIZE: '5000' };
/** Messages a subscriber misses while away. */
const MISSED = 1000;
/**
 * How long it stays away, ms: the 5 s, over which the 1,000 messages are published paced
 * (rather than in one burst). The time away matters to recovery only through SCC_HISTORY_TTL (300 s here).
 */
const AWAY_MS = 5000;

let cluster: TestCluster;
let workerA: ServiceProcess;
let workerB: ServiceProcess;
/** Publishes on worker A. */
let publisher: Client;
/** Plain (history-less) subscribers on worker A and worker B, labels 'A' and 'B'. */
let plain: Collector;
let plainA: Client;
let plainB: Client;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 2, workers: 2, brokerEnv: HISTORY, workerEnv: HISTORY });
  [workerA, workerB] = cluster.workers as [ServiceProcess, ServiceProcess];
  [publisher, plainA, plainB] = await Promise.all([connect(workerA.port), connect(workerA.port), connect(workerB.port)]);
  plain = new Collector();
});

/** Processes started outside the cluster (the third broker, the originals), for HISTORY_LOGS. */
const extra: ServiceProcess[] = [];

afterAll(async () => {
  // HISTORY_LOGS=DIR writes every process's log there.
  const dir = process.env['HISTORY_LOGS'];
  if (dir && cluster) {
    cluster.writeLogs(dir, 'history');
    extra.forEach((p, i) => p.writeLog(`${dir}/history-extra-${i}-${p.name}.log`));
  }
  disconnectAll();
  await stopAll();
});

const ids = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag}/${i}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let probes = 0;

/** Publishes probes on `channel` from `from` every 100 ms until `heard()` holds (the upstream subscriptions are in place). */
async function prime(channel: string, heard: () => boolean, from: Client = publisher, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!heard()) {
    if (Date.now() > deadline) throw new Error(`${channel} not primed within ${timeoutMs} ms`);
    await from.invokePublish(channel, { id: `probe-${++probes}`, probe: true });
    await sleep(100);
  }
}

/** Publishes `list` (as `{id}`) in order in batches every 20 ms over about `spanMs`; resolves once every publish is acked. */
async function publishPaced(client: Client, channel: string, list: readonly string[], spanMs: number): Promise<void> {
  const batches = Math.max(1, Math.floor(spanMs / 20));
  const perBatch = Math.ceil(list.length / batches);
  const startedAt = Date.now();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i * perBatch < list.length; i++) {
    for (const id of list.slice(i * perBatch, (i + 1) * perBatch)) sends.push(client.invokePublish(channel, { id }));
    await sleep(Math.max(0, startedAt + (i + 1) * 20 - Date.now()));
  }
  await Promise.all(sends);
}

/** Ids of the plain subscriber `label`'s messages on `channel` (probes left out). */
const plainIds = (label: string, channel: string): string[] => plain.messages(label, channel).map((m) => m.id);
/** Ids of a reader's envelopes (probes left out). */
const readIds = (reader: HistoryReader): string[] => reader.data<{ id: string; probe?: boolean }>().filter((d) => !d.probe).map((d) => d.id);

/** Plain subscribers on both workers and a positioned reader on worker B; primed. Returns the reader. */
async function watch(channel: string): Promise<HistoryReader> {
  await Promise.all([plain.subscribe('A', plainA, channel), plain.subscribe('B', plainB, channel)]);
  const reader = HistoryReader.open(await connect(workerB.port), channel);
  await reader.until(() => reader.notice !== undefined, 10_000, 'the first notice');
  expect(reader.notice).toMatchObject({ type: 'recovery', recovered: false, reason: 'NoPosition', replayed: 0 });
  await prime(channel, () => reader.envelopes.length > 0 && ['A', 'B'].every((l) => (plain.received.get(`${l}|${channel}`) ?? []).length > 0));
  return reader;
}

/** Waits until both plain subscribers have every id of `list`. */
function plainHave(channel: string, list: readonly string[], timeoutMs = 20_000): Promise<void> {
  const last = list.at(-1)!;
  return plain.until(() => ['A', 'B'].every((l) => plainIds(l, channel).includes(last) && plainIds(l, channel).length >= list.length), timeoutMs, `plain deliveries up to ${last}`);
}

/** Subscribes a fresh client on worker A with `since` and waits for the notice. */
async function recover(channel: string, since: Position | unknown): Promise<HistoryReader> {
  const reader = HistoryReader.open(await connect(workerA.port), channel, { since });
  await reader.until(() => reader.notice !== undefined, 15_000, 'the recovery notice');
  return reader;
}

/** Publishes `tag` live messages and a fence, waits for the fence at `reader` and both plain subscribers, and returns what was published. */
async function liveAndFence(channel: string, reader: HistoryReader, tag: string, n = 50): Promise<string[]> {
  const live = [...ids(tag, n), `${tag}/fence`];
  for (const id of live) void publisher.invokePublish(channel, { id });
  await reader.until(() => readIds(reader).includes(`${tag}/fence`), 15_000, `${tag} fence`);
  await plainHave(channel, live);
  return live;
}

/** The broker of `uris` that owns `channel`. */
function ownerAmong(channel: string, uris: readonly string[]): string {
  const mapper = new SkeletonRendezvousMapper();
  mapper.setSites([...uris]);
  const owner = mapper.findSite(channel);
  if (owner === null) throw new Error(`no owner for ${channel}`);
  return owner;
}

/** The channel named `${prefix}${k}` with the smallest k that `uri` owns among `uris`. */
function channelOwnedBy(prefix: string, uri: string, uris: readonly string[]): string {
  const mapper = new SkeletonRendezvousMapper();
  mapper.setSites([...uris]);
  for (let k = 0; k < 10_000; k++) if (mapper.findSite(`${prefix}${k}`) === uri) return `${prefix}${k}`;
  throw new Error(`no channel ${prefix}* owned by ${uri}`);
}

describe('channel history and recovery', () => {
  it('a: a subscriber away while 1,000 messages go by recovers them on another worker, then live ones, each once in order', async () => {
    const channel = 'hist/a';
    const before = await watch(channel);
    const since = before.position!;
    const plainBefore = ['A', 'B'].map((l) => plainIds(l, channel).length);
    before.client.disconnect();

    const missed = ids('a', MISSED);
    await publishPaced(publisher, channel, missed, AWAY_MS);
    await plainHave(channel, missed);

    const after = await recover(channel, since);
    expect(after.notice).toEqual({ type: 'recovery', recovered: true, reason: null, epoch: since.epoch, offset: since.offset, replayed: MISSED });
    // Live messages published while the replay is still arriving.
    const live = await liveAndFence(channel, after, 'a-live');
    expect(after.check()).toEqual([]);
    expect(readIds(after)).toEqual([...missed, ...live]);
    expect(after.envelopes.at(-1)!.offset).toBe(since.offset + MISSED + live.length);
    // Plain subscribers on either worker got plain data, every message once, in order.
    for (const [i, l] of ['A', 'B'].entries()) expect(plainIds(l, channel).slice(plainBefore[i])).toEqual([...missed, ...live]);
    expect(plain.messages('A', channel).every((m) => !('type' in m) && typeof m.id === 'string')).toBe(true);
    const replayMs = after.arrivedAt[MISSED - 1]! - after.arrivedAt[0]!;
    console.info(`[figure] history: ${MISSED} missed messages replayed to a recovering subscriber within ${replayMs} ms of the first`);
  });

  it('b: recovers exactly once, in the same epoch, while brokers scale 2 → 3 → 2 during the gap', async () => {
    const uris = cluster.brokers.map(uriOf);
    const thirdPort = await freePort();
    // A channel that moves to the third broker and back.
    const channel = channelOwnedBy('hist/b/', uriOf(thirdPort), [...uris, uriOf(thirdPort)]);
    const before = await watch(channel);
    const since = before.position!;
    before.client.disconnect();

    const missed = ids('b', MISSED);
    let sent = 0;
    /** The last 200 wait for the scale-in, so that some go out on 2 brokers again. */
    let scaledIn!: () => void;
    const twoAgain = new Promise<void>((resolve) => (scaledIn = resolve));
    const publishing = (async () => {
      // 5 every 20 ms, so the publishes span the scale-out, the handover and the drain.
      for (let i = 0; i < missed.length; i += 5) {
        if (i === MISSED - 200) await twoAgain;
        await Promise.all(missed.slice(i, i + 5).map((id) => publisher.invokePublish(channel, { id })));
        sent = i + 5;
        await sleep(20);
      }
    })();
    const startedAt = Date.now();
    const marks = cluster.workers.map((w) => w.logs.length);
    const third = await startBroker(cluster.state.port, { ...HISTORY, SCC_BROKER_SERVER_PORT: String(thirdPort) });
    extra.push(third);
    // It relays the channel while it owns it: evidence that the history really moved there and back.
    const spy = await BrokerSpy.attach(third.port, [channel]);
    await Promise.all(cluster.workers.map((w, i) => waitForBrokerCount(w, 3, marks[i])));
    const sentBeforeThree = sent;
    // Publishing goes on with the channel on the third broker for 200 more messages, then it drains.
    await waitUntil(() => sent >= sentBeforeThree + 200, 10_000, '200 publishes with three brokers');
    const marks2 = cluster.workers.map((w) => w.logs.length);
    // Away first: a draining broker waits for the spy's subscription as for a worker's.
    const relayedByThird = missed.filter((id) => spy.relayed(channel, id)).length;
    spy.close();
    // It drains (its history channels exported) and exits by itself, well within the stop's 10 s.
    expect(await third.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    await Promise.all(cluster.workers.map((w, i) => waitForBrokerCount(w, 2, marks2[i])));
    const sentBeforeTwo = sent;
    const scaledInMs = Date.now() - startedAt;
    scaledIn();
    await publishing;
    await plainHave(channel, missed);
    expect(relayedByThird, 'missed messages the third broker relayed').toBeGreaterThan(0);
    console.info(`[figure] history scaling: 2 → 3 → 2 brokers in ${scaledInMs} ms; of ${MISSED} missed, ${sentBeforeThree} published on 2 brokers, ${sentBeforeTwo - sentBeforeThree} on 3 and during the drain (${relayedByThird} relayed by the third before it drained), ${MISSED - sentBeforeTwo} on 2 again`);

    const after = await recover(channel, since);
    expect(after.notice).toEqual({ type: 'recovery', recovered: true, reason: null, epoch: since.epoch, offset: since.offset, replayed: MISSED });
    const live = await liveAndFence(channel, after, 'b-live');
    expect(after.check()).toEqual([]);
    expect(readIds(after)).toEqual([...missed, ...live]);
    expect(after.envelopes.at(-1)!.epoch).toBe(since.epoch);
    for (const l of ['A', 'B']) expect(plainIds(l, channel).filter((id) => id.startsWith('b'))).toEqual([...missed, ...live]);
  });

  it("c: the owner SIGKILLed during the gap: the recovery says EpochChanged with a new epoch, and live messages continue", async () => {
    const victim = cluster.brokers[0]!;
    const channel = channelOwnedBy('hist/c/', uriOf(victim), cluster.brokers.map(uriOf));
    const before = await watch(channel);
    const since = before.position!;
    before.client.disconnect();

    const lostWithOwner = ids('c-lost', 100);
    await publishPaced(publisher, channel, lostWithOwner, 200);
    await plainHave(channel, lostWithOwner);
    const marks = cluster.workers.map((w) => w.logs.length);
    await cluster.remove(victim, 'SIGKILL');
    await Promise.all(cluster.workers.map((w, i) => waitForBrokerCount(w, 1, marks[i])));
    const afterKill = ids('c-after', 100);
    await prime(channel, () => ['A', 'B'].every((l) => (plain.received.get(`${l}|${channel}`) ?? []).at(-1)?.probe === true));
    await publishPaced(publisher, channel, afterKill, 200);
    await plainHave(channel, afterKill);

    const after = await recover(channel, since);
    expect(after.notice).toMatchObject({ type: 'recovery', recovered: false, reason: 'EpochChanged' });
    expect(after.notice!.epoch).not.toBeNull();
    expect(after.notice!.epoch).not.toBe(since.epoch);
    const live = await liveAndFence(channel, after, 'c-live');
    expect(after.check()).toEqual([]);
    // Whatever the new epoch replays comes before the live messages, which all arrive once, in order.
    expect(readIds(after).slice(-live.length)).toEqual(live);
    expect(after.envelopes.every((e) => e.epoch === after.notice!.epoch)).toBe(true);
    console.info(`[figure] history after the owner's SIGKILL: notice ${JSON.stringify(after.notice)}`);
  });

  it('d: hostile positions are refused by name and break nothing; history fetches are refused by name or answer the last N', async () => {
    const channel = 'hist/d';
    const good = await watch(channel);
    const first = ids('d', 10);
    for (const id of first) await publisher.invokePublish(channel, { id });
    await good.until(() => readIds(good).includes('d/9'), 10_000, 'd/9');
    const { epoch, offset: last } = good.position!;
    // Another channel on the same broker, further along: a position of its epoch (beyond this channel's last offset).
    const uris = cluster.brokers.map(uriOf);
    const otherChannel = channelOwnedBy('hist/d-other/', ownerAmong(channel, uris), uris);
    const other = await watch(otherChannel);
    for (const id of ids('d-other', last + 20)) void publisher.invokePublish(otherChannel, { id });
    await other.until(() => other.position!.offset > last + 10, 10_000, 'the other channel');

    const hostile: Array<[string, unknown]> = [
      ['negative offset', { epoch, offset: -1 }],
      ['offset beyond the last', { epoch, offset: last + 1000 }],
      ['unsafe integer offset', { epoch, offset: 2 ** 60 }],
      ['non-integer offset', { epoch, offset: 1.5 }],
      ['string offset', { epoch, offset: '3' }],
      ['epoch of 65 characters', { epoch: 'e'.repeat(65), offset: 1 }],
      ['empty epoch', { epoch: '', offset: 1 }],
      ['a string', 'since'],
      ['a number', 7],
      ['an array', [epoch, 1]],
    ];
    const refused = (r: HistoryReader): boolean =>
      r.notice?.reason === 'InvalidPositionError' || r.kickOuts.some((m) => m.includes('InvalidPositionError')) || r.subscribeError?.name === 'InvalidPositionError';
    const readers = await Promise.all(
      hostile.map(async ([what, since]) => {
        const r = HistoryReader.open(await connect(workerB.port), channel, { since } as HistoryRequest);
        await r.until(() => refused(r), 10_000, `the refusal of ${what}`);
        return [what, r] as const;
      }),
    );
    for (const [what, r] of readers) {
      if (r.notice) expect(r.notice, what).toMatchObject({ type: 'recovery', recovered: false, reason: 'InvalidPositionError' });
      expect(r.envelopes, `${what}: nothing replayed`).toEqual([]);
    }
    const otherEpoch = HistoryReader.open(await connect(workerB.port), channel, { since: other.position });
    await otherEpoch.until(() => otherEpoch.notice !== undefined || refused(otherEpoch), 10_000, 'the notice for an epoch of another channel');
    // The owner knows the epoch is another channel's: refused by name, and the socket is kicked out of the channel.
    await otherEpoch.until(() => otherEpoch.kickOuts.length > 0, 10_000, 'the kick-out for an epoch of another channel');
    expect(otherEpoch.notice).toMatchObject({ type: 'recovery', recovered: false, reason: 'InvalidPositionError' });
    expect(otherEpoch.kickOuts.join(' ')).toMatch(/InvalidPositionError: epoch .* is another channel's/);
    expect(otherEpoch.envelopes).toEqual([]);

    // Nothing else on the channel broke: the good reader and the plain subscribers go on, and a refused socket can still subscribe plainly.
    const [, refusedReader] = readers[0]!;
    const again = new Collector();
    await again.subscribe('R', refusedReader.client, 'hist/d-again');
    await prime('hist/d-again', () => (again.received.get('R|hist/d-again') ?? []).length > 0);
    const live = await liveAndFence(channel, good, 'd-live', 5);
    expect(good.check()).toEqual([]);
    expect(readIds(good)).toEqual([...first, ...live]);
    expect(readers.every(([, r]) => r.client.state === 'open')).toBe(true);

    // socket.invoke('sccHistory', …)
    const asker = await connect(workerB.port);
    const refusal = (request: unknown): Promise<string> =>
      asker.invoke('sccHistory', request).then(
        (page) => `answered ${JSON.stringify(page).slice(0, 100)}`,
        (error: Error) => error.name,
      );
    expect(await refusal({ channel, limit: 5 })).toBe('HistoryNotSubscribedError');
    await plain.subscribe('asker', asker, channel);
    await plain.subscribe('asker', asker, 'plain/d');
    expect(await refusal({ channel: 'plain/d', limit: 5 })).toBe('HistoryNotEnabledError');
    expect(await refusal({ channel, since: { epoch, offset: -1 } })).toBe('InvalidPositionError');
    expect(await refusal({ channel, since: 'since' })).toBe('InvalidPositionError');
    const newest = good.envelopes.at(-1)!;
    const page = (await asker.invoke('sccHistory', { channel, limit: 5 })) as { epoch: string; first: number; last: number; from: number; messages: Array<{ id: string }> };
    expect(page).toMatchObject({ epoch: newest.epoch, last: newest.offset, from: newest.offset - 4 });
    expect(page.messages.map((m) => m.id)).toEqual(readIds(good).slice(-5));
    const since = (await asker.invoke('sccHistory', { channel, since: { epoch, offset: newest.offset - 2 } })) as typeof page;
    expect(since).toMatchObject({ from: newest.offset - 1, last: newest.offset });
    expect(since.messages.map((m) => m.id)).toEqual(readIds(good).slice(-2));
  });

  it('e: an original worker on our brokers gets plain data for every message; a channel an original broker owns says HistoryUnavailable', async () => {
    const channel = 'hist/e';
    const original = await startOriginalWorker(cluster.state.port);
    extra.push(original);
    await waitForBrokers(original, cluster.brokers.length);
    await waitForJoin(cluster.state, 'scc-worker', uriOf(original));
    const [origSub, origPub] = await Promise.all([connect(original.port), connect(original.port)]);
    await plain.subscribe('O', origSub, channel);
    const reader = await watch(channel);
    const heardFrom = (label: string, tag: string): boolean => (plain.received.get(`${label}|${channel}`) ?? []).some((m) => m.probe && m.id === tag);
    await origPub.invokePublish(channel, { id: 'o-probe-0', probe: true });
    for (let i = 1; !['A', 'B', 'O'].every((l) => (plain.received.get(`${l}|${channel}`) ?? []).some((m) => m.probe && m.id.startsWith('o-probe'))); i++) {
      if (i > 150) throw new Error('the original worker\'s publishes never arrived');
      await origPub.invokePublish(channel, { id: `o-probe-${i}`, probe: true });
      await sleep(100);
    }
    await prime(channel, () => heardFrom('O', `probe-${probes}`));

    const fromOriginal = ids('e-orig', 200);
    const fromOurs = ids('e-ours', 200);
    await Promise.all([publishPaced(origPub, channel, fromOriginal, 400), publishPaced(publisher, channel, fromOurs, 400)]);
    const all = [...fromOriginal, ...fromOurs];
    for (const l of ['A', 'B', 'O']) {
      await plain.until(() => all.every((id) => plainIds(l, channel).includes(id)), 15_000, `${l}: every message`);
    }
    await reader.until(() => all.every((id) => readIds(reader).includes(id)), 15_000, 'every message at the reader');
    for (const l of ['A', 'B', 'O']) {
      const got = plainIds(l, channel).filter((id) => id.startsWith('e-'));
      expect(got.filter((id) => id.startsWith('e-orig')), `${l} from the original worker`).toEqual(fromOriginal);
      expect(got.filter((id) => id.startsWith('e-ours')), `${l} from ours`).toEqual(fromOurs);
    }
    expect(plain.messages('O', channel).every((m) => !('type' in m) && typeof m.id === 'string')).toBe(true);
    // Our reader: every message once, positioned (an original worker's publishes too).
    expect(reader.check()).toEqual([]);
    const seen = readIds(reader).filter((id) => id.startsWith('e-'));
    expect(seen.filter((id) => id.startsWith('e-orig'))).toEqual(fromOriginal);
    expect(seen.filter((id) => id.startsWith('e-ours'))).toEqual(fromOurs);

    // An original broker joins; a channel it owns has no history.
    const position = reader.position!;
    const marks = cluster.workers.map((w) => w.logs.length);
    const ob = await startOriginalBroker(cluster.state.port);
    extra.push(ob);
    await waitForJoin(cluster.state, 'scc-broker', uriOf(ob));
    await Promise.all(cluster.workers.map((w, i) => waitForBrokerCount(w, 2, marks[i])));
    const onOriginal = channelOwnedBy('hist/e/', uriOf(ob), [...cluster.brokers.map(uriOf), uriOf(ob)]);
    await Promise.all([plain.subscribe('A', plainA, onOriginal), plain.subscribe('B', plainB, onOriginal)]);
    const recovering = await recover(onOriginal, position);
    expect(recovering.notice).toMatchObject({ type: 'recovery', recovered: false, reason: 'HistoryUnavailable', replayed: 0 });
    await prime(onOriginal, () => recovering.all.length > 1 && ['A', 'B'].every((l) => (plain.received.get(`${l}|${onOriginal}`) ?? []).length > 0));
    await publisher.invokePublish(onOriginal, { id: 'e-on-original' });
    await waitUntil(() => recovering.all.some((d) => JSON.stringify(d).includes('e-on-original')), 10_000, 'a live message on the original broker\'s channel');
    await plainHave(onOriginal, ['e-on-original']);
    // Without positions the messages still come in envelopes, with epoch and offset null (docs/history.md, "Mixed clusters").
    const shape = recovering.all.find((d) => JSON.stringify(d).includes('e-on-original'));
    expect(shape).toEqual({ type: 'message', epoch: null, offset: null, data: { id: 'e-on-original' } });
    console.info(`[figure] history on an original broker's channel: notice ${JSON.stringify(recovering.notice)}, then live deliveries look like ${JSON.stringify(shape)}`);
  });
});
