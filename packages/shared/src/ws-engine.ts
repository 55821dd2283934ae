/**
 * The WebSocket engine of the front-facing servers (`wsEngine`, a documented socketcluster-server
 * option: a module with a `Server` class), built on ws's documented seams: `handleUpgrade` and the
 * `WebSocket` server option. It owns what socketcluster-server 20 has no option for:
 *
 * - `maxConnections`: an upgrade past it is answered HTTP 503 `ConnectionLimitError` with
 *   `Retry-After: 1`, before socketcluster-server (and its handshake middleware) sees it. The engine
 *   counts the TCP connections it let through until they close, so nothing a peer sends on an open
 *   socket (a repeated `#handshake`) can change the count.
 * - `maxOutboundBufferBytes`: a socket whose ws buffer passes it is closed with
 *   `SLOW_CONSUMER_CLOSE_CODE` and reason `SlowConsumerError`; nothing more is queued for it.
 * - A second `#handshake` on a socket is refused (an `InvalidHandshakeError` reply, close
 *   `HANDSHAKE_REJECTION_CLOSE_CODE`) before socketcluster-server runs it again (it would await a
 *   middleware stream already closed and stall that socket's inbound queue for good).
 * - Optional frame batching: the JSON-object text frames a socket is sent in one event-loop turn go
 *   out as one `[frame,frame,…]` frame, a SocketCluster batch every client decodes. It batches the
 *   encoded text, so the broker engine's encode-once for a publish to many subscribers holds
 *   (socketcluster-server's own batching re-encodes per socket).
 * - Optional heartbeat (`heartbeat`): socketcluster's pings and ping timeout kept by one timer for
 *   every socket, for a server built with `pingTimeoutDisabled` (socketcluster-server's documented
 *   switch for its own). socketcluster-server arms an interval and a timeout per socket and re-arms
 *   the timeout on every pong: with 10,000 sockets that is 20,000 timers and 1,250 re-arms a second,
 *   about a third of a worker's CPU while it holds a huge channel at one broadcast a second. Here a
 *   tick every `HEARTBEAT_TICK_MS` pings the next share of the sockets (each about once an
 *   interval, spread over it as per-socket timers would be) and closes, with socketcluster's 4001,
 *   one that nothing was heard from for the timeout. The pong itself still reaches
 *   socketcluster-server, which checks the auth token's expiry on it as before.
 *
 * State per socket is a few fields on the socket object; behaviour lives on the class (one per
 * engine), so an idle connection carries no closure of its own.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type ServerOptions } from 'ws';
import { ConnectionLimitError, InvalidHandshakeError, SlowConsumerError } from './errors.js';
import type { Logger } from './logger.js';
import { HANDSHAKE_REJECTION_CLOSE_CODE } from './protocol.js';
import { ScCloseCode, encodeBatch, encodeErrorResponse } from './sc-wire.js';

/**
 * Close code for a socket dropped as a slow consumer (its outbound buffer passed the limit). In the
 * 4000-4999 application range and clear of socketcluster's own 4000-4009; a client may reconnect.
 */
export const SLOW_CONSUMER_CLOSE_CODE = 4100;
/** HTTP status of an upgrade refused because the server is at `maxConnections`. */
export const CONNECTION_LIMIT_HTTP_STATUS = 503;
/** `Retry-After` of a refused upgrade, seconds. */
const CONNECTION_LIMIT_RETRY_AFTER_S = 1;
/** One warning per this many refused upgrades: a flood must not turn into a log flood. */
const REFUSALS_PER_WARNING = 100;

/** '{': the first character of a JSON object, i.e. of a SocketCluster packet. */
const OPEN_BRACE = 123;
/** Found in any message that may hold a `#handshake` event: the name, or a JSON escape that could spell it. */
const HANDSHAKE_MARK = Buffer.from('handshake');
const ESCAPE_MARK = Buffer.from('\\u');
const HANDSHAKE_EVENT = '#handshake';

/** How often the heartbeat looks at its sockets, ms (at most; a short interval ticks 4 times per interval). */
export const HEARTBEAT_TICK_MS = 100;

/** The engine's heartbeat: socketcluster's ping interval, ping timeout and ping text. */
export interface HeartbeatOptions {
  /** Each open socket is sent `ping` about this often, ms (socketcluster-server's `pingInterval`). */
  intervalMs: number;
  /** A socket nothing was heard from for this long is closed with 4001, ms (`pingTimeout`). */
  timeoutMs: number;
  /** The protocol's ping: `''` (protocol 2) or `'#1'` (protocol 1). */
  ping: string;
}

