/**
 * @scc-ts/history-client against a real cluster (1 state server, 2 brokers, 2 workers, all child
 * processes, SCC_HISTORY_CHANNELS on brokers and workers) with stock socketcluster-client sockets:
 * the helper's position goes into the client's own re-subscription after a reconnect, so what was
 * published while the socket was away is replayed exactly once and in order; a saved position
 * recovers on another socket and worker; fetchHistory pages and refusals by name; a channel
 * outside the prefixes stays plain.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchHistory, historyEntries, subscribeWithHistory, type HistorySubscription, type Position, type RecoveryNotice } from '@scc-ts/history-client';
import { connect, disconnectAll, waitUntil, type Client } from '../../harness/clients.js';
import { startCluster, stopAll, type TestCluster } from '../helpers/processes.js';

const HISTORY_PREFIX = 'hist/';
const HISTORY_ENV = { SCC_HISTORY_CHANNELS: HISTORY_PREFIX };
/** Messages published while the subscriber is away. */
const MISSED = 200;
/** Bounds for priming a channel. */
const PRIME_ATTEMPTS = 40;
const PRIME_WAIT_MS = 250;
const WAIT_MS = 10_000;

let cluster: TestCluster;
let publisher: Client;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 2, workers: 2, brokerEnv: HISTORY_ENV, workerEnv: HISTORY_ENV });
  publisher = await connect(cluster.workers[0]!.port);
}, 60_000);

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

/** What one helper subscription delivered, in order. */
class Received {
  readonly messages: Array<{ data: unknown; position: Position | null }> = [];
  readonly notices: RecoveryNotice[] = [];
  sub!: HistorySubscription;
  texts = () => this.messages.map((m) => m.data);
}

function record(socket: Client, channel: string, position?: Position): Received {
  const r = new Received();
  r.sub = subscribeWithHistory(socket, channel, { position: position ?? null, onMessage: (data, p) => r.messages.push({ data, position: p }), onRecovery: (n) => r.notices.push(n) });
  return r;
}

/** Probes until `r` has one: every worker on the path has subscribed upstream. */
async function prime(channel: string, r: Received): Promise<void> {
  for (let i = 1; i <= PRIME_ATTEMPTS; i++) {
    await publisher.invokePublish(channel, `probe ${i}`);
    const deadline = Date.now() + PRIME_WAIT_MS;
    while (Date.now() < deadline) {
      if (r.messages.some((m) => typeof m.data === 'string' && m.data.startsWith('probe '))) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  throw new Error(`no probe on ${channel} arrived after ${PRIME_ATTEMPTS} tries`);
}

/** Consecutive offsets in one epoch. */
function expectConsecutive(positions: Array<Position | null>, first: Position): void {
  expect(positions).toEqual(positions.map((_, i) => ({ epoch: first.epoch, offset: first.offset + i })));
}

describe('history client on a real cluster', () => {
  it('recovers what was published while its socket was away, exactly once and in order, then goes on live', async () => {
    const channel = `${HISTORY_PREFIX}client-${Date.now()}`;
    const socket = await connect(cluster.workers[1]!.port);
    const r = record(socket, channel);
    await waitUntil(() => r.notices.length === 1, WAIT_MS, 'the first notice');
    expect(r.notices[0]).toMatchObject({ recovered: false, reason: 'NoPosition', replayed: 0 });
    await prime(channel, r);
    for (let i = 1; i <= 3; i++) await publisher.invokePublish(channel, `before ${i}`);
    await waitUntil(() => r.texts().includes('before 3'), WAIT_MS, 'before 3');
    const last = r.sub.position!;
    expect(r.messages.at(-1)).toEqual({ data: 'before 3', position: last });
    expectConsecutive(r.messages.slice(-3).map((m) => m.position), { epoch: last.epoch, offset: last.offset - 2 });

    socket.disconnect();
    const missed = Array.from({ length: MISSED }, (_, i) => `missed ${i + 1}`);
    await Promise.all(missed.map((text) => publisher.invokePublish(channel, text)));
    const seen = r.messages.length;
    // A publish is acknowledged by the publisher's worker, before the owner broker stores it: wait until
    // the owner has all of them, so that the whole gap is replayed (later ones would come live, which is
    // right too, but proves less).
    const watcher = await connect(cluster.workers[0]!.port);
    await watcher.subscribe(channel).listener('subscribe').once(WAIT_MS);
    const stored = async () => (await fetchHistory(watcher, channel, { limit: 0 })).last;
    for (let i = 0; i < 100 && (await stored()) < last.offset + MISSED; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await stored()).toBe(last.offset + MISSED);
    socket.connect();
    await waitUntil(() => r.notices.length === 2 && r.messages.length === seen + MISSED, WAIT_MS, 'the replay');
    expect(r.notices[1]).toEqual({ type: 'recovery', recovered: true, reason: null, epoch: last.epoch, offset: last.offset, replayed: MISSED });
    const replayed = r.messages.slice(seen);
    // Acked publishes sent at once from one socket keep their order through one worker and the owner broker.
    expect(replayed.map((m) => m.data)).toEqual(missed);
    expectConsecutive(replayed.map((m) => m.position), { epoch: last.epoch, offset: last.offset + 1 });

    await publisher.invokePublish(channel, 'live');
    await waitUntil(() => r.texts().includes('live'), WAIT_MS, 'live');
    expect(r.messages.slice(seen + MISSED)).toEqual([{ data: 'live', position: { epoch: last.epoch, offset: last.offset + MISSED + 1 } }]);

    // A saved position recovers on another socket, on the other worker.
    const other = await connect(cluster.workers[0]!.port);
    const again = record(other, channel, last);
    await waitUntil(() => again.notices.length === 1 && again.messages.length === MISSED + 1, WAIT_MS, 'the second replay');
    expect(again.notices[0]).toMatchObject({ recovered: true, reason: null, replayed: MISSED + 1 });
    expect(again.messages).toEqual(r.messages.slice(seen));

    // A page of history, from a subscribed socket; the helper's positions match it.
    const page = await fetchHistory(other, channel, { limit: 5 });
    expect(historyEntries(page)).toEqual(r.messages.slice(-5).map((m) => ({ position: m.position, data: m.data })));
    const after = await fetchHistory(other, channel, { since: { epoch: last.epoch, offset: last.offset + MISSED - 1 } });
    expect(after.messages).toEqual([`missed ${MISSED}`, 'live']);
    await expect(fetchHistory(publisher, channel)).rejects.toMatchObject({ name: 'HistoryNotSubscribedError' });
    r.sub.close();
    again.sub.close();
  }, 60_000);

  it('a channel outside SCC_HISTORY_CHANNELS stays plain: data with no position, no notice', async () => {
    const channel = `plain-${Date.now()}`;
    const socket = await connect(cluster.workers[1]!.port);
    const r = record(socket, channel);
    await prime(channel, r);
    await publisher.invokePublish(channel, { text: 'plain' });
    await waitUntil(() => r.messages.some((m) => (m.data as { text?: string }).text === 'plain'), WAIT_MS, 'the plain message');
    expect(r.messages.every((m) => m.position === null)).toBe(true);
    expect(r.notices).toEqual([]);
    await expect(fetchHistory(socket, channel)).rejects.toMatchObject({ name: 'HistoryNotEnabledError' });
    r.sub.close();
  }, 30_000);
});
