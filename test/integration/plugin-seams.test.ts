/**
 * The plugin leaves a user's server as it found it: attach() on a plain socketcluster-server, in
 * this process, with clients subscribing and publishing across a real cluster, changes no method
 * of socketcluster-server's socket prototype or of the server's broker engine (function identities
 * compared before and after). Subscribe acknowledgements are held by an inbound middleware gate; a
 * server with middleware of its own is refused with a ConfigError naming `holdSubscribeAcks` and
 * can await `cluster.subscriptionReady()` itself; a channel the gate subscribed upstream whose local
 * subscription then failed does not stay subscribed upstream. `harden()` on such a server refuses
 * a `constructor` channel with a named error.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import socketClusterServer from 'socketcluster-server';
import { ConfigError, LogEvent, harden, type AGServer } from '@scc-ts/shared';
import { attach, type ClusterClient, type ClusterOptions } from '@scc-ts/scc-worker';
import { Collector, connect, disconnectAll, primeChannels, waitUntil } from '../../harness/clients.js';
import { RawSocket, scUrl } from '../../harness/raw.js';
import { startBroker, startState, startWorker, stopAll, waitReady, type ServiceProcess } from '../helpers/processes.js';
import { inProcessOptions, plainServer } from '../helpers/in-process.js';

let state: ServiceProcess;
let broker: ServiceProcess;
let other: ServiceProcess;
const closers: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  state = await startState();
  broker = await startBroker(state.port);
  await broker.waitForEvent(LogEvent.Joined);
  other = await startWorker(state.port);
  await waitReady(other.port);
});

afterAll(async () => {
  disconnectAll();
  for (const close of closers.splice(0).reverse()) await close();
  await stopAll();
});

/** Every function reachable as a property of `object` and its prototype chain (Object.prototype excluded), by name. */
function methods(object: object): Map<string, unknown> {
  const found = new Map<string, unknown>();
  for (let proto: object | null = object; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const key of Reflect.ownKeys(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, key);
      const label = `${proto === object ? 'own' : 'proto'}:${String(key)}`;
      if (descriptor && typeof descriptor.value === 'function' && !found.has(label)) found.set(label, descriptor.value);
    }
  }
  return found;
}

/** Same names, each the very same function. */
function expectSameMethods(after: Map<string, unknown>, before: Map<string, unknown>): void {
  expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
  for (const [name, fn] of before) expect(after.get(name), name).toBe(fn);
}

async function joined(agServer: AGServer, httpServer: Server, port: number, extra: Partial<ClusterOptions> = {}): Promise<ClusterClient> {
  const cluster = attach(agServer, inProcessOptions(state.port, port, extra));
  closers.push(async () => {
    await cluster.close();
    agServer.close();
    httpServer.close();
  });
  await waitUntil(() => cluster.readiness().ready, 10_000, 'the in-process worker to be ready');
  return cluster;
}