/** What a ws engine enforces. */
export interface WsEngineOptions {
  /** Most TCP connections (upgrading, pending handshake and open) the server holds; more get HTTP 503. */
  maxConnections: number;
  /** Most bytes ws may buffer for one socket before it is closed as a slow consumer. */
  maxOutboundBufferBytes: number;
  /** Whether JSON-object text frames are batched per event-loop turn (`SCC_BATCH_CLIENT_FRAMES`). */
  batchFrames: boolean;
  /** Pings and the ping timeout for every socket (the server's own switched off); null or absent: none. */
  heartbeat?: HeartbeatOptions | null;
  logger: Logger;
}

/** Counts of what an engine refused, for logs, metrics and tests. */
export interface WsEngineCounters {
  connectionsRefused: number;
  slowConsumersClosed: number;
  repeatedHandshakesRefused: number;
  /** Sockets the heartbeat closed (4001): nothing heard from them for the ping timeout. */
  pingTimeouts: number;
}

/** A ws engine for one socketcluster-server: pass `{ Server }` (or the engine itself) as `wsEngine`. */
export interface WsEngine {
  /** The server class socketcluster-server constructs (`new Server(options)`). */
  readonly Server: new (options: ServerOptions) => WebSocketServer;
  readonly counters: Readonly<WsEngineCounters>;
  /** Sends every batched frame now. */
  flush(): void;
  /** Sends every batched frame and stops the turn and heartbeat timers. Safe to call twice. */
  close(): void;
}

/**
 * HTTP servers that one of our engines' ws servers was built on (socketcluster-server hands ws the
 * documented `server` option, its own `httpServer`). Weak, so a closed server is not kept alive.
 */
const servedHttpServers = new WeakSet<object>();

/**
 * Whether a socketcluster-server on `httpServer` (its documented `httpServer` property) runs on one
 * of our ws engines, i.e. was built with the limits they enforce. The cluster plugin asks this to
 * warn a user whose server lacks them.
 */
export function isServedByWsEngine(httpServer: object | null | undefined): boolean {
  return httpServer != null && servedHttpServers.has(httpServer);
}

/** Keeps an aborted upgrade's late socket error from becoming an uncaught exception. */
function ignoreError(): void {}

/** The `#handshake` packets in a decoded message: how many, and their call ids. */
function handshakeCids(decoded: unknown): number[] | null {
  const packets = Array.isArray(decoded) ? decoded : [decoded];
  let cids: number[] | null = null;
  for (const packet of packets) {
    if (packet === null || typeof packet !== 'object' || (packet as { event?: unknown }).event !== HANDSHAKE_EVENT) continue;
    const cid = (packet as { cid?: unknown }).cid;
    (cids ??= []).push(typeof cid === 'number' ? cid : -1);
  }
  return cids;
}

