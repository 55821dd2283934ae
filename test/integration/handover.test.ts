/**
 * Lossless resharding under steady load: publishers and subscribers on both workers, numbered
 * messages, and brokers joining or crashing mid-stream. Counts what each subscriber lost, got twice
 * or got out of order against what the publishers had acknowledged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { disconnectAll } from '../helpers/clients.js';
import { SteadyLoad } from '../helpers/load.js';
import { startBroker, startCluster, stopAll, waitForBrokerCount, type TestCluster } from '../helpers/processes.js';

const channels = Array.from({ length: 30 }, (_, i) => `handover/${i}`);
const RATE = 600;

let load: SteadyLoad | undefined;

afterEach(async () => {
  load?.close();
  load = undefined;
  disconnectAll();
  await stopAll();
});

async function loaded(cluster: TestCluster): Promise<SteadyLoad> {
  const l = new SteadyLoad(channels);
  const [a, b] = cluster.workers;
  await l.addSubscriber('A', a!.port);
  await l.addSubscriber('B', b!.port);
  await l.addPublisher('pa', a!.port);
  await l.addPublisher('pb', b!.port);
  return l;
}

async function runFor(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe('handover under load', () => {
  it('a broker joining (2 → 3) loses, doubles and reorders nothing', async () => {
    const cluster = await startCluster({ brokers: 2, workers: 2 });
    load = await loaded(cluster);
    load.start(RATE);
    await runFor(500);
    const marks = cluster.workers.map((w) => w.logs.length);
    await startBroker(cluster.state.port);
    await Promise.all(cluster.workers.map((w, i) => waitForBrokerCount(w, 3, marks[i])));
    // Past the grace period too, so the old subscriptions have been released under load.
    await runFor(800);
    await load.stop();
    const report = load.check();
    console.info(`[figure] join 2→3 at ${RATE} msg/s: ${JSON.stringify(report)} ${load.lostSamples.join(' ')}`);
    expect(report.published).toBeGreaterThan(RATE);
    expect(report.failedPublishes).toBe(0);
    expect(report.expected).toBe(report.published * 2);
    expect({ lost: report.lost, duplicated: report.duplicated, outOfOrder: report.outOfOrder }).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
  });

  it('a broker crash in at-least-once mode loses nothing, and nothing arrives twice', async () => {
    const cluster = await startCluster({ brokers: 3, workers: 2, workerEnv: { SCC_DELIVERY_MODE: 'at-least-once' } });
    load = await loaded(cluster);
    load.start(RATE);
    await runFor(500);
    const marks = cluster.workers.map((w) => w.logs.length);
    await cluster.brokers[0]!.stop('SIGKILL');
    await Promise.all(cluster.workers.map((w, i) => waitForBrokerCount(w, 2, marks[i])));
    await runFor(800);
    await load.stop();
    const report = load.check();
    console.info(`[figure] SIGKILL 3→2, at-least-once, at ${RATE} msg/s: ${JSON.stringify(report)} ${load.lostSamples.join(' ')}`);
    expect(report.published).toBeGreaterThan(RATE);
    expect({ lost: report.lost, duplicated: report.duplicated }).toEqual({ lost: 0, duplicated: 0 });
  });

  it('a broker crash in the default mode resumes at once; only what was sent before the push is lost', async () => {
    const cluster = await startCluster({ brokers: 3, workers: 2 });
    load = await loaded(cluster);
    load.start(RATE);
    await runFor(500);
    const marks = cluster.workers.map((w) => w.logs.length);
    const killedAt = Date.now();
    await cluster.brokers[0]!.stop('SIGKILL');
    const pushes = await Promise.all(cluster.workers.map((w, i) => w.waitForLog(/broker list from push: 2 brokers/, 10_000, marks[i])));
    await Promise.all(cluster.workers.map((w, i) => waitForBrokerCount(w, 2, marks[i])));
    await runFor(800);
    await load.stop();
    const report = load.check();
    const pushedAt = Math.max(...pushes.map((line) => line['time'] as number));
    const window = report.lost === 0 ? 'none' : `${Math.min(...load.lostSentAt) - killedAt}..${Math.max(...load.lostSentAt) - killedAt} ms after the kill`;
    console.info(`[figure] SIGKILL 3→2, default mode, at ${RATE} msg/s: ${JSON.stringify(report)}; lost messages sent ${window}; push ${pushedAt - killedAt} ms after the kill`);
    expect(report.published).toBeGreaterThan(RATE);
    // The loss is bounded by the state server's push: nothing sent after it is lost.
    for (const sentAt of load.lostSentAt) expect(sentAt).toBeLessThanOrEqual(pushedAt);
    expect(report.duplicated).toBe(0);
  });
});
