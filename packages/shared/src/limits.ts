/**
 * Per-server resource limits: what one peer may cost a service. Three are socketcluster-server
 * options (payload size, handshake timeout, channels per socket); two are enforced by our ws engine
 * (ws-engine.ts) because socketcluster-server 20 has nothing for them (connections per server,
 * outbound buffer per socket).
 */

/** Limits of one socketcluster-server; each is set by an env var (config.ts) with a per-service default. */
export interface ServerLimits {
  /** Largest inbound WebSocket message, bytes (`SCC_MAX_PAYLOAD`); bigger ones close the socket with 1009. */
  maxPayloadBytes: number;
  /** Time a socket has to finish the SocketCluster handshake, ms (`SCC_HANDSHAKE_TIMEOUT`); then close 4005. */
  handshakeTimeoutMs: number;
  /** Most channels one socket may subscribe to (`SCC_SOCKET_CHANNEL_LIMIT`); null: no limit. */
  socketChannelLimit: number | null;
  /** Most sockets (pending and open) the server holds (`SCC_MAX_CONNECTIONS`); more are refused with HTTP 503. */
  maxConnections: number;
  /** Most bytes queued for one socket before it is closed as a slow consumer (`SCC_MAX_OUTBOUND_BUFFER`). */
  maxOutboundBufferBytes: number;
}

/** The socketcluster-server options that carry the limits it implements itself. */
export function limitServerOptions(limits: Readonly<ServerLimits>): {
  maxPayload: number;
  handshakeTimeout: number;
  socketChannelLimit: number;
} {
  return {
    maxPayload: limits.maxPayloadBytes,
    handshakeTimeout: limits.handshakeTimeoutMs,
    // socketcluster-server treats any falsy limit as "none".
    socketChannelLimit: (limits.socketChannelLimit ?? null) as unknown as number,
  };
}
