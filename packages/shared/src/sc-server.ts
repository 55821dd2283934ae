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
    for await (const { warning } of agServer.listener('warning')) {
      // Sockets we close ourselves with 1012 on a drain: one line per client would flood the log.
      if ((warning as { code?: unknown }).code === SERVICE_RESTART_CLOSE_CODE) continue;
      logger.warn(`socketcluster-server warning: ${warning.message}`);
    }
  })();
}

/** Listens on `port` (0: any free port) and resolves with the port bound; rejects on EADDRINUSE etc. */
export function listen(httpServer: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, () => {
      httpServer.off('error', reject);
      resolve((httpServer.address() as AddressInfo).port);
    });
  });
}
