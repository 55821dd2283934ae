/**
 * The state server's live dashboard (/cluster) in a real browser: Debian's Chromium (driven by
 * playwright-core) watches a real cluster (1 state server, 2 brokers, 2 workers, fast timings, figures
 * every 250 ms). Clients connected to a worker show in its connections, publishes in its msgs/s; a
 * broker added through the harness appears without a reload and disappears once drained (SIGTERM).
 * Screenshots go to test-results/screenshots/dashboard-*.png (initial, broker-added, broker-removed,
 * playground). Also, without a browser: the event stream's rate is bounded by
 * SCC_STATE_DASHBOARD_INTERVAL, and a malformed `sccStats` report from a raw client is refused and
 * changes nothing. `.ci/run` installs Chromium; without it this test fails.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import socketClusterClient from 'socketcluster-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ANNOUNCED_VERSION, Procedure, STATS_EVENT } from '@scc-ts/shared';
import { startCluster, type Cluster } from '../../harness/cluster.js';
import { connect, disconnectAll, type Client } from '../../harness/clients.js';
import { freePorts } from '../../harness/ports.js';
import { launchChromium, type Chromium } from '../helpers/chromium.js';
import { stopAll, uriOf } from '../helpers/processes.js';

const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots', import.meta.url));
/** The dashboard's update interval and the peers' report interval in this test, ms. */
const DASHBOARD_INTERVAL_MS = 250;
const STATS_INTERVAL_MS = 250;
/** How long the event stream is counted, ms. */
const COUNT_WINDOW_MS = 2000;
/** Clients the test connects to worker A. */
const CLIENTS = 5;
/** Bound on waiting for the page to show something (figures arrive every 250 ms; cores are shared). */
const PAGE_WAIT_MS = 20_000;
const PUBLISH_EVERY_MS = 20;

let cluster: Cluster;
let browser: Chromium | undefined;
let publishing: NodeJS.Timeout | undefined;

beforeAll(async () => {
  cluster = await startCluster({
    brokers: 2,
    workers: 2,
    stateEnv: { SCC_STATE_DASHBOARD_INTERVAL: String(DASHBOARD_INTERVAL_MS) },
    brokerEnv: { SCC_STATS_INTERVAL: String(STATS_INTERVAL_MS) },
    workerEnv: { SCC_STATS_INTERVAL: String(STATS_INTERVAL_MS) },
  });
}, 60_000);

afterAll(async () => {
  clearInterval(publishing);
  disconnectAll();
  await browser?.close();
  await cluster?.close();
  await stopAll();
});


interface Figures {
  connections: number;
  messagesOutPerSecond: number | null;
}
interface Member {
  uri: string;
  figures: Figures | null;
  statsRefused: number;
}
interface View {
  brokers: Member[];
  workers: Member[];
}

async function view(): Promise<View> {
  const res = await fetch(`http://127.0.0.1:${cluster.statePort}/cluster.json`);
  return (await res.json()) as View;
}