describe('the plugin on a user server', () => {
  it('changes no method of AGServerSocket.prototype or of the broker engine, and holds subscribe acks until the cluster hears the channel', async () => {
    const socketPrototype = methods(socketClusterServer.AGServerSocket.prototype);
    const { agServer, httpServer, port } = await plainServer();
    const engineBefore = methods(agServer.brokerEngine);
    expect(engineBefore.size).toBeGreaterThan(5);
    expect(socketPrototype.size).toBeGreaterThan(20);

    const cluster = await joined(agServer, httpServer, port);
    const collector = new Collector();
    // Acknowledged only once the brokers have it: a publish on the other worker right after the
    // ack is heard (no priming needed for this one).
    await collector.subscribe('inproc', await connect(port), 'seams');
    const publisher = await connect(other.port);
    await publisher.invokePublish('seams', { id: 'first' });
    await collector.until(() => collector.messages('inproc', 'seams').length === 1, 5000, 'the first message');
    await collector.subscribe('proc', await connect(other.port), 'seams');
    const local = await connect(port);
    await primeChannels(local, collector, ['proc'], ['seams']);
    await local.invokePublish('seams', { id: 'back' });
    await collector.until(() => collector.messages('proc', 'seams').some((m) => m.id === 'back'), 5000, 'a message from the in-process worker');

    expectSameMethods(methods(socketClusterServer.AGServerSocket.prototype), socketPrototype);
    expectSameMethods(methods(agServer.brokerEngine), engineBefore);
    expect(agServer.hasMiddleware(agServer.MIDDLEWARE_INBOUND)).toBe(true);
    await cluster.close();
    // close() takes the gate away again.
    expect(agServer.hasMiddleware(agServer.MIDDLEWARE_INBOUND)).toBe(false);
    expectSameMethods(methods(socketClusterServer.AGServerSocket.prototype), socketPrototype);
    expectSameMethods(methods(agServer.brokerEngine), engineBefore);
  });

  it('harden() on the user server refuses a constructor channel with InvalidChannelError and keeps serving', async () => {
    const { agServer, httpServer, port } = await plainServer();
    const codecBefore = methods(socketClusterServer.AGServerSocket.prototype);
    harden(agServer);
    await joined(agServer, httpServer, port);
    const warnings: Error[] = [];
    void (async () => {
      for await (const { warning } of agServer.listener('warning')) warnings.push(warning);
    })();
    const raw = new RawSocket(scUrl(port));
    closers.push(() => raw.close());
    expect(await raw.handshake()).toEqual({ kind: 'replied' });
    const refused = raw.invoke('#subscribe', { channel: 'constructor' });
    expect((await raw.probe(5000)).kind).toBe('error');
    expect(raw.replies.has(refused)).toBe(false);
    expect(raw.open).toBe(true);
    await waitUntil(() => warnings.some((w) => w.name === 'InvalidChannelError'), 5000, 'the InvalidChannelError warning');
    expect(warnings.find((w) => w.name === 'InvalidChannelError')?.message).toMatch(/channel name "constructor" is refused/);
    // (Own keys only: isSubscribed('constructor') itself would find the inherited constructor.)
    expect(agServer.brokerEngine.subscriptions()).not.toContain('constructor');
    expectSameMethods(methods(socketClusterServer.AGServerSocket.prototype), codecBefore);
    // Well-behaved traffic still flows.
    const collector = new Collector();
    await collector.subscribe('c', await connect(port), 'after-harden');
    const publisher = await connect(other.port);
    await publisher.invokePublish('after-harden', { id: 'ok' });
    await collector.until(() => collector.messages('c', 'after-harden').length === 1, 5000, 'a message after the refusal');
  });

  it('a channel whose local subscription fails after the gate subscribed it upstream does not stay subscribed upstream', async () => {
    const { agServer, httpServer, port } = await plainServer({ socketChannelLimit: 1 });
    // One pool connection and no batching: what this worker sends and hears keeps its order.
    const cluster = await joined(agServer, httpServer, port, { clientPoolSize: 1, pubSubBatchDuration: null });
    const client = await connect(port);
    await client.subscribe('kept').listener('subscribe').once(5000);
    const failed = client.subscribe('over-limit');
    const failure = (await failed.listener('subscribeFail').once(5000)) as { error: Error };
    expect(failure.error.message).toMatch(/channel subscription limit of 1/);
    // This worker's own packets come back from the broker on channels it is subscribed to
    // upstream (and are counted in packetsIn): 'over-limit' must not come back, 'kept' must.
    const before = cluster.stats.packetsIn;
    await agServer.exchange.invokePublish('over-limit', { id: 'x' });
    await agServer.exchange.invokePublish('kept', { id: 'y' });
    await waitUntil(() => cluster.stats.packetsIn > before, 5000, "the 'kept' packet back from the broker");
    // Same connection, same order: had 'over-limit' stayed upstream, it would have come first.
    expect(cluster.stats.packetsIn).toBe(before + 1);
  });

  it('refuses a server with inbound middleware of its own with a ConfigError naming holdSubscribeAcks; with it off, the middleware awaits subscriptionReady', async () => {
    const { agServer, httpServer, port } = await plainServer();
    let cluster: ClusterClient | undefined;
    agServer.setMiddleware(agServer.MIDDLEWARE_INBOUND, async (stream) => {
      for await (const action of stream) {
        if (action.type === action.SUBSCRIBE && cluster && action.channel !== undefined) {
          await cluster.subscriptionReady(action.channel);
        }
        action.allow();
      }
    });
    const options = inProcessOptions(state.port, port);
    expect(() => attach(agServer, options)).toThrow(ConfigError);
    try {
      attach(agServer, options);
    } catch (error) {
      expect((error as ConfigError).problems.join('\n')).toMatch(/holdSubscribeAcks: the server already has MIDDLEWARE_INBOUND middleware/);
    }
    cluster = await joined(agServer, httpServer, port, { holdSubscribeAcks: false });
    const collector = new Collector();
    await collector.subscribe('own', await connect(port), 'own-middleware');
    const publisher = await connect(other.port);
    await publisher.invokePublish('own-middleware', { id: 'heard' });
    await collector.until(() => collector.messages('own', 'own-middleware').length === 1, 5000, 'a message through the user middleware');
  });

  it('the worker server holds subscribe acks in its own broker engine until the broker has the channel', async () => {
    const second = await startWorker(state.port);
    await waitReady(second.port);
    const client = await connect(second.port);
    // A stopped broker cannot acknowledge: the client's subscription must stay unconfirmed.
    broker.child.kill('SIGSTOP');
    let acked = false;
    try {
      const channel = client.subscribe('held');
      void channel.listener('subscribe').once(10_000).then(() => (acked = true));
      // An absence over a window (a local subscribe is acknowledged within milliseconds).
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(acked).toBe(false);
    } finally {
      broker.child.kill('SIGCONT');
    }
    await waitUntil(() => acked, 5000, 'the acknowledgement once the broker runs again');
    const collector = new Collector();
    await collector.subscribe('second', client, 'held-after');
    const publisher = await connect(other.port);
    await publisher.invokePublish('held-after', { id: 'first' });
    await collector.until(() => collector.messages('second', 'held-after').length === 1, 5000, 'the first message after the ack');
  });
});
