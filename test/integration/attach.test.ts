/**
 * The plugin on its own: an app's own socketcluster-server, in this process, joins a cluster of
 * real state/broker/worker processes with `attach(agServer, options)`.
 */
import { createServer } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import socketClusterServer from 'socketcluster-server';
import { ConfigError, LogEvent } from '@scc-ts/shared';
import { attach } from '@scc-ts/scc-worker';
import { Collector, connect, disconnectAll, primeChannels } from '../../harness/clients.js';
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