/** Reads the event stream for `ms` and counts its `data:` events. */
async function countEvents(ms: number): Promise<number> {
  const controller = new AbortController();
  const res = await fetch(`http://127.0.0.1:${cluster.statePort}/cluster/events`, { signal: controller.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    if ((error as Error).name !== 'AbortError') throw error;
  } finally {
    clearTimeout(timer);
  }
  return text.match(/^data: /gm)?.length ?? 0;
}

/** A number shown in a cell of the member row for `uri` in table `table` (`-` counts as 0). */
async function shown(page: Page, table: 'brokers' | 'workers', uri: string, column: string): Promise<number> {
  const text = await page.locator(`#${table} tr[data-uri="${uri}"] td.${column} .v`).textContent({ timeout: 2000 }).catch(() => null);
  const value = Number.parseFloat(text ?? '');
  return Number.isFinite(value) ? value : 0;
}

/** The element's class, or '' while it is not on the page. */
const classOf = (locator: Locator): Promise<string> => locator.getAttribute('class', { timeout: 500 }).then((c) => c ?? '', () => '');
/** The element's text, or '' while it is not on the page. */
const textOf = (locator: Locator): Promise<string> => locator.textContent({ timeout: 500 }).then((t) => t ?? '', () => '');

describe('the state server dashboard', () => {
  it('bounds the event stream to one snapshot per SCC_STATE_DASHBOARD_INTERVAL', async () => {
    const events = await countEvents(COUNT_WINDOW_MS);
    // One at once, then one per interval: never more; a loaded machine may deliver fewer.
    expect(events).toBeLessThanOrEqual(1 + Math.ceil(COUNT_WINDOW_MS / DASHBOARD_INTERVAL_MS));
    expect(events).toBeGreaterThanOrEqual(2);
  }, 20_000);

  it('refuses a malformed sccStats report from a raw client and keeps its last good figures', async () => {
    const [port] = await freePorts(1);
    const uri = `ws://127.0.0.1:${port}`;
    // A raw worker (socketcluster-client, as every peer): it joins, answers the list pushes, reports.
    const raw: Client = socketClusterClient.create({
      hostname: '127.0.0.1',
      port: cluster.statePort,
      query: { authKey: 'null', instanceType: 'scc-worker', instancePort: String(port), version: DEFAULT_ANNOUNCED_VERSION },
    });
    try {
      for (const procedure of [Procedure.BrokerJoinCluster, Procedure.BrokerLeaveCluster, Procedure.WorkerJoinCluster, Procedure.WorkerLeaveCluster]) {
        void (async () => {
          for await (const request of raw.procedure(procedure)) request.end();
        })();
      }
      await raw.listener('connect').once(5000);
      await raw.invoke(Procedure.WorkerJoinCluster, { instanceId: 'raw-reporter', instanceIp: '127.0.0.1', instanceIpFamily: 'IPv4' });
      const good = { uptimeMs: 1000, cpuMicros: 5000, rssBytes: 1_000_000, connections: 7, channels: 3, messagesIn: 1, messagesOut: 2 };
      await raw.transmit(STATS_EVENT, good);
      await expect.poll(async () => (await view()).workers.find((w) => w.uri === uri)?.figures?.connections, { timeout: 5000 }).toBe(7);

      const mark = cluster.state.mark();
      await raw.transmit(STATS_EVENT, { ...good, uptimeMs: 2000, connections: -1 });
      await raw.transmit(STATS_EVENT, 'not a report');
      await expect.poll(async () => (await view()).workers.find((w) => w.uri === uri)?.statsRefused, { timeout: 5000 }).toBe(2);
      const after = (await view()).workers.find((w) => w.uri === uri)!;
      expect(after.figures!.connections).toBe(7);
      const warning = await cluster.state.waitForLog(/refused a sccStats report/, 5000, mark);
      expect(warning.msg).toMatch(/InvalidPayloadError: sccStats\.connections: expected a non-negative integer/);
    } finally {
      raw.disconnect();
      raw.closeAllListeners();
      raw.killAllProcedures();
    }
    await expect.poll(async () => (await view()).workers.some((w) => w.uri === uri), { timeout: 5000 }).toBe(false);
  }, 30_000);

  it('shows live figures, and a broker added and drained appears and disappears without a reload', async () => {
    browser = await launchChromium({ width: 1280, height: 900 });
    mkdirSync(SCREENSHOTS, { recursive: true });
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`http://127.0.0.1:${cluster.statePort}/cluster`);
    await page.locator('#live.on').waitFor({ timeout: PAGE_WAIT_MS });
    for (const b of cluster.brokers) await page.locator(`#brokers tr[data-uri="${uriOf(b)}"] td.connections`).waitFor({ timeout: PAGE_WAIT_MS });
    // No playground parameter: no controls.
    expect(await page.locator('#playground').isHidden()).toBe(true);

    // Clients on worker A raise its connections; publishing through them raises its msgs out/s.
    const [workerA, workerB] = cluster.workers;
    const uriA = uriOf(workerA!);
    const before = await shown(page, 'workers', uriA, 'connections');
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(workerA!.port)));
    await expect.poll(() => shown(page, 'workers', uriA, 'connections'), { timeout: PAGE_WAIT_MS }).toBeGreaterThanOrEqual(before + CLIENTS);
    const listener = await connect(workerB!.port);
    const channel = listener.subscribe('dashboard-traffic');
    await channel.listener('subscribe').once(5000);
    let sent = 0;
    publishing = setInterval(() => {
      for (const client of clients) void client.transmitPublish('dashboard-traffic', { n: sent++ });
    }, PUBLISH_EVERY_MS);
    await expect.poll(() => shown(page, 'workers', uriA, 'out'), { timeout: PAGE_WAIT_MS }).toBeGreaterThan(0);
    await expect.poll(() => shown(page, 'workers', uriOf(workerB!), 'in'), { timeout: PAGE_WAIT_MS }).toBeGreaterThan(0);
    // Every worker's link to every broker is up.
    for (const w of cluster.workers) {
      for (const b of cluster.brokers) {
        await expect.poll(() => classOf(page.locator(`#link-table tr[data-worker="${uriOf(w)}"] td[data-broker="${uriOf(b)}"]`)), { timeout: PAGE_WAIT_MS }).toMatch(/\bup\b/);
      }
    }
    // The sparklines have drawn a trend.
    await page.locator(`#workers tr[data-uri="${uriA}"] td.out svg polyline`).waitFor({ timeout: PAGE_WAIT_MS });
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-initial.png'), fullPage: true });

    const added = await cluster.addBroker();
    const addedUri = uriOf(added);
    await page.locator(`#brokers tr[data-uri="${addedUri}"] td.connections`).waitFor({ timeout: PAGE_WAIT_MS });
    await expect.poll(() => textOf(page.locator('#broker-count')), { timeout: PAGE_WAIT_MS }).toBe('3');
    await page.locator(`#events li[data-kind="joined"]`, { hasText: addedUri }).waitFor({ timeout: PAGE_WAIT_MS });
    for (const w of cluster.workers) {
      await expect.poll(() => classOf(page.locator(`#link-table tr[data-worker="${uriOf(w)}"] td[data-broker="${addedUri}"]`)), { timeout: PAGE_WAIT_MS }).toMatch(/\bup\b/);
    }
    await page.locator(`#spread [data-broker="${addedUri}"]`).waitFor({ timeout: PAGE_WAIT_MS });
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-broker-added.png'), fullPage: true });

    await added.stop('SIGTERM', PAGE_WAIT_MS);
    await page.locator(`#brokers tr[data-uri="${addedUri}"]`).waitFor({ state: 'detached', timeout: PAGE_WAIT_MS });
    await expect.poll(() => textOf(page.locator('#broker-count')), { timeout: PAGE_WAIT_MS }).toBe('2');
    await page.locator(`#events li[data-kind="left"]`, { hasText: addedUri }).waitFor({ timeout: PAGE_WAIT_MS });
    // Once the handover has released it, no worker reports a link to it any more.
    await page.locator(`#link-table [data-broker="${addedUri}"]`).first().waitFor({ state: 'detached', timeout: PAGE_WAIT_MS });
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-broker-removed.png'), fullPage: true });

    clearInterval(publishing);
    expect(sent).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    for (const name of ['initial', 'broker-added', 'broker-removed']) expect(existsSync(join(SCREENSHOTS, `dashboard-${name}.png`))).toBe(true);
  }, 120_000);

  it('shows the playground controls only with ?playground=, and what the playground answered', async () => {
    const page = await browser!.context.newPage();
    // A loopback port nobody listens on: the page must say the playground does not answer.
    const [idle] = await freePorts(1);
    await page.goto(`http://127.0.0.1:${cluster.statePort}/cluster?playground=${encodeURIComponent(`http://127.0.0.1:${idle}`)}`);
    await page.locator('#playground').waitFor({ state: 'visible', timeout: PAGE_WAIT_MS });
    const actions = await page.locator('#playground button').evaluateAll((buttons) => buttons.map((b) => b.getAttribute('data-action')));
    expect(actions).toEqual(['add-broker', 'drain-broker', 'kill-broker', 'add-worker', 'remove-worker', 'restart-state']);
    await page.click('#playground button[data-action="add-broker"]');
    await expect.poll(() => textOf(page.locator('#playground-answer')), { timeout: PAGE_WAIT_MS }).toMatch(/no answer from the playground/);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-playground.png') });
    // Not a loopback URL: no buttons, and the page says why.
    await page.goto(`http://127.0.0.1:${cluster.statePort}/cluster?playground=${encodeURIComponent('http://example.com:7770')}`);
    await expect.poll(() => textOf(page.locator('#playground-answer')), { timeout: PAGE_WAIT_MS }).toMatch(/must be a loopback http URL/);
    expect(await page.locator('#playground button').count()).toBe(0);
  }, 60_000);
});
