/**
 * /metrics on every real service of a small cluster: the text is valid Prometheus exposition
 * format, the key series exist, and after known traffic they moved by exactly what was sent.
 * Refusals (a wrong auth key, an incompatible version) are counted by reason.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import socketClusterClient from 'socketcluster-client';
import { disconnectAll } from '../../harness/clients.js';
import { scrape, type Scrape } from '../helpers/metrics.js';
import { startSubscribedCluster, stopAll, type SubscribedCluster } from '../helpers/processes.js';

const KEY = 'metrics-key';
const CHANNELS = ['m1', 'm2', 'm3', 'm4'];
const PER_CHANNEL = 10;
let setup: SubscribedCluster;

beforeAll(async () => {
  const env = { SCC_AUTH_KEY: KEY };
  setup = await startSubscribedCluster(CHANNELS, { brokers: 2, workers: 2, stateEnv: env, brokerEnv: env, workerEnv: { ...env, SCC_PUB_SUB_BATCH_INTERVAL: '0' } });
});

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

/** Every service's scrape, keyed by role. */
async function scrapeAll(): Promise<{ state: Scrape; a: Scrape; b: Scrape; brokers: Scrape[] }> {
  const { state, workers, brokers } = setup.cluster;
  const [s, a, b, ...bs] = await Promise.all([scrape(state.port), scrape(workers[0]!.port), scrape(workers[1]!.port), ...brokers.map((x) => scrape(x.port))]);
  return { state: s!, a: a!, b: b!, brokers: bs };
}

const total = (scrapes: Scrape[], name: string) => scrapes.reduce((sum, s) => sum + s.sum(name), 0);

