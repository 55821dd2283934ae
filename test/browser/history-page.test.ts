/**
 * The demo page on a history channel, in a real browser: Debian's Chromium (driven by
 * playwright-core) opens the page on both workers of a real local cluster (1 state server, 2
 * brokers, 2 workers, SCC_HISTORY_CHANNELS on brokers and workers). Both tabs subscribe; each
 * message shows its position, the same in both tabs; worker 0 restarts under tab A while tab B
 * publishes; A reconnects, re-subscribes with its last position and shows "recovered: true, N
 * replayed" with exactly the missed messages at the next offsets, then live ones. A channel outside
 * the prefixes stays plain (no positions, no notice). Screenshots go to test-results/screenshots/.
 * Without Chromium this fails, it does not skip.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoPages, UI_TIMEOUT_MS, connected, entry, publish, subscribe } from '../helpers/demo-page.js';
import { startCluster, stopAll, type TestCluster } from '../helpers/processes.js';

const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots', import.meta.url));
/** The prefix that keeps history, on brokers and workers. */
const HISTORY_PREFIX = 'hist/';
const HISTORY_ENV = { SCC_HISTORY_CHANNELS: HISTORY_PREFIX };
/** Messages published while tab A is away. */
const MISSED = 5;
/** Bounds for priming a channel (see `prime`). */
const PRIME_ATTEMPTS = 40;
const PRIME_WAIT_MS = 250;

let cluster: TestCluster;
const pages = new DemoPages();

beforeAll(async () => {
  cluster = await startCluster({ brokers: 2, workers: 2, brokerEnv: HISTORY_ENV, workerEnv: HISTORY_ENV });
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await pages.close();
  await stopAll();
});

const openDemo = (port: number): Promise<Page> => pages.open(port);
async function publishAcked(page: Page, channel: string, text: string): Promise<void> {
  await publish(page, channel, text);
  await expect.poll(() => page.locator('#publish-notice').textContent(), { timeout: UI_TIMEOUT_MS }).toContain(`Published to ${channel}`);
}

/** A message the page shows: its text and position (offset null: shown without one). */
interface Shown {
  text: string;
  epoch: string | null;
  offset: number | null;
}

/** The messages a tab shows on `channel`, oldest first (the page lists newest first). */
async function shown(page: Page, channel: string): Promise<Shown[]> {
  const items = page.locator(`#messages li[data-channel="${channel}"]:not(.recovery)`);
  const all: Shown[] = [];
  for (const li of await items.all()) {
    const offset = await li.getAttribute('data-offset');
    all.push({ text: (await li.locator('.text').textContent()) ?? '', epoch: await li.getAttribute('data-epoch'), offset: offset === null ? null : Number(offset) });
  }
  return all.reverse();
}

const texts = async (page: Page, channel: string) => (await shown(page, channel)).map((m) => m.text);

async function arrives(page: Page, channel: string, text: string): Promise<void> {
  await expect.poll(async () => (await texts(page, channel)).includes(text), { timeout: UI_TIMEOUT_MS }).toBe(true);
}

/** Probes from `from` until `to` shows one: every worker on the path has subscribed upstream. */
async function prime(from: Page, to: Page, channel: string): Promise<void> {
  for (let i = 1; i <= PRIME_ATTEMPTS; i++) {
    await publish(from, channel, `probe ${i}`);
    const heard = await to
      .locator(`#messages li[data-channel="${channel}"] .text`, { hasText: /^probe \d+$/ })
      .first()
      .waitFor({ timeout: PRIME_WAIT_MS })
      .then(() => true, () => false);
    if (heard) return;
  }
  throw new Error(`no probe on ${channel} was heard after ${PRIME_ATTEMPTS} tries`);
}

/** The recovery lines a tab shows on `channel`, oldest first. */
async function recoveries(page: Page, channel: string): Promise<string[]> {
  return (await page.locator(`#messages li.recovery[data-channel="${channel}"]`).allTextContents()).reverse();
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `history-${name}.png`), fullPage: true });

