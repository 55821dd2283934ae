/**
 * What every service does with its socketcluster-server: handshake checks (scc-state, scc-broker),
 * logging of the server's error and warning events, and listening on the HTTP port.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type socketClusterServer from 'socketcluster-server';
import { authKeyMatches, queryOf } from './auth.js';
import { BadClusterAuthError } from './errors.js';

import type { Logger } from './logger.js';

/** WebSocket close code 1012 "Service Restart": sent to peers when a service drains; they reconnect elsewhere. */
export const SERVICE_RESTART_CLOSE_CODE = 1012;

/** A socketcluster-server instance. */
export type AGServer = ReturnType<typeof socketClusterServer.attach>;
/** A socketcluster-server socket. */
export type ServerSocket = InstanceType<typeof socketClusterServer.AGServerSocket>;

export interface HandshakeChecks {
  /** Required `authKey` query value; null admits everyone. */
  authKey: string | null;
  /** Message of the `BadClusterAuthError` a wrong key gets (the originals' wording differs per service). */
  authErrorMessage: string;
  /** Called for each refusal, with the error sent to the peer. */
  onRefused: (error: Error, remoteAddress: string | undefined) => void;
  /** Runs on the SocketCluster handshake; returns the error to refuse the socket with, or null. */
  checkSocket?: (socket: ServerSocket) => Error | null;
}

/**
 * Installs the handshake middleware: the auth key is checked at the WebSocket upgrade
 * (socketcluster-server answers a block there with HTTP 401), and `checkSocket` on the SocketCluster
 * handshake (a block there closes the socket with code 4008).
 */
export function installHandshakeChecks(agServer: AGServer, checks: HandshakeChecks): void {
  agServer.setMiddleware(agServer.MIDDLEWARE_HANDSHAKE, async (stream) => {
    for await (const action of stream) {
      if (action.type === action.HANDSHAKE_WS) {
        // The typings omit `request` on this action, but socketcluster-server sets it.
        const request = (action as unknown as { request: IncomingMessage }).request;
        if (checks.authKey !== null && !authKeyMatches(checks.authKey, queryOf(request.url).get('authKey'))) {
          const error = new BadClusterAuthError(checks.authErrorMessage);
          checks.onRefused(error, request.socket.remoteAddress);
          action.block(error);
          continue;
        }
      } else if (action.type === action.HANDSHAKE_SC && checks.checkSocket) {
        const error = checks.checkSocket(action.socket);
        if (error) {
          checks.onRefused(error, action.socket.remoteAddress);
          action.block(error);
          continue;
        }
      }
      action.allow(undefined);
    }
  });
}

/** Logs the server's `error` events (with stack) and `warning` events until its listeners are closed. */
export function logServerEvents(agServer: AGServer, logger: Logger): void {
  void (async () => {
    for await (const { error } of agServer.listener('error')) logger.error({ err: error }, `socketcluster-server error: ${error.message}`);
  })();
  void (async () => {
    // Any peer can cause warnings at will (each malformed frame is one): a budget per second keeps
    // hostile traffic from turning into unbounded log volume; the overflow is counted, not lost.
    let windowStart = 0;
    let inWindow = 0;
    let suppressed = 0;
    for await (const { warning } of agServer.listener('warning')) {
      // Sockets we close ourselves with 1012 on a drain: one line per client would flood the log.
      if ((warning as { code?: unknown }).code === SERVICE_RESTART_CLOSE_CODE) continue;
      const now = Date.now();
      if (now - windowStart >= 1000) {
        if (suppressed > 0) logger.warn(`socketcluster-server warning: ${suppressed} more warnings in the last second were not logged`);
        windowStart = now;
        inWindow = 0;
        suppressed = 0;
      }
      if (inWindow < MAX_WARNINGS_PER_SECOND) {
        inWindow += 1;
        logger.warn(`socketcluster-server warning: ${warning.name}: ${warning.message}`);
      } else {
        suppressed += 1;
      }
    }
  })();
}

/** Most socketcluster-server warnings logged per second; the rest are summarised in one line. */
export const MAX_WARNINGS_PER_SECOND = 20;

/**
 * Pending-connection queue asked of listen(2). Node's default (511) overflows when thousands of
 * clients reconnect at once (a deploy, a network blip): the kernel then drops their handshakes and
 * they wait out SYN retransmits of 1 s, 3 s, … or get reset. The kernel clamps the value to
 * `net.core.somaxconn` (4096 on current kernels), so asking the most lets an operator raise that alone.
 */
export const LISTEN_BACKLOG = 65_535;

/**
 * Listens on `port` (0: any free port) of `host` (null: every interface) and resolves with the port
 * bound; rejects on EADDRINUSE, an address this host does not have, etc.
 */
export function listen(httpServer: Server, port: number, host: string | null = null): Promise<number> {
  return new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen({ port, backlog: LISTEN_BACKLOG, ...(host !== null && { host }) }, () => {
      httpServer.off('error', reject);
      resolve((httpServer.address() as AddressInfo).port);
    });
  });
}

/** Whether a bound address only accepts connections from this host. */
function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1' || address === 'localhost';
}

/**
 * Warns when a cluster-internal service (state server, broker) listens beyond loopback without
 * `SCC_AUTH_KEY`: anyone who reaches the port can then join the cluster or read every channel.
 * Logged through `logger` at warn level, so pass a logger that shows warnings at the default level.
 */
export function warnIfUnauthenticated(httpServer: Server, authKey: string | null, service: string, logger: Logger): boolean {
  const bound = httpServer.address();
  const address = bound !== null && typeof bound === 'object' ? bound.address : '';
  if (authKey !== null || isLoopback(address)) return false;
  logger.warn(
    `${service} listens on ${address === '::' || address === '0.0.0.0' ? 'every interface' : address} without SCC_AUTH_KEY: any host that reaches this port can join the cluster; set SCC_AUTH_KEY on every service, or SCC_BIND_HOST=127.0.0.1 to serve this host only`,
  );
  return true;
}
