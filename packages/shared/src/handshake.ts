/**
 * Handshake middleware shared by scc-state and scc-broker: the auth key is checked at the WebSocket
 * upgrade (socketcluster-server answers a block there with HTTP 401), and an optional check runs on
 * the SocketCluster handshake (a block there closes the socket with code 4008).
 */
import type { IncomingMessage } from 'node:http';
import type socketClusterServer from 'socketcluster-server';
import { authKeyMatches, queryOf } from './auth.js';
import { BadClusterAuthError } from './errors.js';

type AGServer = ReturnType<typeof socketClusterServer.attach>;
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

/** Installs the handshake middleware on `agServer`. */
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
