/**
 * `updateBrokers` (the ClusterClient event scc-broker-client users listen to) fires once per
 * distinct broker list: a join reply and the push after it often carry the same list, and an app
 * that rebuilds something on each event should not do it twice for nothing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { attach, type ReshardSummary } from '@scc-ts/scc-worker';
import { LogEvent } from '@scc-ts/shared';
import { startBroker, startState, startWorker, stopAll, waitReady } from '../helpers/processes.js';
import { inProcessOptions, plainServer } from '../helpers/in-process.js';
import { Waiters } from '../../harness/waiters.js';

const closers: Array<() => Promise<void> | void> = [];
/** Bound on each wait for a list to arrive, ms. */
const WAIT_MS = 15_000;

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await stopAll();
});

describe('updateBrokers', () => {
  it('fires once per distinct broker list, though the list is applied again', async () => {
    const state = await startState();
    const first = await startBroker(state.port);
    await first.waitForEvent(LogEvent.Joined);

    const { agServer, httpServer, port } = await plainServer();
    const cluster = attach(agServer, inProcessOptions(state.port, port));
    closers.push(async () => {
      await cluster.close();
      agServer.close();
      httpServer.close();
    });
    const updates: string[][] = [];
    const applied: ReshardSummary[] = [];
    const changed = new Waiters();
    cluster.on('updateBrokers', ({ brokerURIs }) => {
      updates.push([...brokerURIs].sort());
      changed.notify();
    });
    cluster.on('reshard', (summary) => {
      applied.push(summary);
      changed.notify();
    });
    const until = async (what: string, predicate: () => boolean): Promise<void> => {
      if (!(await changed.until(predicate, WAIT_MS))) throw new Error(`${what} within ${WAIT_MS} ms; updates ${JSON.stringify(updates)}, ${applied.length} lists applied`);
    };

    // A second worker joining makes the state server push the (same) broker list again.
    await until('the join reply', () => applied.length >= 1);
    const other = await startWorker(state.port);
    await waitReady(other.port);
    await until('the repeated list', () => applied.length >= 2);
    const one = [`ws://127.0.0.1:${first.port}`];
    expect(applied.every((summary) => summary.brokers === 1)).toBe(true);
    expect(updates).toEqual([one]);

    // A new broker is a new list: exactly one more event.
    const second = await startBroker(state.port);
    const two = [`ws://127.0.0.1:${first.port}`, `ws://127.0.0.1:${second.port}`].sort();
    await until('the list with the second broker', () => updates.length >= 2);
    await until('the list applied', () => applied.some((summary) => summary.brokers === 2));
    expect(updates).toEqual([one, two]);
  });
});
