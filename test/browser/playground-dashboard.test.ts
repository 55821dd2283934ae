/**
 * The dashboard driven from the playground, in Debian's Chromium: the `pnpm start` runner
 * (scripts/local-cluster.ts) as a child, on free ports and a free control port so that it never
 * clashes with a developer's own, its services on their default timings. The test opens the dashboard
 * URL the runner prints (with `?playground=`) and only CLICKS the page's buttons: a broker added
 * appears without a reload (and in /cluster.json) and takes its share of the channels, drained it
 * disappears, a broker killed is shown gone, and a worker added appears. Throughout, a client on one
 * worker publishes on CHANNELS channels that a client on the other subscribes to, so the page shows
 * traffic, spread and links; after each change a fresh message on every channel still arrives. Each
 * answer is read from the page. Screenshots go to
 * test-results/screenshots/playground-dashboard-{initial,broker-added,broker-drained,broker-killed,worker-added}.png.
 * SIGINT to the runner ends it with 0 and every child gone.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Collector, connect, disconnectAll, primeChannels, type Client } from '../../harness/clients.js';
import type { ClusterSnapshot } from '../../harness/ready.js';
import { stopAll, type ServiceProcess } from '../../harness/service-process.js';
import { uriOf } from '../../harness/services.js';
import { pidGone, startPlaygroundOnFreePort, type ChildStatus, type PlaygroundStatus } from '../helpers/playground.js';
import { launchChromium, type Chromium } from '../helpers/chromium.js';

const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots', import.meta.url));
/** Bound on the playground coming up, ms (its own bound is 60 s per wait; two shared cores). */
const START_WAIT_MS = 120_000;
/** Bound on one action's answer on the page, ms: the runner's own 60 s bound on its wait, and slack. */
const ACTION_WAIT_MS = 90_000;
/** Bound on the page showing something: figures every 2 s, snapshots every 1 s by default; shared cores. */
const PAGE_WAIT_MS = 30_000;
/** Bound on a message reaching the other worker's subscriber, ms (a failover may be under way). */
const DELIVERY_WAIT_MS = 20_000;
/** Bound on the runner's exit after SIGINT, ms: it stops workers, brokers and the state server in turn. */
const QUIT_WAIT_MS = 60_000;
/** Bound on one GET to the control API or the state server, ms. */
const HTTP_TIMEOUT_MS = 10_000;
/** Channels the subscriber on one worker takes: enough that a third broker owns some of them (all but certainly). */
const CHANNELS = Array.from({ length: 24 }, (_, i) => `pg-room-${i}`);
/** One message on every channel this often while the test runs, ms: visible msgs/s, a light load. */
const PUBLISH_EVERY_MS = 250;

/** A 200 answer of `POST /actions/<action>`, as the page shows it. */
interface ActionAnswer {
  action: string;
  done: string;
  membership: { brokers: number[]; workers: number[] };
  settled: boolean;
}

let playground: ServiceProcess | undefined;
let chromium: Chromium | undefined;
let publishing: NodeJS.Timeout | undefined;

afterAll(async () => {
  clearInterval(publishing);
  disconnectAll();
  await chromium?.close();
  await playground?.stop('SIGINT', QUIT_WAIT_MS);
  await stopAll();
});


/** GET `url` as JSON, bounded by HTTP_TIMEOUT_MS. */
async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return (await res.json()) as T;
}

const portsOf = (list: ClusterSnapshot['brokers']): number[] => list.map((m) => Number(new URL(m.uri).port)).sort((a, b) => a - b);

/** The element's text, or '' while it is not on the page. */
const textOf = (page: Page, selector: string): Promise<string> =>
  page
    .locator(selector)
    .textContent({ timeout: 500 })
    .then((t) => t ?? '', () => '');

/**
 * Clicks the playground button for `action` and waits for the page to show the control API's answer
 * (`<status> <text>` then the JSON body); it must be 200, and its body is returned.
 */
