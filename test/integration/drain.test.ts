/**
 * Graceful drain on SIGTERM. A broker leaves the cluster, keeps relaying while the workers move its
 * channels away, and exits 0 by itself once no subscription is left (or at SCC_DRAIN_TIMEOUT). A
 * worker closes its clients with 1012 "Service Restart", leaves, and exits 0. A second signal
 * forces the exit.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { connect, disconnectAll, type Client } from '../../harness/clients.js';
import { scrape } from '../helpers/metrics.js';
import { LogEvent } from '@scc-ts/shared';
import {
  startBroker,
  startState,
  startSubscribedCluster,
  startWorker,
  stopAll,
  waitForBrokerCount,
  waitReady,
  type ServiceProcess,
} from '../helpers/processes.js';

afterAll(async () => {
  disconnectAll();
  await stopAll();
});

/** Waits for the process to exit on its own (no further signal); rejects after `timeoutMs`. */
async function exitedWithin(service: ServiceProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      service.exited,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${service.name} did not exit within ${timeoutMs} ms`)), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Subscribes a client straight to a broker, as a worker's pool client would be. */
async function brokerPeer(port: number, channel: string): Promise<Client> {
  const peer = await connect(port, { authKey: 'null', poolIndex: '0' });
  const stream = peer.subscribe(channel);
  await stream.listener('subscribe').once(5000);
  return peer;
}

const CLOSE_EVENT = (client: Client) => client.listener('disconnect').once(10_000) as Promise<{ code: number; reason?: string }>;

describe('broker drain', () => {
  it('leaves, relays while workers reshard away, and exits 0 by itself once no subscription is left', async () => {
    const channels = Array.from({ length: 24 }, (_, i) => `drain-${i}`);
    const drainTimeoutMs = 10_000;
    const { cluster, publisher, collector } = await startSubscribedCluster(channels, {
      brokers: 3,
      workers: 2,
      brokerEnv: { SCC_DRAIN_TIMEOUT: String(drainTimeoutMs) },
    });
    // The victim: the broker the state server's view says owns the most channels.
    const owners = new Map<string, number>();
    for (const c of channels) {
      const res = await fetch(`http://127.0.0.1:${cluster.state.port}/cluster.json?channel=${c}`);
      const owner = ((await res.json()) as { channel: { broker: string } }).channel.broker;
      owners.set(owner, (owners.get(owner) ?? 0) + 1);
    }
    const [victimURI, owned] = [...owners].sort((a, b) => b[1] - a[1])[0]!;
    const victim = cluster.brokers.find((b) => `ws://127.0.0.1:${b.port}` === victimURI)!;
    expect(owned).toBeGreaterThan(0);
    collector.clear();

    // Publishers at a steady rate (one message every 5 ms, round robin over the channels).
    const sent: Array<{ id: string; channel: string; at: number }> = [];
    let publishing = true;
    const loop = (async () => {
      for (let seq = 0; publishing && seq < 10_000; seq++) {
        const channel = channels[seq % channels.length]!;
        const id = `s-${seq}`;
        const at = Date.now();
        // Only what worker A acknowledged counts as sent.
        await publisher.invokePublish(channel, { id }).then(
          () => sent.push({ id, channel, at }),
          () => undefined,
        );
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const received = () => channels.reduce((n, c) => n + collector.messages('B', c).length, 0);
    await collector.until(() => received() >= 40, 10_000, 'steady traffic');

    const marks = cluster.workers.map((w) => w.logs.length);
    const stateMark = cluster.state.logs.length;
    const signalledAt = Date.now();
    process.kill(victim.pid, 'SIGTERM');
    const exit = await exitedWithin(victim, drainTimeoutMs + 5_000);
    const exitedAt = Date.now();
    const tookMs = exitedAt - signalledAt;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(tookMs).toBeLessThan(drainTimeoutMs);
    const started = await victim.waitForEvent(LogEvent.DrainStarted, {}, 1000);
    expect(started['channels']).toBe(owned);
    await victim.waitForEvent(LogEvent.DrainFinished, { outcome: 'drained', subscriptionsLeft: 0 }, 1000);
    await cluster.state.waitForEvent(LogEvent.MemberLeft, { instanceType: 'scc-broker', how: 'announced' }, 1000, stateMark);
    await Promise.all(cluster.workers.map((w, i) => waitForBrokerCount(w, 2, marks[i])));

    // Traffic kept flowing during the drain and after it.
    const afterExit = received();
    await collector.until(() => received() >= afterExit + 40, 10_000, 'traffic after the drain');
    publishing = false;
    await loop;
    const during = sent.filter((m) => m.at >= signalledAt && m.at <= exitedAt).map((m) => m.id);
    const got = new Set(channels.flatMap((c) => collector.messages('B', c).map((m) => m.id)));
    expect(during.length).toBeGreaterThan(0);
    expect(during.some((id) => got.has(id))).toBe(true);
    // Every channel delivers through the remaining brokers.
    for (const c of channels) await publisher.invokePublish(c, { id: `final-${c}` });
    await collector.until(() => channels.every((c) => collector.messages('B', c).some((m) => m.id === `final-${c}`)), 10_000, 'a final message on every channel');

    // Lossless: the handover moved every channel before the broker let go of it.
    const delivered = new Set(channels.flatMap((c) => collector.messages('B', c).map((m) => m.id)));
    const lost = sent.filter((m) => !delivered.has(m.id));
    const steady = channels.flatMap((c) => collector.messages('B', c)).filter((m) => m.id.startsWith('s-'));
    console.log(
      JSON.stringify({
        brokerDrain: { drainMs: tookMs, channelsMoved: owned, sent: sent.length, sentDuringDrain: during.length, lost: lost.length, lostIds: lost.slice(0, 10).map((m) => m.id), duplicates: steady.length - new Set(steady.map((m) => m.id)).size },
      }),
    );
    expect(lost.map((m) => m.id)).toEqual([]);
    expect(steady.length).toBe(new Set(steady.map((m) => m.id)).size);
  });

  it('answers /ready 503 while draining, exits 0 at SCC_DRAIN_TIMEOUT with subscribers left, closing them with 1012', async () => {
    const state = await startState();
    const broker = await startBroker(state.port, { SCC_DRAIN_TIMEOUT: '1500' });
    await broker.waitForEvent(LogEvent.Joined);
    await waitReady(broker.port);
    // A peer that never moves away (no state server push reaches it).
    const peer = await brokerPeer(broker.port, 'stuck');
    const closed = CLOSE_EVENT(peer);
    const signalledAt = Date.now();
    process.kill(broker.pid, 'SIGTERM');
    await broker.waitForEvent(LogEvent.DrainStarted, {}, 5000);
    const ready = await fetch(`http://127.0.0.1:${broker.port}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, detail: 'draining' });
    expect((await scrape(broker.port)).value('scc_draining')).toBe(1);
    await state.waitForEvent(LogEvent.MemberLeft, { instanceType: 'scc-broker', how: 'announced' }, 5000);
    expect(await exitedWithin(broker, 8000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(1400);
    await broker.waitForEvent(LogEvent.DrainFinished, { outcome: 'timeout', subscriptionsLeft: 1 }, 1000);
    expect(await closed).toMatchObject({ code: 1012 });
  });

  it('exits at once, with code 1, on a second SIGTERM during the drain', async () => {
    const state = await startState();
    const broker = await startBroker(state.port, { SCC_DRAIN_TIMEOUT: '60000' });
    await broker.waitForEvent(LogEvent.Joined);
    await brokerPeer(broker.port, 'stuck');
    process.kill(broker.pid, 'SIGTERM');
    await broker.waitForEvent(LogEvent.DrainStarted, {}, 5000);
    const secondAt = Date.now();
    process.kill(broker.pid, 'SIGTERM');
    expect(await exitedWithin(broker, 5000)).toEqual({ code: 1, signal: null });
    expect(Date.now() - secondAt).toBeLessThan(5000);
    expect(broker.stderr.join('\n')).toMatch(/SIGTERM again, exiting now/);
  });
});

describe('worker drain', () => {
  it('closes client sockets with 1012, leaves the cluster, drops its broker subscriptions and exits 0', async () => {
    const state = await startState();
    const broker = await startBroker(state.port);
    await broker.waitForEvent(LogEvent.Joined);
    const worker = await startWorker(state.port);
    await waitReady(worker.port);
    const clients = [await connect(worker.port), await connect(worker.port)];
    const stream = clients[0]!.subscribe('leaving');
    await stream.listener('subscribe').once(5000);
    const upstream = async () => (await scrape(broker.port)).value('scc_broker_subscriptions');
    for (let i = 0; i < 200 && (await upstream()) !== 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await upstream()).toBe(1);

    const closes = clients.map(CLOSE_EVENT);
    process.kill(worker.pid, 'SIGTERM');
    expect(await exitedWithin(worker, 10_000), worker.stderr.join('\n')).toEqual({ code: 0, signal: null });
    for (const close of await Promise.all(closes)) expect(close).toEqual({ code: 1012, reason: 'scc-worker shutting down' });
    const started = await worker.waitForEvent(LogEvent.DrainStarted, {}, 1000);
    expect(started['clients']).toBe(2);
    // Its message names the close code clients got (for people; the fields are the contract).
    expect(started.msg).toMatch(/closing 2 client sockets with code 1012/);
    await worker.waitForEvent(LogEvent.DrainFinished, { left: true }, 1000);
    await state.waitForEvent(LogEvent.MemberLeft, { instanceType: 'scc-worker', how: 'announced' }, 5000);
    for (let i = 0; i < 200 && (await upstream()) !== 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await upstream()).toBe(0);
    // No longer accepting: the port is closed.
    await expect(fetch(`http://127.0.0.1:${worker.port}/health-check`)).rejects.toThrow();
  });
});
