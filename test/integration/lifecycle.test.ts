/** Process lifecycle: clean exits on SIGINT/SIGTERM, leave announcements, standalone mode, the demo page. */
import { afterAll, describe, expect, it } from 'vitest';
import { Collector, connect, disconnectAll } from '../../harness/clients.js';
import { startBroker, startState, startWorker, stopAll, waitReady } from '../helpers/processes.js';
import { LogEvent } from '@scc-ts/shared';

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

describe('signals', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} closes every service cleanly (exit 0) and peers leave the cluster by announcement`, async () => {
      const state = await startState();
      const broker = await startBroker(state.port);
      await broker.waitForEvent(LogEvent.Joined);
      const worker = await startWorker(state.port);
      await waitReady(worker.port);

      expect(await worker.stop(signal)).toEqual({ code: 0, signal: null });
      await state.waitForEvent(LogEvent.MemberLeft, { instanceType: 'scc-worker', how: 'announced' });
      expect(await broker.stop(signal)).toEqual({ code: 0, signal: null });
      await state.waitForEvent(LogEvent.MemberLeft, { instanceType: 'scc-broker', how: 'announced' });
      expect(await state.stop(signal)).toEqual({ code: 0, signal: null });
      for (const p of [worker, broker, state]) expect(p.logs.some((l) => /shutting down/.test(l.msg)), p.name).toBe(true);
    });
  }
});

describe('standalone worker', () => {
  it('serves pub/sub, health and the demo page without a state server', async () => {
    const worker = await startWorker(null);
    expect(worker.logs.some((l) => /standalone mode/.test(l.msg))).toBe(true);
    await waitReady(worker.port);
    expect(await (await fetch(`http://127.0.0.1:${worker.port}/health-check`)).text()).toBe('OK');

    const page = await fetch(`http://127.0.0.1:${worker.port}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toMatch(/SCC pub\/sub demo/);
    const bundle = await fetch(`http://127.0.0.1:${worker.port}/socketcluster-client.min.js`);
    expect(bundle.status).toBe(200);
    const code = await bundle.text();
    expect(code.length).toBeGreaterThan(10_000);
    // The browser build is an ES module exporting `create`: the page must import it as one (a plain
    // <script> tag leaves the page unable to connect).
    expect(code).toMatch(/export\s*\{[^}]*\bas create\b/);
    expect(html).toMatch(/<script type="module">[\s\S]*import \{ create \} from '\/socketcluster-client\.min\.js'/);
    expect((await fetch(`http://127.0.0.1:${worker.port}/nope`)).status).toBe(404);

    const collector = new Collector();
    const client = await connect(worker.port);
    await collector.subscribe('local', client, 'solo');
    await client.invokePublish('solo', { id: 'one' });
    await collector.until(() => collector.messages('local', 'solo').length === 1);
    expect(collector.messages('local', 'solo').map((m) => m.id)).toEqual(['one']);
  });
});
