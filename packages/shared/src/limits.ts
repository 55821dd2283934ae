/**
 * Per-server resource limits: what one peer may cost a service. Three are socketcluster-server
 * options (payload size, handshake timeout, channels per socket); two are enforced here because
 * socketcluster-server 20 has nothing for them (connections per server, outbound buffer per socket).
 */
import type { IncomingMessage } from 'node:http';
import { ConnectionLimitError, SlowConsumerError } from './errors.js';
import type { Logger } from './logger.js';
import type { AGServer, ServerSocket } from './sc-server.js';

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

/**
 * Close code for a socket dropped as a slow consumer (its outbound buffer passed the limit). In the
 * 4000-4999 application range and clear of socketcluster's own 4000-4009; a client may reconnect.
 */
export const SLOW_CONSUMER_CLOSE_CODE = 4100;
/** HTTP status of an upgrade refused because the server is at `maxConnections`. */
export const CONNECTION_LIMIT_HTTP_STATUS = 503;

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

type VerifyCallback = (verified: boolean, code?: number, message?: string, headers?: Record<string, string>) => void;
type VerifyClient = (info: { req: IncomingMessage; origin: string; secure: boolean }, callback: VerifyCallback) => void;
interface WsServerInternals {
  options: { verifyClient: VerifyClient | null };
}
interface WsSocketInternals {
  bufferedAmount: number;
}

/** Counts of what `enforceLimits` refused, for logs and tests. */
export interface LimitCounters {
  connectionsRefused: number;
  slowConsumersClosed: number;
}

type OutboundGuard = (socket: ServerSocket) => void;
const OUTBOUND_GUARD = Symbol('scc.outboundGuard');
const DROPPED = Symbol('scc.droppedSlowConsumer');
const PATCHED = Symbol('scc.sendGuardPatched');

interface SocketPrototype {
  send(this: ServerSocket, data: unknown, options?: unknown): void;
  [PATCHED]?: boolean;
}

/** Once per process: the prototype's `send` runs the socket's server's guard after each frame. */
function patchSend(proto: SocketPrototype): void {
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;
  const send = proto.send;
  proto.send = function (this: ServerSocket, data: unknown, options?: unknown) {
    send.call(this, data, options);
    const guard = (this.server as unknown as Record<symbol, OutboundGuard | undefined>)[OUTBOUND_GUARD];
    if (guard) guard(this);
  };
}

/**
 * Enforces `maxConnections` at the WebSocket upgrade (before any handshake middleware runs, so a
 * flood costs no middleware work) and `maxOutboundBufferBytes` on every send. Call once, right after
 * `socketClusterServer.attach`.
 */
export function enforceLimits(agServer: AGServer, limits: Readonly<ServerLimits>, logger: Logger): LimitCounters {
  const counters: LimitCounters = { connectionsRefused: 0, slowConsumersClosed: 0 };
  const wsServer = (agServer as unknown as { wsServer: WsServerInternals }).wsServer;
  const verify = wsServer.options.verifyClient;
  // Upgrades whose verification is still running: not yet in pendingClientsCount.
  let verifying = 0;
  // ws reads `options.verifyClient` on every upgrade; the two-argument form is its async variant.
  wsServer.options.verifyClient = (info, callback) => {
    const held = agServer.clientsCount + agServer.pendingClientsCount + verifying;
    if (held >= limits.maxConnections) {
      counters.connectionsRefused += 1;
      // One line per 100 refusals: a flood must not turn into a log flood.
      if (counters.connectionsRefused % 100 === 1) {
        logger.warn(`refused ${info.req.socket.remoteAddress ?? 'a peer'}: ConnectionLimitError: ${limits.maxConnections} connections held (${counters.connectionsRefused} refused so far)`);
      }
      const error = new ConnectionLimitError(`this server holds its limit of ${limits.maxConnections} connections`);
      callback(false, CONNECTION_LIMIT_HTTP_STATUS, `${error.name}: ${error.message}`, { 'Retry-After': '1' });
      return;
    }
    if (verify === null) {
      callback(true);
      return;
    }
    verifying += 1;
    verify(info, (verified, code, message, headers) => {
      verifying -= 1;
      callback(verified, code, message, headers);
    });
  };

  // Every outbound frame goes through the sockets' `send`: one check of ws's buffer after it. The
  // check lives on the prototype, found through the socket's server, so an idle socket carries no
  // closure of its own (10,000 idle connections would each pay for one).
  (agServer as unknown as Record<symbol, OutboundGuard>)[OUTBOUND_GUARD] = (socket) => {
    const ws = (socket as unknown as { socket: WsSocketInternals }).socket;
    const state = socket as unknown as Record<symbol, boolean>;
    if (state[DROPPED] || ws.bufferedAmount <= limits.maxOutboundBufferBytes) return;
    state[DROPPED] = true;
    counters.slowConsumersClosed += 1;
    const error = new SlowConsumerError(`outbound buffer passed ${limits.maxOutboundBufferBytes} bytes`);
    logger.warn(`closing socket ${socket.id} from ${socket.remoteAddress}: ${error.name}: ${error.message} (${ws.bufferedAmount} bytes queued)`);
    // Nothing more is queued once closed; ws destroys the TCP socket if the peer never reads the close frame.
    void socket.disconnect(SLOW_CONSUMER_CLOSE_CODE, error.name);
  };
  void (async () => {
    for await (const { socket } of agServer.listener('handshake')) patchSend(Object.getPrototypeOf(socket) as SocketPrototype);
  })();

  return counters;
}
