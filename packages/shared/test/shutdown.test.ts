/** closedWithin: a server's close waits for its connections, and drops those still open after the grace. */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { activeResourcesSummary, closedWithin, trackConnections } from '../src/shutdown.js';

/** A short grace: the tests wait on events, this only bounds how long a silent peer is given. */
const GRACE_MS = 50;

const servers: Server[] = [];
const clients: Socket[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers.splice(0)) if (s.listening) s.close();
});

async function serverWithClient(): Promise<{ server: Server; client: Socket; tracker: ReturnType<typeof trackConnections> }> {
  const server = createServer();
  servers.push(server);
  const tracker = trackConnections(server);
  const accepted = new Promise<void>((resolve) => server.once('connection', () => resolve()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  const client = connect(address.port, '127.0.0.1');
  clients.push(client);
  await accepted;
  return { server, client, tracker };
}

const closeOf = (server: Server): Promise<void> => new Promise<void>((resolve) => server.close(() => resolve()));

describe('closedWithin', () => {
  it('drops a connection whose peer stays silent, and the server closes', async () => {
    const { server, client, tracker } = await serverWithClient();
    expect(tracker.open).toBe(1);
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.on('error', () => {});
    expect(await closedWithin(closeOf(server), tracker, GRACE_MS)).toBe(1);
    await clientClosed;
    expect(server.listening).toBe(false);
  });

  it('drops nothing when the peer closes within the grace', async () => {
    const { server, client, tracker } = await serverWithClient();
    const closed = closeOf(server);
    client.end();
    expect(await closedWithin(closed, tracker, 10_000)).toBe(0);
  });

  it('names what keeps the event loop alive', () => {
    expect(activeResourcesSummary()).toMatch(/^(nothing|\w+ ×\d+(, \w+ ×\d+)*)$/);
  });
});