describe('demo page on a history channel, in Chromium', () => {
  it('shows positions, the same in every tab; after its worker restarts, a tab recovers exactly what it missed', async () => {
    const [w0, w1] = cluster.workers;
    const a = await openDemo(w0!.port);
    const b = await openDemo(w1!.port);
    const channel = `${HISTORY_PREFIX}page-${Date.now()}`;
    await subscribe(a, channel);
    await subscribe(b, channel);
    // The first subscription has no position to recover after: the stream starts at the live edge.
    await expect.poll(() => entry(a, channel).locator('.recovery').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('recovered: false (NoPosition), 0 replayed');
    await prime(b, a, channel);
    const before = `before the restart ${Date.now()}`;
    await publishAcked(b, channel, before);
    await arrives(a, channel, before);
    await arrives(b, channel, before);

    // Positions: consecutive offsets in one epoch, the same message at the same position in both tabs.
    const seenByA = await shown(a, channel);
    const seenByB = await shown(b, channel);
    const last = seenByA.at(-1)!;
    expect(last.text).toBe(before);
    expect(last.epoch).toMatch(/^.{1,64}$/);
    expect(last.offset).toBeGreaterThanOrEqual(1);
    expect(seenByB.find((m) => m.text === before)).toEqual(last);
    for (const list of [seenByA, seenByB]) {
      const tail = list.slice(list.findIndex((m) => m.offset !== null));
      expect(tail.every((m) => m.epoch === last.epoch)).toBe(true);
      expect(tail.map((m) => m.offset)).toEqual(tail.map((_, i) => tail[0]!.offset! + i));
    }
    expect(await a.locator(`#messages li[data-offset="${last.offset}"] .position`).textContent()).toBe(` #${last.offset} (epoch ${last.epoch})`);
    await shot(a, 'positions');

    // Worker 0 goes away under tab A; tab B publishes meanwhile.
    const restart = cluster.restartWorker(0);
    await a.locator('#status[data-state="disconnected"]').waitFor({ timeout: UI_TIMEOUT_MS });
    const missed = Array.from({ length: MISSED }, (_, i) => `missed ${i + 1} ${Date.now()}`);
    for (const text of missed) await publishAcked(b, channel, text);
    await restart;
    await connected(a);

    // A re-subscribed with its last position: the notice, then exactly the missed ones at the next offsets.
    await expect.poll(() => recoveries(a, channel), { timeout: UI_TIMEOUT_MS }).toHaveLength(2);
    const [, recovered] = await recoveries(a, channel);
    expect(recovered).toBe(`${channel}: recovered: true, ${MISSED} replayed (epoch ${last.epoch}, from offset ${last.offset! + 1})`);
    expect(await entry(a, channel).getAttribute('data-recovered')).toBe('true');
    expect(await entry(a, channel).locator('.recovery').textContent()).toBe(`recovered: true, ${MISSED} replayed`);
    await expect.poll(async () => (await shown(a, channel)).length, { timeout: UI_TIMEOUT_MS }).toBe(seenByA.length + MISSED);
    const afterRecovery = (await shown(a, channel)).slice(seenByA.length);
    expect(afterRecovery).toEqual(missed.map((text, i) => ({ text, epoch: last.epoch, offset: last.offset! + 1 + i })));
    // The notice came between the last message before and the first replayed one.
    const listed = await a.locator(`#messages li[data-channel="${channel}"]`).allTextContents();
    expect(listed.findIndex((t) => t.includes(`recovered: true`))).toBe(MISSED);

    // Live again, after the replay, at the next offset; B saw the same positions throughout.
    const live = `live after recovery ${Date.now()}`;
    await publishAcked(b, channel, live);
    await arrives(a, channel, live);
    expect((await shown(a, channel)).at(-1)).toEqual({ text: live, epoch: last.epoch, offset: last.offset! + MISSED + 1 });
    await arrives(b, channel, live);
    expect((await shown(b, channel)).slice(-(MISSED + 2))).toEqual([last, ...afterRecovery, { text: live, epoch: last.epoch, offset: last.offset! + MISSED + 1 }]);
    expect(pages.problems(a)).toEqual([]);
    expect(pages.problems(b)).toEqual([]);
    await shot(a, 'recovered');
    await a.close();
    await b.close();
  }, 90_000);

  it('a channel outside SCC_HISTORY_CHANNELS stays plain: no positions, no recovery line', async () => {
    const [w0, w1] = cluster.workers;
    const a = await openDemo(w0!.port);
    const b = await openDemo(w1!.port);
    const channel = `plain-${Date.now()}`;
    await subscribe(a, channel);
    await subscribe(b, channel);
    await prime(a, b, channel);
    const text = `plain message ${Date.now()}`;
    await publishAcked(a, channel, text);
    await arrives(b, channel, text);
    expect((await shown(b, channel)).find((m) => m.text === text)).toEqual({ text, epoch: null, offset: null });
    expect(await recoveries(b, channel)).toEqual([]);
    expect(await entry(b, channel).locator('.recovery').textContent()).toBe('');
    expect(pages.problems(b)).toEqual([]);
    await a.close();
    await b.close();
  }, 60_000);
});
