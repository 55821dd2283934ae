/**
 * The state server's read-only cluster view (/cluster.json and /cluster) against a real cluster:
 * it lists the members and pushes, and the broker it names for a channel is the broker the worker
 * really subscribed the channel on (read from the brokers' own /metrics).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToIndex } from '@scc-ts/shared';
import { Collector, connect, disconnectAll } from '../../harness/clients.js';
import { scrape } from '../helpers/metrics.js';
import { startCluster, stopAll, type TestCluster } from '../helpers/processes.js';

const CHANNELS = Array.from({ length: 12 }, (_, i) => `view-${i}`);
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 2, workers: 2 });
});

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

interface Snapshot {
  brokers: Array<{ uri: string; instanceId: string | null; joinedAt: string }>;
  workers: Array<{ uri: string; instanceId: string | null; joinedAt: string }>;
  lastPush: Record<'brokers' | 'workers', { time: number; uris: string[]; at: string } | null>;
  pushPending: Record<'brokers' | 'workers', boolean>;
  channel?: { name: string; engine: string; broker: string | null; poolSize: number; poolIndex: number };
}

async function view(query = ''): Promise<Snapshot> {
  const res = await fetch(`http://127.0.0.1:${cluster.state.port}/cluster.json${query}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  return (await res.json()) as Snapshot;
}

/** Polls `read` until `done` holds; bounded by time and count. */
async function poll<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < 500; i++) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('cluster view', () => {
  it('lists brokers, workers and the last pushes as JSON', async () => {
    const brokerURIs = cluster.brokers.map((b) => `ws://127.0.0.1:${b.port}`).sort();
    const workerURIs = cluster.workers.map((w) => `ws://127.0.0.1:${w.port}`).sort();
    const s = await poll(view, (v) => !v.pushPending.brokers && !v.pushPending.workers && v.lastPush.workers !== null, 'no pending push');
    expect(s.brokers.map((b) => b.uri).sort()).toEqual(brokerURIs);
    expect(s.workers.map((w) => w.uri).sort()).toEqual(workerURIs);
    for (const m of [...s.brokers, ...s.workers]) {
      expect(m.instanceId).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.parse(m.joinedAt)).toBeGreaterThan(Date.now() - 120_000);
    }
    expect(s.lastPush.brokers!.uris.slice().sort()).toEqual(brokerURIs);
    expect(s.lastPush.workers!.uris.slice().sort()).toEqual(workerURIs);
    expect(new Date(s.lastPush.workers!.time).toISOString()).toBe(s.lastPush.workers!.at);
  });

  it('names for each channel the broker the worker really subscribed it on, and its pool index', async () => {
    const client = await connect(cluster.workers[0]!.port);
    const collector = new Collector();
    for (const c of CHANNELS) await collector.subscribe('W', client, c);
    // The upstream subscribes are asynchronous: wait until the brokers hold every channel.
    const scrapes = await poll(
      () => Promise.all(cluster.brokers.map((b) => scrape(b.port))),
      (all) => all.reduce((n, s) => n + s.sum('scc_broker_channels'), 0) === CHANNELS.length,
      'every channel subscribed on a broker',
    );
    const named = new Map<string, number>();
    for (const c of CHANNELS) {
      const owner = (await view(`?channel=${encodeURIComponent(c)}&poolSize=3`)).channel!;
      expect(owner).toMatchObject({ name: c, engine: 'skeletonRendezvous', poolSize: 3, poolIndex: hashToIndex(c, 3) });
      expect(owner.broker).not.toBeNull();
      named.set(owner.broker!, (named.get(owner.broker!) ?? 0) + 1);
    }
    for (const [i, broker] of cluster.brokers.entries()) {
      const uri = `ws://127.0.0.1:${broker.port}`;
      expect(scrapes[i]!.value('scc_broker_channels'), uri).toBe(named.get(uri) ?? 0);
    }
    expect([...named.values()].reduce((a, b) => a + b, 0)).toBe(CHANNELS.length);
  });

  it('serves the same as an HTML page, escaping what it echoes, and refuses bad parameters with 400', async () => {
    const res = await fetch(`http://127.0.0.1:${cluster.state.port}/cluster?channel=${encodeURIComponent('<script>x</script>')}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    for (const b of cluster.brokers) expect(html).toContain(`ws://127.0.0.1:${b.port}`);
    for (const w of cluster.workers) expect(html).toContain(`ws://127.0.0.1:${w.port}`);
    expect(html).toContain('&#60;script&#62;x&#60;/script&#62;');
    expect(html).not.toContain('<script>');
    expect(html).toMatch(/do not expose publicly/);
    for (const q of ['?channel=a&engine=nope', '?channel=a&poolSize=0']) {
      const bad = await fetch(`http://127.0.0.1:${cluster.state.port}/cluster.json${q}`);
      expect(bad.status, q).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toBe('BadViewQueryError');
    }
    // The worker and broker ports do not serve the view.
    expect((await fetch(`http://127.0.0.1:${cluster.brokers[0]!.port}/cluster.json`)).status).toBe(404);
  });
});
