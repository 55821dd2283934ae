/**
 * A broker paused with SIGSTOP — alive, its sockets open, silent — is a partition on loopback: every
 * link to it goes quiet at once. The workers' heartbeats must notice within the link timeout (3 s by
 * default, far below socketcluster's 20 s ping timeout), route around it, and in at-least-once mode
 * lose nothing; after SIGCONT nothing it held may reach a client twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LINK_TIMEOUT_MS, LogEvent } from '@scc-ts/shared';
import { disconnectAll, type Client, type Collector } from '../../harness/clients.js';
import { startSubscribedCluster, stopAll, uriOf, type TestCluster } from '../helpers/processes.js';

const channels = Array.from({ length: 40 }, (_, i) => `paused/${i}`);
/** How long the broker stays stopped (the case: 10 s). */
const PAUSE_MS = 10_000;
/** Publishing rate over all channels, msg/s. */
const RATE = 200;
/** Slack over the link timeout for the watchdog's timer and a busy machine, ms. */
const DETECTION_SLACK_MS = 700;

let cluster: TestCluster;
let publisher: Client;
let collector: Collector;

beforeAll(async () => {
  ({ cluster, publisher, collector } = await startSubscribedCluster(channels, {
    brokers: 2,
    workers: 2,
    workerEnv: { SCC_DELIVERY_MODE: 'at-least-once' },
  }));
});

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

describe('a broker paused for 10 s (SIGSTOP, then SIGCONT)', () => {
  it('is detected within the link timeout by every worker; at-least-once loses nothing and delivers nothing twice', async () => {
    const victim = cluster.brokers[0]!;
    const victimURI = uriOf(victim);
    const marks = cluster.workers.map((w) => w.mark());
    collector.clear();
    const sent: Array<[string, string]> = [];
    let n = 0;
    let publishing = true;
    const publishLoop = (async () => {
      const started = Date.now();
      while (publishing && Date.now() - started < 60_000) {
        const channel = channels[n % channels.length]!;
        const id = `m${n}`;
        n += 1;
        sent.push([channel, id]);
        void publisher.transmitPublish(channel, { id });
        await new Promise((r) => setTimeout(r, 1000 / RATE));
      }
    })();

    await new Promise((r) => setTimeout(r, 1000));
    const stoppedAt = Date.now();
    process.kill(victim.pid, 'SIGSTOP');
    const detected = await Promise.all(cluster.workers.map((w, i) => w.waitForEvent(LogEvent.BrokerUnreachable, { broker: victimURI }, PAUSE_MS, marks[i])));
    const detectionMs = detected.map((line) => Number(line['time']) - stoppedAt);
    await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + PAUSE_MS - Date.now())));
    process.kill(victim.pid, 'SIGCONT');
    // Publish on for a while after the broker is back (it re-joins, and the list grows again).
    await new Promise((r) => setTimeout(r, 4000));
    publishing = false;
    await publishLoop;

    await collector.until(() => sent.every(([c, id]) => collector.messages('B', c).some((m) => m.id === id)), 15_000, 'every message').catch(() => undefined);
    const missing = sent.filter(([c, id]) => !collector.messages('B', c).some((m) => m.id === id));
    const counts = new Map<string, number>();
    for (const c of channels) for (const m of collector.messages('B', c)) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
    const duplicated = [...counts.values()].filter((k) => k > 1).length;
    console.info(
      `[figure] paused broker: detection ${detectionMs.join(' / ')} ms (link timeout ${DEFAULT_LINK_TIMEOUT_MS} ms); ${sent.length} sent, ${missing.length} missing, ${duplicated} duplicated`,
    );
    for (const ms of detectionMs) expect(ms).toBeLessThanOrEqual(DEFAULT_LINK_TIMEOUT_MS + DETECTION_SLACK_MS);
    expect(missing.slice(0, 5)).toEqual([]);
    expect(duplicated).toBe(0);
    expect(victim.alive).toBe(true);
  });
});
