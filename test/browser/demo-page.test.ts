/**
 * The demo page in a real browser: Debian's Chromium (driven by playwright-core) opens the page on
 * two workers of a real local cluster (1 state server, 2 brokers, 2 workers), subscribes both tabs to a
 * channel, publishes from one and sees the message arrive in the other. Saves a screenshot of each tab
 * under test-results/. `.ci/run` installs Chromium; without it this test fails, it does not skip.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, stopAll, type TestCluster } from '../helpers/processes.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-results', import.meta.url));
/** Bounds for priming the channel (see below). */
const PRIME_ATTEMPTS = 40;
const PRIME_WAIT_MS = 250;

let cluster: TestCluster;
let profile = '';
let browser: BrowserContext | undefined;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 2, workers: 2 });
}, 60_000);

/** Launches Chromium headless with a fresh profile; a missing Chromium fails the test (it is not skipped). */
async function launchChromium(): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  }
  profile = mkdtempSync(join(tmpdir(), 'scc-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

afterAll(async () => {
  await browser?.close();
  await stopAll();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Opens the demo page served by the worker on `port` and waits until its socket is connected. */
async function openDemo(port: number): Promise<Page> {
  const page = await browser!.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.locator('#status.connected').waitFor({ timeout: 10_000 });
  expect(await page.textContent('#port')).toBe(`:${port}`);
  return page;
}

async function subscribe(page: Page, channel: string): Promise<void> {
  await page.bringToFront();
  await page.fill('#channel', channel);
  await page.click('#subscribe');
  await expect.poll(() => page.textContent('#subscriptions'), { timeout: 5_000 }).toBe(`Subscribed to: ${channel}`);
}

async function publish(page: Page, text: string): Promise<void> {
  // Both tabs share one window: a background tab gets no animation frames, which Playwright's click
  // waits on, so the acting tab comes to the front first.
  await page.bringToFront();
  await page.fill('#text', text);
  await page.click('#publish');
}

/** The texts a tab has received, newest first. */
const received = (page: Page): Promise<string[]> => page.locator('#messages li .text').allTextContents();

describe('demo page in Chromium', () => {
  it('a message published in the tab on one worker appears in the tab on the other', async () => {
    browser = await launchChromium();
    const [a, b] = cluster.workers;
    const pageA = await openDemo(a!.port);
    const pageB = await openDemo(b!.port);
    const channel = `browser-${Date.now()}`;
    await subscribe(pageB, channel);
    await subscribe(pageA, channel);

    // Worker B subscribes upstream at its channel's broker after the tab's subscribe is acknowledged, and
    // the page cannot see when that is done; probes from A, bounded by count and time, show when it is.
    let primed = false;
    for (let i = 1; i <= PRIME_ATTEMPTS && !primed; i++) {
      await publish(pageA, `probe ${i}`);
      primed = await pageB
        .locator('#messages li .text', { hasText: /^probe \d+$/ })
        .first()
        .waitFor({ timeout: PRIME_WAIT_MS })
        .then(() => true, () => false);
    }
    expect(primed, `tab B heard no probe after ${PRIME_ATTEMPTS} tries`).toBe(true);

    const text = `hello from :${a!.port}`;
    await publish(pageA, text);
    const delivered = pageB.locator('#messages li', { hasText: text });
    await delivered.waitFor({ timeout: 10_000 });
    expect(await delivered.getAttribute('data-published-on')).toBe(String(a!.port));
    expect(await delivered.getAttribute('data-delivered-by')).toBe(String(b!.port));
    expect(await delivered.getAttribute('data-channel')).toBe(channel);
    // The publishing tab is subscribed too, and hears its own message once, through its own worker.
    await expect.poll(async () => (await received(pageA)).filter((t) => t === text).length, { timeout: 10_000 }).toBe(1);
    expect((await received(pageB)).filter((t) => t === text)).toHaveLength(1);

    mkdirSync(ARTIFACTS, { recursive: true });
    await pageA.screenshot({ path: join(ARTIFACTS, 'browser-demo-publisher.png'), fullPage: true });
    await pageB.screenshot({ path: join(ARTIFACTS, 'browser-demo-subscriber.png'), fullPage: true });
    expect(existsSync(join(ARTIFACTS, 'browser-demo-subscriber.png'))).toBe(true);
  }, 60_000);
});
