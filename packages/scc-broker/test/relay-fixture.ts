/** Relay options for tests: generous limits, socketcluster's ping defaults, no auth key. */
import type { Server } from 'node:http';
import type { Logger } from '@scc-ts/shared';
import type { RelayOptions } from '../src/relay.js';

export function testRelayOptions(server: Server, logger: Logger, overrides: Partial<RelayOptions> = {}): RelayOptions {
  return {
    server,
    authKey: null,
    authErrorMessage: 'bad key',
    maxPayloadBytes: 1_000_000,
    handshakeTimeoutMs: 5000,
    maxConnections: 100,
    maxOutboundBufferBytes: 10_000_000,
    pingIntervalMs: 8000,
    pingTimeoutMs: 30_000,
    logger,
    ...overrides,
  };
}