/** Creates the engine; its counters and batch timer belong to the one server it is given to. */
export function createWsEngine(options: Readonly<WsEngineOptions>): WsEngine {
  const { maxConnections, maxOutboundBufferBytes, batchFrames, logger } = options;
  const heartbeat = options.heartbeat ?? null;
  const counters: WsEngineCounters = { connectionsRefused: 0, slowConsumersClosed: 0, repeatedHandshakesRefused: 0, pingTimeouts: 0 };
  const pending = new Set<FrontWebSocket>();
  let scheduled: NodeJS.Immediate | undefined;
  /** TCP connections let through (upgrading or open) and not yet closed. */
  let held = 0;
  const releaseUpgrade = (): void => {
    held -= 1;
  };

  function flushAll(): void {
    scheduled = undefined;
    for (const socket of pending) socket.flushFrames();
    pending.clear();
  }

  /** Open sockets, for the heartbeat (insertion order: the tick walks them round and round). */
  const beating = new Set<FrontWebSocket>();
  /** The heartbeat's clock, ms: read once per tick, so a message costs a field write, not a clock read. */
  let beatNow = Date.now();
  let beatCursor: Iterator<FrontWebSocket> | undefined;
  let beatTimer: NodeJS.Timeout | undefined;
  const tickMs = heartbeat === null ? 0 : Math.max(1, Math.min(HEARTBEAT_TICK_MS, Math.floor(heartbeat.intervalMs / 4)));

  /** One tick: the next share of the sockets is pinged, or closed when silent for the timeout. */
  function beat(): void {
    if (heartbeat === null) return;
    beatNow = Date.now();
    let due = Math.ceil((beating.size * tickMs) / heartbeat.intervalMs);
    // A socket joining during a round is reached in it; one leaving is skipped (Set iterators allow both).
    while (due > 0 && beating.size > 0) {
      beatCursor ??= beating.values();
      const next = beatCursor.next();
      if (next.done === true) {
        beatCursor = undefined;
        // A round ends here: the next one starts with the next tick, so no socket is pinged twice in one.
        return;
      }
      due -= 1;
      const socket = next.value;
      if (beatNow - socket.heardAt >= heartbeat.timeoutMs) socket.timeOut();
      else socket.send(heartbeat.ping);
    }
  }

  class FrontWebSocket extends WebSocket {
    /** Frames batched this turn; undefined when none. */
    queued: string[] | undefined = undefined;
    /** Whether this socket has sent its `#handshake`. */
    handshaken = false;
    /** Whether it was closed as a slow consumer (nothing more is queued for it). */
    dropped = false;
    /** The heartbeat clock when something was last heard from the peer (its upgrade, to begin with). */
    heardAt = beatNow;
    /** Whether the heartbeat closed it (its close is then reported as 4001). */
    timedOut = false;
    /**
     * The upgrade request, for the peer's address in warnings. Under this name because
     * socketcluster-server looks for it there and adds the property itself when it is missing:
     * one field instead of two per socket.
     */
    upgradeReq: IncomingMessage | undefined = undefined;

    override send(data: unknown, sendOptions?: unknown, cb?: unknown): void {
      if (this.dropped) return;
      if (batchFrames && sendOptions === undefined && typeof data === 'string' && data.charCodeAt(0) === OPEN_BRACE && this.readyState === WebSocket.OPEN) {
        if (this.queued) {
          this.queued.push(data);
          return;
        }
        this.queued = [data];
        pending.add(this);
        scheduled ??= setImmediate(flushAll);
        return;
      }
      // Order: what was batched before goes first.
      this.flushFrames();
      (super.send as (data: unknown, options?: unknown, cb?: unknown) => void)(data, sendOptions, cb);
      this.checkBuffer();
    }

    /** Sends this socket's batched frames now. */
    flushFrames(): void {
      const queued = this.queued;
      if (!queued) return;
      this.queued = undefined;
      pending.delete(this);
      // Not open any more: ws drops it (no callback given, so no error either), as without batching.
      super.send(encodeBatch(queued));
      this.checkBuffer();
    }

    override close(code?: number, data?: string | Buffer): void {
      // A last reply sent right before a close (a refusal, a drain) must reach the peer first.
      this.flushFrames();
      super.close(code, data);
    }

    override emit(event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'message') {
        this.heardAt = beatNow;
        if (this.refuseRepeatedHandshake(args[0])) return true;
      } else if (event === 'close') {
        // ws emits 'close' once per WebSocket, after its TCP socket closed: the connection leaves the count.
        held -= 1;
        beating.delete(this);
        // A heartbeat close is the ping timeout to the server (socketcluster-server's code), not ws's 1006.
        if (this.timedOut) return super.emit(event, ScCloseCode.PingTimeout, Buffer.alloc(0));
      }
      return super.emit(event, ...args);
    }

    /**
     * Registers a socket with the heartbeat once its handshake arrives. Not before: socketcluster-server
     * (strictHandshake) closes a socket that answers a ping before its handshake with 4009, and until
     * then its handshake timeout (4005) is what closes a silent socket. socketcluster-server handles
     * the handshake before the socket's next message, so a pong after it meets an open socket.
     */
    startBeating(): void {
      if (heartbeat === null) return;
      if (beatTimer === undefined) {
        // The clock stood still while no timer ran.
        beatNow = Date.now();
        beatTimer = setInterval(beat, tickMs);
        // The server's listener keeps the process alive, not this timer.
        beatTimer.unref();
      }
      this.heardAt = beatNow;
      beating.add(this);
    }

    /**
     * Closes a socket silent for the ping timeout: a close frame with 4001 (a peer that is alive but
     * stalled learns why), then the TCP socket at once, as socketcluster-server does: a dead peer
     * would never answer the close.
     */
    timeOut(): void {
      beating.delete(this);
      if (this.readyState !== WebSocket.OPEN && this.readyState !== WebSocket.CLOSING) return;
      counters.pingTimeouts += 1;
      this.timedOut = true;
      this.flushFrames();
      if (this.readyState === WebSocket.OPEN) super.close(ScCloseCode.PingTimeout);
      this.terminate();
    }

    private checkBuffer(): void {
      const queuedBytes = this.bufferedAmount;
      if (queuedBytes <= maxOutboundBufferBytes || this.dropped) return;
      this.dropped = true;
      counters.slowConsumersClosed += 1;
      const error = new SlowConsumerError(`outbound buffer passed ${maxOutboundBufferBytes} bytes`);
      logger.warn(`closing socket from ${this.upgradeReq?.socket.remoteAddress ?? 'a peer'}: ${error.name}: ${error.message} (${queuedBytes} bytes queued)`);
      this.queued = undefined;
      pending.delete(this);
      // ws destroys the TCP socket if the peer never reads the close frame.
      super.close(SLOW_CONSUMER_CLOSE_CODE, error.name);
    }

    /**
     * Whether `data` is a repeated `#handshake` (then refused here). Two Buffer searches per message
     * (native, no parse); only a message that may hold the name, spelt out or escaped, is parsed.
     */
    private refuseRepeatedHandshake(data: unknown): boolean {
      if (!Buffer.isBuffer(data) || (data.indexOf(HANDSHAKE_MARK) === -1 && data.indexOf(ESCAPE_MARK) === -1)) return false;
      let decoded: unknown;
      try {
        decoded = JSON.parse(data.toString());
      } catch {
        return false;
      }
      const cids = handshakeCids(decoded);
      if (cids === null) return false;
      if (!this.handshaken && cids.length === 1) {
        this.handshaken = true;
        this.startBeating();
        return false;
      }
      counters.repeatedHandshakesRefused += 1;
      const error = new InvalidHandshakeError('this socket has already completed its handshake');
      for (const cid of cids) {
        if (cid >= 0) this.send(encodeErrorResponse(cid, error));
      }
      this.close(HANDSHAKE_REJECTION_CLOSE_CODE, error.name);
      return true;
    }
  }

  class FrontServer extends WebSocketServer {
    constructor(serverOptions: ServerOptions, callback?: () => void) {
      super({ ...serverOptions, WebSocket: FrontWebSocket }, callback);
      if (serverOptions.server) servedHttpServers.add(serverOptions.server);
    }

    override handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, callback: (client: WebSocket, request: IncomingMessage) => void): void {
      if (held >= maxConnections) {
        refuse(socket, request);
        return;
      }
      held += 1;
      // Until ws has made a WebSocket of it, the TCP socket's 'close' (once, whether the upgrade
      // failed or the peer left) gives the count back. Once it has, the WebSocket's own 'close' does
      // (FrontWebSocket.emit): an open connection carries no listener of ours (an idle connection
      // is counted in bytes, and a second 'close' listener turns the socket's one into an array).
      socket.on('close', releaseUpgrade);
      super.handleUpgrade(request, socket, head, (client, upgraded) => {
        socket.removeListener('close', releaseUpgrade);
        (client as FrontWebSocket).upgradeReq = upgraded;
        callback(client, upgraded);
      });
    }
  }

  function refuse(socket: Duplex, request: IncomingMessage): void {
    counters.connectionsRefused += 1;
    if (counters.connectionsRefused % REFUSALS_PER_WARNING === 1) {
      logger.warn(`refused ${request.socket.remoteAddress ?? 'a peer'}: ConnectionLimitError: ${maxConnections} connections held (${counters.connectionsRefused} refused so far)`);
    }
    const error = new ConnectionLimitError(`this server holds its limit of ${maxConnections} connections`);
    const body = `${error.name}: ${error.message}`;
    socket.on('error', ignoreError);
    socket.once('finish', () => socket.destroy());
    socket.end(
      `HTTP/1.1 ${CONNECTION_LIMIT_HTTP_STATUS} Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nRetry-After: ${CONNECTION_LIMIT_RETRY_AFTER_S}\r\n\r\n${body}`,
    );
  }

  return {
    Server: FrontServer,
    counters,
    flush: flushAll,
    close() {
      if (scheduled) clearImmediate(scheduled);
      flushAll();
      clearInterval(beatTimer);
      beatTimer = undefined;
      beating.clear();
      beatCursor = undefined;
    },
  };
}