async function click(page: Page, action: string, log: () => string): Promise<ActionAnswer> {
  await page.click(`#playground button[data-action="${action}"]`, { timeout: PAGE_WAIT_MS });
  const answer = page.locator('#playground-answer');
  // The page writes `POST …` at once, then the status line and body once the action is over.
  await page
    .locator('#playground-answer', { hasText: /^\d{3} / })
    .waitFor({ timeout: ACTION_WAIT_MS })
    .catch((error: unknown) => {
      throw new Error(`no answer to ${action} on the page (${(error as Error).message.split('\n', 1)[0]}); the runner said:\n${log()}`);
    });
  const text = (await answer.textContent()) ?? '';
  expect(text.split('\n', 1)[0], `${action}: ${text}`).toBe('200 OK');
  // Every button is usable again once the answer is shown.
  expect(await page.locator('#playground button:disabled').count()).toBe(0);
  const body = JSON.parse(text.slice(text.indexOf('\n') + 1)) as ActionAnswer;
  expect(body.settled, `${action}: ${text}`).toBe(true);
  return body;
}

/** Waits until the page shows every worker's link to every broker as up. */
async function linksUp(page: Page, workers: readonly string[], brokers: readonly string[]): Promise<void> {
  for (const w of workers) {
    for (const b of brokers) {
      const cell = page.locator(`#link-table tr[data-worker="${w}"] td[data-broker="${b}"]`);
      await expect.poll(() => cell.getAttribute('class', { timeout: 500 }).catch(() => ''), { timeout: PAGE_WAIT_MS }).toMatch(/\bup\b/);
    }
  }
}

/** Publishes a message `id` on every channel and waits until the subscriber has each of them. */
async function deliveredEverywhere(publisher: Client, collector: Collector, id: string): Promise<void> {
  await Promise.all(CHANNELS.map((c) => publisher.invokePublish(c, { id })));
  await collector.until(() => CHANNELS.every((c) => collector.messages('b', c).some((m) => m.id === id)), DELIVERY_WAIT_MS, `${id} on every channel`);
}

