/**
 * The demo page in a real browser: Debian's Chromium (driven by playwright-core) opens the page on
 * the workers of a real local cluster (1 state server, 2 brokers, 2 workers with a small payload
 * limit) and on a standalone worker that refuses publishes and allows one channel per socket. It
 * checks each promise the page makes: messages cross the cluster; an empty or oversize message is
 * refused before anything is sent (and nothing reaches a second subscriber); the worker's own
 * refusals are shown with their reason; unsubscribe stops delivery; publishing is off while the
 * worker is down and back after it restarts; the favicon is served; the page fits 390 px. Saves
 * screenshots under test-results/screenshots/. `.ci/run` installs Chromium; without it this test
 * fails, it does not skip.
 *
 * "Nothing arrived" is never waited out: a marker published after the refused message on the same
 * channel, from the same tab, travels the same path in order, so once the marker is in, anything
 * sent before it would be in too.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoPages, UI_TIMEOUT_MS, connected, entry, publish, subscribe } from '../helpers/demo-page.js';
import { startCluster, startWorker, stopAll, type ServiceProcess, type TestCluster } from '../helpers/processes.js';

/** playwright's default viewport, for every page but the phone-sized one. */
const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots', import.meta.url));
/** The cluster workers' SCC_MAX_PAYLOAD: not the default, so the page must have read it from the worker. */
const MAX_PAYLOAD_BYTES = 8 * 1024;
/** The refusing worker's SCC_SOCKET_CHANNEL_LIMIT. */
const CHANNEL_LIMIT = 1;
/** The refusing worker's payload limit, set through SOCKETCLUSTER_OPTIONS (which overrides SCC_MAX_PAYLOAD). */
const OVERRIDDEN_MAX_PAYLOAD_BYTES = 5_000;
/** Bounds for priming a channel (see `prime`). */
const PRIME_ATTEMPTS = 40;
const PRIME_WAIT_MS = 250;
/** The width of a small phone, CSS pixels. */
const PHONE_WIDTH = 390;
const PHONE_HEIGHT = 844;

let cluster: TestCluster;
const pages = new DemoPages();
/** A standalone worker that refuses every client publish, allows CHANNEL_LIMIT channels per socket and OVERRIDDEN_MAX_PAYLOAD_BYTES per message. */
let refusing: ServiceProcess;

beforeAll(async () => {
  [cluster, refusing] = await Promise.all([
    startCluster({ brokers: 2, workers: 2, workerEnv: { SCC_MAX_PAYLOAD: String(MAX_PAYLOAD_BYTES) } }),
    startWorker(null, {
      SCC_SOCKET_CHANNEL_LIMIT: String(CHANNEL_LIMIT),
      SOCKETCLUSTER_OPTIONS: JSON.stringify({ allowClientPublish: false, maxPayload: OVERRIDDEN_MAX_PAYLOAD_BYTES }),
    }),
  ]);
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await pages.close();
  await stopAll();
});

/** Opens the demo page served by the worker on `port`, waits until its socket is connected, and checks the port it shows. */
async function openDemo(port: number): Promise<Page> {
  const page = await pages.open(port);
  expect(await page.textContent('#port')).toBe(`:${port}`);
  return page;
}

/** Publishes `text` and waits until the worker acknowledged it. */
async function publishAcked(page: Page, channel: string, text: string): Promise<void> {
  await publish(page, channel, text);
  await expect.poll(() => notice(page, '#publish-notice'), { timeout: UI_TIMEOUT_MS }).toEqual({ kind: 'sent', text: expect.stringContaining(`Published to ${channel}`) });
}

async function notice(page: Page, selector: string): Promise<{ kind: string | null; text: string | null }> {
  const el = page.locator(selector);
  return { kind: await el.getAttribute('data-kind'), text: await el.textContent() };
}

/** The texts a tab has received, newest first. */
const received = (page: Page): Promise<string[]> => page.locator('#messages li .text').allTextContents();
/** The same without the priming probes. */
const receivedMessages = async (page: Page): Promise<string[]> => (await received(page)).filter((t) => !/^probe \d+$/.test(t));

/** Waits until `page` shows a message with exactly `text`. */
async function arrives(page: Page, text: string): Promise<void> {
  await expect.poll(async () => (await received(page)).includes(text), { timeout: UI_TIMEOUT_MS }).toBe(true);
}

/**
 * A worker subscribes upstream at its channel's broker around the tab's subscribe acknowledgement,
 * and the page cannot see when every worker on the path is done; probes from `from`, bounded by
 * count and time, show when `to` hears the channel.
 */
