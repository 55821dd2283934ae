/** endConsumer ends a listener consumer even when an event has just woken its pending next(). */
import { createServer } from 'node:http';
import socketClusterServer from 'socketcluster-server';
import { describe, expect, it } from 'vitest';
import { endConsumer } from '../src/consumer.js';

describe('endConsumer', () => {
  it('lets a next() that an event already woke finish instead of throwing', async () => {
    const agServer = socketClusterServer.attach(createServer());
    const engine = agServer.brokerEngine;
    const consumer = engine.listener('unsubscribe').createConsumer();
    const pending = consumer.next();
    // The event resolves the pending next(); its continuation runs only after this tick, as in a
    // worker that closes right after its clients disconnected.
    engine.emit('unsubscribe', { channel: 'a' });
    endConsumer(consumer);
    await expect(pending).resolves.toMatchObject({ done: true });
    agServer.close();
  });

  it('ends an idle consumer: its pending next() resolves done', async () => {
    const agServer = socketClusterServer.attach(createServer());
    const consumer = agServer.brokerEngine.listener('publish').createConsumer();
    const pending = consumer.next();
    endConsumer(consumer);
    await expect(pending).resolves.toMatchObject({ done: true });
    agServer.close();
  });
});
