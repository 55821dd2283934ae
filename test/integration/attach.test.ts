/**
 * The plugin on its own: an app's own socketcluster-server, in this process, joins a cluster of
 * real state/broker/worker processes with `attach(agServer, options)`. A server built with
 * `workerServerOptions()` has the worker's hardening and limits (a publish to `toString` is refused
 * with InvalidChannelError, as `node server` refuses it); attach() warns once on a server without them.
 */
import { createServer } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import socketClusterServer from 'socketcluster-server';
import { ConfigError, DEFAULT_WORKER_MAX_PAYLOAD_BYTES, DEFAULT_WORKER_SOCKET_CHANNEL_LIMIT, LogEvent } from '@scc-ts/shared';
import { attach, UNHARDENED_SERVER_WARNING, workerServerOptions } from '@scc-ts/scc-worker';
import { Collector, connect, disconnectAll, primeChannels, waitUntil } from '../../harness/clients.js';
import { RawSocket, scUrl } from '../../harness/raw.js';
import { captureLog } from '../../packages/scc-worker/test/log-capture.js';
import { startBroker, startState, startWorker, stopAll, waitReady } from '../helpers/processes.js';
import { inProcessOptions, plainServer } from '../helpers/in-process.js';

const closers: Array<() => Promise<void> | void> = [];

afterAll(async () => {
  disconnectAll();
  for (const close of closers.reverse()) await close();
  await stopAll();
});

describe('attach(agServer, options)', () => {
  it('rejects invalid options with one ConfigError naming each', () => {
    const httpServer = createServer();
    const agServer = socketClusterServer.attach(httpServer);
    expect(() => attach(agServer, { stateServerHost: '', instancePort: 0, clientPoolSize: 0 })).toThrow(ConfigError);
    try {
      attach(agServer, { stateServerHost: '', instancePort: 0, clientPoolSize: 0 });
    } catch (error) {
      expect((error as ConfigError).problems.join('\n')).toMatch(/stateServerHost[\s\S]*instancePort[\s\S]*clientPoolSize/);
    }
    agServer.close();
  });

  it('makes an existing socketcluster-server a worker of the cluster', async () => {
    const state = await startState();
    const broker = await startBroker(state.port);
    await broker.waitForEvent(LogEvent.Joined);
    const other = await startWorker(state.port);
    await waitReady(other.port);

    const { agServer, httpServer, port } = await plainServer();
    const cluster = attach(agServer, inProcessOptions(state.port, port));
    closers.push(async () => {
      await cluster.close();
      await cluster.close(); // safe twice
      agServer.close();
      httpServer.close();
    });
    const updated = new Promise((resolve) => cluster.once('updateBrokers', resolve));
    await updated;
    expect(cluster.brokerURIs()).toEqual([`ws://127.0.0.1:${broker.port}`]);
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 5000;
      const poll = (): void => (cluster.readiness().ready ? resolve() : Date.now() > deadline ? reject(new Error('not ready')) : void setTimeout(poll, 20));
      poll();
    });

    // Messages flow both ways between the in-process server and the worker process.
    const collector = new Collector();
    await collector.subscribe('inproc', await connect(port), 'shared');
    await collector.subscribe('proc', await connect(other.port), 'shared');
    const fromInproc = await connect(port);
    const fromProc = await connect(other.port);
    await primeChannels(fromInproc, collector, ['proc'], ['shared']);
    await primeChannels(fromProc, collector, ['inproc'], ['shared']);
    await fromInproc.invokePublish('shared', { id: 'in' });
    await fromProc.invokePublish('shared', { id: 'out' });
    await collector.until(() => collector.messages('proc', 'shared').length === 2 && collector.messages('inproc', 'shared').length === 2);
    expect(collector.messages('proc', 'shared').map((m) => m.id).sort()).toEqual(['in', 'out']);
    expect(collector.messages('inproc', 'shared').map((m) => m.id).sort()).toEqual(['in', 'out']);
    expect(cluster.stats.publishFailures).toBe(0);
    expect(cluster.stats.messagesDelivered).toBeGreaterThanOrEqual(1);
  });
});