async function prime(from: Page, to: Page, channel: string): Promise<void> {
  for (let i = 1; i <= PRIME_ATTEMPTS; i++) {
    await publish(from, channel, `probe ${i}`);
    const heard = await to
      .locator('#messages li .text', { hasText: /^probe \d+$/ })
      .first()
      .waitFor({ timeout: PRIME_WAIT_MS })
      .then(() => true, () => false);
    if (heard) return;
  }
  throw new Error(`no probe on ${channel} was heard after ${PRIME_ATTEMPTS} tries`);
}

/** The bytes a publish of `text` from the tab on `port` takes on the wire, counted as the page promises (widest call id). */
function wireBytes(channel: string, text: string, port: number): number {
  const message = { text, publishedOn: String(port), sentAt: Date.now() };
  return Buffer.byteLength(JSON.stringify({ event: '#publish', data: { channel, data: message }, cid: Number.MAX_SAFE_INTEGER }));
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `demo-${name}.png`), fullPage: true });

/** Two tabs on the two cluster workers, subscribed to one primed channel; opened once, by the first test that asks. */
let tabs: Promise<{ a: Page; b: Page; channel: string }> | undefined;
function twoTabs(): Promise<{ a: Page; b: Page; channel: string }> {
  tabs ??= (async () => {
    const [wa, wb] = cluster.workers;
    const a = await openDemo(wa!.port);
    const b = await openDemo(wb!.port);
    const channel = `browser-${Date.now()}`;
    await subscribe(b, channel);
    await subscribe(a, channel);
    await prime(a, b, channel);
    return { a, b, channel };
  })();
  return tabs;
}