/** A raw WebSocket upgrade; resolves with the HTTP status. */
function upgrade(port: number, query: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: `/socketcluster/?${query}`,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('/metrics', () => {
  it('is valid exposition format on every service, with the default Node metrics and scc_info', async () => {
    const all = await scrapeAll();
    const entries: Array<[string, Scrape, string]> = [
      ['state', all.state, 'scc-state'],
      ['worker A', all.a, 'scc-worker'],
      ['worker B', all.b, 'scc-worker'],
      ...all.brokers.map((s, i): [string, Scrape, string] => [`broker ${i}`, s, 'scc-broker']),
    ];
    for (const [role, s, service] of entries) {
      expect(s.value('scc_info', { service, version: '1.0.0' }), role).toBe(1);
      for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
        expect(s.family(name), `${role} ${name}`).toBeDefined();
      }
      expect(s.value('nodejs_eventloop_lag_seconds'), role).toBeGreaterThanOrEqual(0);
    }
  });

  it('counts the messages sent through the cluster exactly, on both workers and the brokers', async () => {
    const { publisher, collector, cluster } = setup;
    const before = await scrapeAll();
    collector.clear();
    for (let i = 0; i < PER_CHANNEL; i++) {
      await Promise.all(CHANNELS.map((c) => publisher.invokePublish(c, { id: `${c}-${i}` })));
    }
    const sent = CHANNELS.length * PER_CHANNEL;
    await collector.until(() => CHANNELS.every((c) => collector.messages('B', c).length === PER_CHANNEL), 10_000, 'every message at B');
    const after = await scrapeAll();
    const delta = (name: string, pick: (x: typeof before) => Scrape[]) => total(pick(after), name) - total(pick(before), name);

    // Worker A publishes (batching per event-loop turn only, SCC_PUB_SUB_BATCH_INTERVAL=0: one packet per message here); worker B delivers.
    expect(delta('scc_worker_messages_out_total', (x) => [x.a])).toBe(sent);
    expect(delta('scc_worker_packets_out_total', (x) => [x.a])).toBe(sent);
    expect(delta('scc_worker_messages_in_total', (x) => [x.b])).toBe(sent);
    expect(delta('scc_worker_packets_in_total', (x) => [x.b])).toBe(sent);
    expect(delta('scc_worker_messages_out_total', (x) => [x.b])).toBe(0);
    expect(total([after.a, after.b], 'scc_worker_publish_failures_total')).toBe(0);
    // Brokers receive every packet once and relay it to worker B only (A has no subscribers).
    expect(delta('scc_broker_packets_in_total', (x) => x.brokers)).toBe(sent);
    expect(delta('scc_broker_messages_in_total', (x) => x.brokers)).toBe(sent);
    expect(delta('scc_broker_packets_out_total', (x) => x.brokers)).toBe(sent);

    // Gauges: one client on B holding the four channels, split over the two brokers.
    expect(after.b.value('scc_worker_client_connections')).toBe(1);
    expect(after.b.value('scc_worker_subscriptions')).toBe(CHANNELS.length);
    expect(after.b.value('scc_worker_channels')).toBe(CHANNELS.length);
    const brokerURIs = cluster.brokers.map((x) => `ws://127.0.0.1:${x.port}`).sort();
    const perBroker = after.b.samples('scc_worker_broker_channels');
    expect(perBroker.map((s) => s.labels['broker']).sort()).toEqual(brokerURIs);
    expect(perBroker.reduce((n, s) => n + s.value, 0)).toBe(CHANNELS.length);
    // What B says it carries on each broker is what that broker holds.
    for (const [i, broker] of cluster.brokers.entries()) {
      const onB = perBroker.find((s) => s.labels['broker'] === `ws://127.0.0.1:${broker.port}`)!.value;
      expect(after.brokers[i]!.value('scc_broker_channels'), `broker ${broker.port}`).toBe(onB);
      expect(after.brokers[i]!.value('scc_broker_subscriptions')).toBe(onB);
      expect(after.brokers[i]!.value('scc_broker_connections')).toBe(2);
      expect(after.brokers[i]!.value('scc_broker_joined')).toBe(1);
      expect(after.brokers[i]!.value('scc_draining')).toBe(0);
    }
    for (const w of [after.a, after.b]) {
      expect(w.value('scc_worker_brokers')).toBe(2);
      expect(w.value('scc_worker_workers')).toBe(2);
      expect(w.value('scc_worker_state_connected')).toBe(1);
      expect(w.value('scc_worker_ready')).toBe(1);
      expect(w.value('scc_worker_reshards_total')).toBeGreaterThanOrEqual(1);
    }

    // The state server: membership, and the pushes that told the workers about each other.
    expect(after.state.value('scc_state_brokers')).toBe(2);
    expect(after.state.value('scc_state_workers')).toBe(2);
    expect(after.state.value('scc_state_connections')).toBe(4);
    expect(after.state.value('scc_state_broadcasts_total', { list: 'workers' })).toBeGreaterThanOrEqual(1);
    expect(after.state.value('scc_state_pushes_total', { list: 'workers', result: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(after.state.value('scc_state_pushes_total', { list: 'workers', result: 'error' })).toBe(0);
    const last = after.state.value('scc_state_last_broadcast_timestamp_seconds', { list: 'workers' })!;
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(120);
  });

  it('counts handshake refusals by reason on the state server and the broker', async () => {
    const { state, brokers } = setup.cluster;
    const broker = brokers[0]!;
    const before = await Promise.all([scrape(state.port), scrape(broker.port)]);
    expect(await upgrade(state.port, 'authKey=wrong&instanceType=scc-broker&instancePort=1&version=9.0.0')).toBe(401);
    expect(await upgrade(broker.port, 'authKey=wrong&poolIndex=0')).toBe(401);
    // Right key, incompatible version: refused at the SocketCluster handshake (close 4008).
    const old = socketClusterClient.create({
      hostname: '127.0.0.1',
      port: state.port,
      autoReconnect: false,
      query: { authKey: KEY, instanceType: 'scc-worker', instancePort: '1234', version: '8.0.0' },
    });
    const abort = await old.listener('connectAbort').once(5000);
    old.closeAllListeners();
    expect((abort as { code: number }).code).toBe(4008);
    const after = await Promise.all([scrape(state.port), scrape(broker.port)]);
    const delta = (i: number, reason: string) =>
      after[i]!.value('scc_handshake_refusals_total', { reason })! - before[i]!.value('scc_handshake_refusals_total', { reason })!;
    expect([delta(0, 'auth'), delta(0, 'version'), delta(0, 'invalid_handshake')]).toEqual([1, 1, 0]);
    expect([delta(1, 'auth'), delta(1, 'version')]).toEqual([1, 0]);
  });
});