describe('workerServerOptions()', () => {
  it('gives the worker defaults and refuses bad choices with one ConfigError naming each', () => {
    const options = workerServerOptions();
    expect(options.maxPayload).toBe(DEFAULT_WORKER_MAX_PAYLOAD_BYTES);
    const chosen = workerServerOptions({ limits: { maxPayloadBytes: 4096, socketChannelLimit: null } });
    expect(chosen.maxPayload).toBe(4096);
    // socketcluster-server reads a falsy limit as none.
    expect(chosen.socketChannelLimit).toBeFalsy();
    expect(workerServerOptions().socketChannelLimit).toBe(DEFAULT_WORKER_SOCKET_CHANNEL_LIMIT);
    options.wsEngine.close();
    expect(() => workerServerOptions({ limits: { maxConnections: 0, maxPayloadBytes: -1 } })).toThrow(ConfigError);
    try {
      workerServerOptions({ limits: { maxConnections: 0, maxPayloadBytes: -1 }, batchFrames: 'yes' as unknown as boolean });
    } catch (error) {
      expect((error as ConfigError).problems.join('\n')).toMatch(/limits\.maxPayloadBytes[\s\S]*limits\.maxConnections[\s\S]*batchFrames/);
    }
  });

  it('with heartbeat, switches socketcluster-server\'s own pings off and carries the settings; a bad one is refused by name', () => {
    expect(workerServerOptions().pingTimeoutDisabled).toBeUndefined();
    const beating = workerServerOptions({ heartbeat: { pingInterval: 1000, pingTimeout: 3000 } });
    expect(beating).toMatchObject({ pingTimeoutDisabled: true, pingInterval: 1000, pingTimeout: 3000, protocolVersion: 2 });
    beating.wsEngine.close();
    const defaults = workerServerOptions({ heartbeat: true });
    expect(defaults).toMatchObject({ pingTimeoutDisabled: true, pingInterval: 8000, pingTimeout: 30000 });
    defaults.wsEngine.close();
    let problems = '';
    try {
      workerServerOptions({ heartbeat: { pingInterval: 5000, pingTimeout: 5000, pingTimeoutDisabled: true } as never });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems.join('\n');
    }
    expect(problems).toMatch(/heartbeat\.pingTimeoutDisabled is not a ping setting[\s\S]*heartbeat\.pingTimeout=5000: must be longer than pingInterval/);
  });

  it("an attach() app built with it refuses a publish to 'toString' with InvalidChannelError; attach() warns only on a server without it", async () => {
    const state = await startState();
    const broker = await startBroker(state.port);
    await broker.waitForEvent(LogEvent.Joined);

    const hardenedLog = captureLog();
    const hardened = await plainServer(workerServerOptions({ logger: hardenedLog.logger }));
    const cluster = attach(hardened.agServer, inProcessOptions(state.port, hardened.port, { logger: hardenedLog.logger }));
    const plainLog = captureLog();
    const plain = await plainServer();
    const plainCluster = attach(plain.agServer, inProcessOptions(state.port, plain.port, { logger: plainLog.logger }));
    closers.push(async () => {
      await cluster.close();
      await plainCluster.close();
      for (const s of [hardened, plain]) {
        s.agServer.close();
        s.httpServer.close();
      }
    });
    expect(hardenedLog.warnings()).toEqual([]);
    expect(plainLog.warnings()).toEqual([UNHARDENED_SERVER_WARNING]);

    const warnings: Error[] = [];
    void (async () => {
      for await (const { warning } of hardened.agServer.listener('warning')) warnings.push(warning);
    })();
    const raw = new RawSocket(scUrl(hardened.port));
    closers.push(() => raw.close());
    expect(await raw.handshake()).toEqual({ kind: 'replied' });
    const refused = raw.invoke('#publish', { channel: 'toString', data: 1 });
    expect((await raw.probe(5000)).kind).toBe('error');
    expect(raw.replies.has(refused)).toBe(false);
    expect(raw.open).toBe(true);
    await waitUntil(() => warnings.some((w) => w.name === 'InvalidChannelError'), 5000, 'the InvalidChannelError warning');
    expect(warnings.find((w) => w.name === 'InvalidChannelError')?.message).toMatch(/channel name "toString" is refused/);
    // The plain server (what attach() users had before) accepts and acknowledges the same publish.
    const rawPlain = new RawSocket(scUrl(plain.port));
    closers.push(() => rawPlain.close());
    expect(await rawPlain.handshake()).toEqual({ kind: 'replied' });
    expect(await rawPlain.outcome(rawPlain.invoke('#publish', { channel: 'toString', data: 1 }), 5000)).toEqual({ kind: 'replied' });
  });
});
