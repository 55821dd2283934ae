/**
 * The demo page in a real browser, for the browser tests: one headless Chromium per test file (a
 * missing Chromium fails the test that asks for it, it is not skipped as a failing beforeAll would be),
 * pages opened on a worker's demo page with what went wrong in each recorded: console errors, page
 * errors and HTTP responses of 400 and above (`problems(page)`, expected empty at the end of a test).
 */
import type { Page } from 'playwright-core';
import { launchChromium, type Chromium } from './chromium.js';

/** How long a test waits for the page to show something, ms. */
export const UI_TIMEOUT_MS = 10_000;
const DESKTOP = { width: 1280, height: 720 };

export class DemoPages {
  private browser: Chromium | undefined;
  private readonly seen = new WeakMap<Page, string[]>();

  /** Opens the demo page served by the worker on `port` and waits until its socket is connected. */
  async open(port: number): Promise<Page> {
    this.browser ??= await launchChromium(DESKTOP);
    const page = await this.browser.context.newPage();
    const seen: string[] = [];
    this.seen.set(page, seen);
    page.on('console', (m) => m.type() === 'error' && seen.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => seen.push(`page error: ${e.message}`));
    page.on('response', (r) => r.status() >= 400 && seen.push(`HTTP ${r.status()} ${r.url()}`));
    await page.goto(`http://127.0.0.1:${port}/`);
    await connected(page);
    return page;
  }

  /** What went wrong in `page` so far. */
  problems(page: Page): string[] | undefined {
    return this.seen.get(page);
  }

  async close(): Promise<void> {
    await this.browser?.close();
  }
}

/** Waits until the page's socket is connected. */
export async function connected(page: Page): Promise<void> {
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: UI_TIMEOUT_MS });
}

// Tabs share one window: a background tab gets no animation frames, which Playwright's clicks wait
// on, so the acting tab comes to the front first.

/** The tab's subscription entry for `channel`. */
export const entry = (page: Page, channel: string) => page.locator(`#subscriptions li[data-channel="${channel}"]`);

/** Subscribes the tab to `channel` and waits until the worker acknowledged it. */
export async function subscribe(page: Page, channel: string): Promise<void> {
  await page.bringToFront();
  await page.fill('#channel', channel);
  await page.click('#subscribe');
  await entry(page, channel).locator('.state', { hasText: /^subscribed$/ }).waitFor({ timeout: UI_TIMEOUT_MS });
}

/** Types `text` for `channel` and clicks Publish (which the page may refuse). */
export async function publish(page: Page, channel: string, text: string): Promise<void> {
  await page.bringToFront();
  await page.fill('#channel', channel);
  await page.fill('#text', text);
  await page.click('#publish');
}
