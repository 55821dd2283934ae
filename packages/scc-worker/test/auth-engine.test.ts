/**
 * The worker's auth engine against socketcluster-server's own, with real socketcluster-clients: the
 * same handshakes (no token, an empty one, a bad one, a valid one) end the same way on both — the
 * same authentication state, the same errors by name and message on both sides.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import socketClusterServer from 'socketcluster-server';
import socketClusterClient from 'socketcluster-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { AGServer } from '@scc-ts/shared';
import { skipAbsentTokens } from '../src/auth-engine.js';

const AUTH_KEY = 'test-signing-key';
const servers: Array<{ httpServer: Server; agServer: AGServer }> = [];
afterEach(async () => {
  for (const { httpServer, agServer } of servers.splice(0)) {
    agServer.close();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  }
});

async function start(fast: boolean): Promise<{ agServer: AGServer; port: number; serverErrors: string[] }> {
  const httpServer = createServer();
  const agServer = socketClusterServer.attach(httpServer, { authKey: AUTH_KEY }) as AGServer;
  if (fast) agServer.setAuthEngine(skipAbsentTokens(agServer.auth));
  const serverErrors: string[] = [];
  void (async () => {
    for await (const { socket } of agServer.listener('connection')) {
      void (async () => {
        for await (const { error } of socket.listener('error')) serverErrors.push(`${error.name}: ${error.message}`);
      })();
    }
  })();
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  servers.push({ httpServer, agServer });
  return { agServer, port: (httpServer.address() as AddressInfo).port, serverErrors };
}

/** Connects, then authenticates with each token in turn; records what the client saw. */
async function scenario(fast: boolean): Promise<{ outcomes: string[]; serverErrors: string[] }> {
  const { agServer, port, serverErrors } = await start(fast);
  const valid = String(await agServer.auth.signToken({ user: 'u1' }, AUTH_KEY, {}));
  const client = socketClusterClient.create({ hostname: '127.0.0.1', port, autoReconnect: false });
  const outcomes: string[] = [];
  const { isAuthenticated } = await client.listener('connect').once();
  outcomes.push(`handshake without a token: authenticated=${String(isAuthenticated)} state=${client.authState}`);
  for (const [label, token] of [
    ['empty', ''],
    ['bad', 'not.a.jwt'],
    ['valid', valid],
  ] as const) {
    try {
      await client.authenticate(token);
      outcomes.push(`${label}: ok, state=${client.authState}, user=${String((client.authToken as { user?: string } | null)?.user)}`);
    } catch (error) {
      outcomes.push(`${label}: ${(error as Error).name}: ${(error as Error).message}, state=${client.authState}`);
    }
  }
  client.disconnect();
  await new Promise((r) => setTimeout(r, 100));
  return { outcomes, serverErrors };
}

describe('skipAbsentTokens', () => {
  it('ends every handshake and authentication as socketcluster-server’s own engine does', async () => {
    const stock = await scenario(false);
    const ours = await scenario(true);
    expect(ours).toEqual(stock);
    // What the scenario covers (so that equality means something).
    expect(ours.outcomes[0]).toBe('handshake without a token: authenticated=false state=unauthenticated');
    expect(ours.outcomes.at(-1)).toBe('valid: ok, state=authenticated, user=u1');
    expect(ours.outcomes.some((o) => o.startsWith('bad: AuthTokenInvalidError'))).toBe(true);
  });
});