describe('demo page in Chromium', () => {
  it('a message published in the tab on one worker appears in the tab on the other; the favicon is served and nothing fails to load', async () => {
    const { a, b, channel } = await twoTabs();
    const [wa, wb] = cluster.workers;
    const text = `hello from :${wa!.port}`;
    await publishAcked(a, channel, text);
    const delivered = b.locator('#messages li', { hasText: text });
    await delivered.waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await delivered.getAttribute('data-published-on')).toBe(String(wa!.port));
    expect(await delivered.getAttribute('data-delivered-by')).toBe(String(wb!.port));
    expect(await delivered.getAttribute('data-channel')).toBe(channel);
    // The publishing tab is subscribed too, and hears its own message once, through its own worker.
    await expect.poll(async () => (await received(a)).filter((t) => t === text).length, { timeout: UI_TIMEOUT_MS }).toBe(1);
    expect((await received(b)).filter((t) => t === text)).toHaveLength(1);

    expect(await a.getAttribute('link[rel="icon"]', 'href')).toBe('/favicon.svg');
    const icon = await a.request.get(`http://127.0.0.1:${wa!.port}/favicon.svg`);
    expect(icon.status()).toBe(200);
    expect(icon.headers()['content-type']).toBe('image/svg+xml');
    expect((await icon.text()).startsWith('<svg')).toBe(true);
    expect(pages.problems(a)).toEqual([]);
    expect(pages.problems(b)).toEqual([]);

    await shot(a, 'publisher');
    await shot(b, 'subscriber');
  }, 60_000);

  it('an empty message is refused with a hint and nothing is published', async () => {
    const { a, b, channel } = await twoTabs();
    for (const empty of ['', '   ']) {
      await publish(a, channel, empty);
      expect(await notice(a, '#publish-notice')).toEqual({ kind: 'hint', text: 'Not sent: the message is empty. Type something first.' });
    }
    await shot(a, 'empty-refused');
    // A subscribe without a channel name gets its hint too.
    await a.fill('#channel', '');
    await a.click('#subscribe');
    expect(await notice(a, '#subscribe-notice')).toEqual({ kind: 'hint', text: 'Enter a channel name to subscribe to.' });

    const marker = `after the empty ones ${Date.now()}`;
    await publishAcked(a, channel, marker);
    await arrives(b, marker);
    expect((await received(b)).filter((t) => t.trim() === '')).toEqual([]);
    expect((await received(a)).filter((t) => t.trim() === '')).toEqual([]);
  }, 60_000);

  it("knows the worker's payload limit: shows it, counts the encoded size, refuses an oversize message before sending it", async () => {
    const { a, b, channel } = await twoTabs();
    const port = cluster.workers[0]!.port;
    await a.bringToFront();
    await a.fill('#channel', channel);
    await a.fill('#text', '');
    expect(await a.textContent('#size')).toBe(`On the wire: ${wireBytes(channel, '', port).toLocaleString('en-US')} bytes of at most ${MAX_PAYLOAD_BYTES.toLocaleString('en-US')} bytes (the worker's payload limit, SCC_MAX_PAYLOAD).`);

    // Two-byte characters: under the limit in characters, over it in UTF-8 bytes, as the wire counts.
    const wide = 'é'.repeat(MAX_PAYLOAD_BYTES * 0.6);
    const wideBytes = wireBytes(channel, wide, port);
    expect(wide.length).toBeLessThan(MAX_PAYLOAD_BYTES);
    expect(wideBytes).toBeGreaterThan(MAX_PAYLOAD_BYTES);
    await publish(a, channel, wide);
    const refusal = await notice(a, '#publish-notice');
    expect(refusal.kind).toBe('refused');
    expect(refusal.text).toContain(`this message is ${wideBytes.toLocaleString('en-US')} bytes on the wire, over the worker's limit of ${MAX_PAYLOAD_BYTES.toLocaleString('en-US')} bytes`);
    expect(await a.locator('#size').getAttribute('class')).toContain('over');
    expect(await a.inputValue('#text')).toBe(wide);

    // The boundary is the worker's: a message counted at exactly the limit goes (and the worker keeps
    // the connection: the real call id is shorter than the widest), one byte more does not.
    const fits = 'x'.repeat(MAX_PAYLOAD_BYTES - wireBytes(channel, '', port));
    expect(wireBytes(channel, fits, port)).toBe(MAX_PAYLOAD_BYTES);
    await publishAcked(a, channel, fits);
    await publish(a, channel, fits + 'x');
    expect(await notice(a, '#publish-notice')).toEqual({ kind: 'refused', text: expect.stringContaining('Shorten it by 1 byte.') });
    await shot(a, 'oversize-refused');

    const marker = `after the oversize ones ${Date.now()}`;
    await publishAcked(a, channel, marker);
    await arrives(b, marker);
    const sinceFirstTest = (await receivedMessages(b)).slice(0, 2);
    expect(sinceFirstTest).toEqual([marker, fits]);
    expect(await received(b)).not.toContain(wide);
    expect(await received(b)).not.toContain(fits + 'x');
    // The socket was never closed for a message too big.
    expect(await a.getAttribute('#status', 'data-state')).toBe('connected');
    expect(await a.textContent('#status-detail')).toBe('');
    expect(pages.problems(a)).toEqual([]);
  }, 60_000);

  it("shows the worker's refusal of a publish and of a subscribe, with the error's name and message", async () => {
    const page = await openDemo(refusing.port);
    // The page shows the limit in force, not the variable's.
    expect(await page.textContent('#size')).toContain(`of at most ${OVERRIDDEN_MAX_PAYLOAD_BYTES.toLocaleString('en-US')} bytes`);
    await publish(page, 'news', 'refused by the worker');
    await expect.poll(() => notice(page, '#publish-notice'), { timeout: UI_TIMEOUT_MS }).toEqual({
      kind: 'error',
      text: 'The worker refused the publish: InvalidActionError: Client publish feature is disabled',
    });

    await subscribe(page, 'first');
    await page.fill('#channel', 'second');
    await page.click('#subscribe');
    const second = entry(page, 'second');
    await second.locator('.state', { hasText: /^refused$/ }).waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await second.locator('.reason').textContent()).toMatch(
      new RegExp(`^The worker refused the subscription: BrokerError: Failed to subscribe socket to the second channel - InvalidActionError: Socket \\S+ tried to exceed the channel subscription limit of ${CHANNEL_LIMIT}$`),
    );
    expect(await entry(page, 'first').getAttribute('data-state')).toBe('subscribed');
    await shot(page, 'server-refusal');

    // Names the worker drops without an answer (and the client library would mistake for its own
    // members) are refused by the page itself, with the reason.
    await publish(page, 'toString', 'never sent');
    expect(await notice(page, '#publish-notice')).toEqual({ kind: 'refused', text: expect.stringContaining('"toString" is the name of an Object.prototype member') });
    await page.click('#subscribe');
    expect(await notice(page, '#subscribe-notice')).toEqual({ kind: 'refused', text: expect.stringContaining('"toString" is the name of an Object.prototype member') });
    expect(await entry(page, 'toString').count()).toBe(0);

    // A refused entry can be removed; after unsubscribing the first, the second is allowed.
    await second.locator('button', { hasText: 'Remove' }).click();
    await second.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
    await entry(page, 'first').locator('button', { hasText: 'Unsubscribe' }).click();
    await subscribe(page, 'second');
    await page.close();
  }, 60_000);

  it('unsubscribe stops delivery to that tab', async () => {
    const [wa, wb] = cluster.workers;
    const a = await openDemo(wa!.port);
    const b = await openDemo(wb!.port);
    // C shares B's worker: once C has a message, B's worker has handed it to every local subscriber.
    const c = await openDemo(wb!.port);
    const channel = `unsubscribe-${Date.now()}`;
    const local = `${channel}-local`;
    for (const page of [a, b, c]) await subscribe(page, channel);
    await subscribe(b, local);
    await prime(a, b, channel);
    await prime(a, c, channel);

    await entry(b, channel).locator('button', { hasText: 'Unsubscribe' }).click();
    await entry(b, channel).waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
    expect(await notice(b, '#subscribe-notice')).toEqual({ kind: 'done', text: `Unsubscribed from ${channel}.` });
    expect(await entry(b, local).getAttribute('data-state')).toBe('subscribed');

    const gone = `after B unsubscribed ${Date.now()}`;
    await publishAcked(a, channel, gone);
    await arrives(c, gone);
    await arrives(a, gone);
    // Published by B on its own worker after C had `gone`: B's socket would have had `gone` first.
    const marker = `local marker ${Date.now()}`;
    await publishAcked(b, local, marker);
    await arrives(b, marker);
    expect(await received(b)).not.toContain(gone);
    await shot(b, 'unsubscribed');
    for (const page of [a, b, c]) await page.close();
  }, 60_000);

  it('fits a 390 px screen: no horizontal scroll, controls usable', async () => {
    const port = cluster.workers[1]!.port;
    const page = await openDemo(port);
    await page.setViewportSize({ width: PHONE_WIDTH, height: PHONE_HEIGHT });
    const channel = `a-rather-long-channel-name-for-a-phone-screen-${Date.now()}`;
    await subscribe(page, channel);
    const text = `${'unbroken'.repeat(20)} and a message with words that wrap on a narrow screen`;
    await publishAcked(page, channel, text);
    await arrives(page, text);
    // A string, evaluated in the page: the test's own typings have no DOM.
    const scrollWidth = Number(await page.evaluate('document.documentElement.scrollWidth'));
    expect(scrollWidth).toBeGreaterThan(0);
    expect(scrollWidth).toBeLessThanOrEqual(PHONE_WIDTH);
    for (const control of ['#channel', '#subscribe', '#text', '#publish', `#subscriptions li[data-channel="${channel}"] button`]) {
      const box = await page.locator(control).boundingBox();
      expect(box, control).not.toBeNull();
      expect(box!.x, control).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width, control).toBeLessThanOrEqual(PHONE_WIDTH);
      expect(box!.height, control).toBeGreaterThanOrEqual(24);
    }
    await shot(page, 'phone-390');
    expect(pages.problems(page)).toEqual([]);
    await page.close();
  }, 60_000);

  // Last: it restarts worker 0, which the shared tabs use.
  it('publishing is off while the worker is down and on again once it is back', async () => {
    const { a, b, channel } = await twoTabs();
    const port = cluster.workers[0]!.port;
    await a.bringToFront();
    await a.fill('#channel', channel);
    const restart = cluster.restartWorker(0);
    await a.locator('#status[data-state="disconnected"]').waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await a.isDisabled('#publish')).toBe(true);
    expect(await a.textContent('#status-detail')).toMatch(/^Last (close|try): code 10(12|06) /);
    // Enter in the message field cannot send either (a form with a disabled default button does not submit).
    const whileDown = `typed while the worker was down ${Date.now()}`;
    await a.fill('#text', whileDown);
    await a.press('#text', 'Enter');
    await shot(a, 'disconnected');

    await restart;
    await connected(a);
    expect(await a.isDisabled('#publish')).toBe(false);
    expect(cluster.workers[0]!.port).toBe(port);
    await entry(a, channel).locator('.state', { hasText: /^subscribed$/ }).waitFor({ timeout: UI_TIMEOUT_MS });
    await prime(a, b, channel);
    const back = `after the restart ${Date.now()}`;
    await publishAcked(a, channel, back);
    await arrives(b, back);
    expect(await b.locator('#messages li', { hasText: back }).getAttribute('data-published-on')).toBe(String(port));
    // Had the page queued a publish while down, the client would have sent it on reconnect, before these.
    expect(await received(b)).not.toContain(whileDown);
    await shot(a, 'reconnected');
  }, 90_000);
});