describe('the dashboard driven from the playground', () => {
  it('adds, drains and kills brokers and adds a worker by its buttons; the page follows live; SIGINT exits 0', { timeout: START_WAIT_MS + 6 * ACTION_WAIT_MS + QUIT_WAIT_MS }, async () => {
    // As a user starts it (`pnpm start` execs this runner), on free ports; the services' own timings.
    const started = await startPlaygroundOnFreePort();
    playground = started.playground;
    const controlPort = started.controlPort;
    const control = `http://127.0.0.1:${controlPort}`;
    const runner = playground;
    const log = (): string => runner.tail(30);
    const line = await runner.waitForLog(/\| dashboard: http:\/\//, START_WAIT_MS);
    const printed = line.msg.slice(line.msg.indexOf('dashboard: ') + 'dashboard: '.length);
    const status = await getJson<PlaygroundStatus>(`${control}/status`);
    expect(status.phase).toBe('ready');
    // The printed URL carries the real ports: the state server's, and the control API's.
    expect(printed).toBe(`http://127.0.0.1:${status.statePort}/cluster?playground=${control}`);
    const statePort = status.statePort;
    const view = (): Promise<ClusterSnapshot> => getJson<ClusterSnapshot>(`http://127.0.0.1:${statePort}/cluster.json`);
    const allPids = new Set(status.children.map((c) => c.pid));
    const running = (role: ChildStatus['role']): ChildStatus[] => status.children.filter((c) => c.role === role && c.state === 'running');
    expect(running('broker')).toHaveLength(2);
    expect(running('worker')).toHaveLength(2);

    chromium = await launchChromium({ width: 1280, height: 900 });
    mkdirSync(SCREENSHOTS, { recursive: true });
    const page = await chromium.context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()} ${r.url()}`));
    let navigations = 0;
    page.on('framenavigated', (frame) => frame === page.mainFrame() && (navigations += 1));
    await page.goto(printed);
    await page.locator('#live.on').waitFor({ timeout: PAGE_WAIT_MS });
    await page.locator('#playground').waitFor({ state: 'visible', timeout: PAGE_WAIT_MS });
    // The page read the playground's status through the control API (CORS for the dashboard's origin).
    await expect.poll(() => textOf(page, '#playground-answer'), { timeout: PAGE_WAIT_MS }).toMatch(new RegExp(`^playground at ${control}:\\n\\{`));
    for (const c of [...running('broker'), ...running('worker')]) {
      await page.locator(`#${c.role}s tr[data-uri="${uriOf(c.port)}"] td.connections`).waitFor({ timeout: PAGE_WAIT_MS });
    }
    const start = await view();
    const brokerUris = start.brokers.map((b) => b.uri);
    const workerUris = start.workers.map((w) => w.uri);

    // Traffic from the first worker's client to a subscriber on the second, on every channel.
    const [w1, w2] = portsOf(start.workers);
    const collector = new Collector();
    const subscriber = await connect(w2!);
    for (const channel of CHANNELS) await collector.subscribe('b', subscriber, channel);
    const publisher = await connect(w1!);
    await primeChannels(publisher, collector, ['b'], CHANNELS);
    let sent = 0;
    publishing = setInterval(() => {
      for (const channel of CHANNELS) void publisher.transmitPublish(channel, { id: `tick-${sent}` });
      sent += 1;
    }, PUBLISH_EVERY_MS);
    await linksUp(page, workerUris, brokerUris);
    await expect.poll(() => textOf(page, `#workers tr[data-uri="${uriOf(w1!)}"] td.out .v`).then(Number.parseFloat), { timeout: PAGE_WAIT_MS }).toBeGreaterThan(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'playground-dashboard-initial.png'), fullPage: true });
    // The same page by the other name of loopback (the runner's demo links say localhost): the
    // control API admits that origin too, so the page reads its status.
    const byName = await chromium.context.newPage();
    await byName.goto(`http://localhost:${statePort}/cluster?playground=http://localhost:${controlPort}`);
    await expect.poll(() => textOf(byName, '#playground-answer'), { timeout: PAGE_WAIT_MS }).toMatch(new RegExp(`^playground at http://localhost:${controlPort}:\\n\\{`));
    await byName.close();

    // Add a broker: it appears on the page without a reload, with figures, and in /cluster.json.
    const added = await click(page, 'add-broker', log);
    expect(added.settled).toBe(true);
    const [addedPort] = added.membership.brokers.filter((p) => !portsOf(start.brokers).includes(p));
    expect(added.done).toMatch(new RegExp(`^added broker:${addedPort} \\(pid \\d+\\)$`));
    const addedUri = uriOf(addedPort!);
    await page.locator(`#brokers tr[data-uri="${addedUri}"] td.connections`).waitFor({ timeout: PAGE_WAIT_MS });
    await expect.poll(() => textOf(page, '#broker-count'), { timeout: PAGE_WAIT_MS }).toBe('3');
    await page.locator('#events li[data-kind="joined"]', { hasText: addedUri }).waitFor({ timeout: PAGE_WAIT_MS });
    // It owns some of the channels now: the workers link to it, and the spread shows its share.
    await linksUp(page, workerUris, [addedUri]);
    await expect.poll(() => textOf(page, `#spread [data-broker="${addedUri}"] span:not(.fill)`), { timeout: PAGE_WAIT_MS }).toMatch(/^[1-9]\d* channels? \(/);
    await expect.poll(() => textOf(page, '#push-brokers'), { timeout: PAGE_WAIT_MS }).toMatch(/\(3 brokers\)$/);
    await deliveredEverywhere(publisher, collector, 'after-add');
    expect(portsOf((await view()).brokers)).toEqual(added.membership.brokers);
    await page.screenshot({ path: join(SCREENSHOTS, 'playground-dashboard-broker-added.png'), fullPage: true });

    // Drain it (the newest broker): it disappears from the page and from /cluster.json.
    const drained = await click(page, 'drain-broker', log);
    expect(drained.done).toMatch(new RegExp(`^drained broker:${addedPort}: .*exited \\(code 0\\)`));
    expect(drained.membership.brokers).toEqual(portsOf(start.brokers));
    await page.locator(`#brokers tr[data-uri="${addedUri}"]`).waitFor({ state: 'detached', timeout: PAGE_WAIT_MS });
    await expect.poll(() => textOf(page, '#broker-count'), { timeout: PAGE_WAIT_MS }).toBe('2');
    await page.locator('#events li[data-kind="left"]', { hasText: addedUri }).waitFor({ timeout: PAGE_WAIT_MS });
    await page.locator(`#link-table [data-broker="${addedUri}"]`).first().waitFor({ state: 'detached', timeout: PAGE_WAIT_MS });
    expect((await view()).brokers.map((b) => b.uri)).not.toContain(addedUri);
    await deliveredEverywhere(publisher, collector, 'after-drain');
    await page.screenshot({ path: join(SCREENSHOTS, 'playground-dashboard-broker-drained.png'), fullPage: true });

    // Kill a broker (the newest: one of the two it started with): the page shows it gone, one is left.
    const killed = await click(page, 'kill-broker', log);
    const killedMatch = /^killed broker:(\d+) \(SIGKILL\)$/.exec(killed.done);
    expect(killedMatch, killed.done).not.toBeNull();
    const killedUri = uriOf(Number(killedMatch![1]));
    expect(killed.membership.brokers).toHaveLength(1);
    await page.locator(`#brokers tr[data-uri="${killedUri}"]`).waitFor({ state: 'detached', timeout: PAGE_WAIT_MS });
    await expect.poll(() => textOf(page, '#broker-count'), { timeout: PAGE_WAIT_MS }).toBe('1');
    await page.locator('#events li[data-kind="left"]', { hasText: killedUri }).waitFor({ timeout: PAGE_WAIT_MS });
    // The cluster carries on: a publish through one worker reaches the subscriber on the other, on every channel.
    await deliveredEverywhere(publisher, collector, 'after-kill');
    await page.locator(`#link-table [data-broker="${killedUri}"]`).first().waitFor({ state: 'detached', timeout: PAGE_WAIT_MS });
    expect(runner.alive).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'playground-dashboard-broker-killed.png'), fullPage: true });

    // Add a worker: it appears on the page, with figures and its links, and in /cluster.json.
    const worker = await click(page, 'add-worker', log);
    expect(worker.membership.workers).toHaveLength(3);
    const [workerPort] = worker.membership.workers.filter((p) => !portsOf(start.workers).includes(p));
    expect(worker.done).toMatch(new RegExp(`^added worker:${workerPort} `));
    const workerUri = uriOf(workerPort!);
    await page.locator(`#workers tr[data-uri="${workerUri}"] td.connections`).waitFor({ timeout: PAGE_WAIT_MS });
    await expect.poll(() => textOf(page, '#worker-count'), { timeout: PAGE_WAIT_MS }).toBe('3');
    await linksUp(page, [workerUri], [uriOf(killed.membership.brokers[0]!)]);
    await expect.poll(() => textOf(page, '#push-workers'), { timeout: PAGE_WAIT_MS }).toMatch(/\(3 workers\)$/);
    await deliveredEverywhere(publisher, collector, 'after-worker');
    expect(portsOf((await view()).workers)).toEqual(worker.membership.workers);
    await page.screenshot({ path: join(SCREENSHOTS, 'playground-dashboard-worker-added.png'), fullPage: true });

    // All of it by clicks on one page load, and nothing on the page went wrong.
    clearInterval(publishing);
    expect(sent).toBeGreaterThan(0);
    expect(navigations).toBe(1);
    expect(problems).toEqual([]);

    // SIGINT (as Ctrl-C from elsewhere): exit 0, every child gone.
    const last = await getJson<PlaygroundStatus>(`${control}/status`);
    for (const child of last.children) allPids.add(child.pid);
    expect(allPids.size).toBe(7);
    disconnectAll();
    await chromium.close();
    const exit = await runner.stop('SIGINT', QUIT_WAIT_MS);
    expect(exit, log()).toEqual({ code: 0, signal: null });
    expect([...allPids].filter((pid) => !pidGone(pid))).toEqual([]);
  });
});
