/**
 * Closes a hole in socketcluster-server 20 and its helpers: they key plain objects by names a peer
 * chooses (event names, channel names). A name such as `constructor`, `toString` or `__proto__`
 * then finds an inherited property instead of nothing: `stream-demux` calls `.write` on it and the
 * process dies of an unhandled rejection (found by `pnpm fuzz`), and `ag-simple-broker` writes the
 * socket into `Object.prototype`. Giving those lookup tables a null prototype makes every such name
 * an ordinary miss, at no cost per message.
 *
 * Server-side tables are fixed that way; the worker's cluster plugin, though, hands channel names on
 * to socketcluster-client (its broker links), which has the same hole: unsubscribing upstream from
 * `constructor` killed a worker. So a channel name must be a string that is not an Object.prototype
 * member; any other is refused with `InvalidChannelError` before it reaches anything.
 *
 * A second `#handshake` on an open socket is the other hole: socketcluster-server runs the handshake
 * again, counting the socket twice in `clientsCount` (which the connection limit reads) and, on a
 * server with handshake middleware, awaiting a middleware stream already closed, so that socket's
 * inbound queue stalls and grows with everything it sends. A repeat is refused and the socket closed.
 */
import { InvalidChannelError, InvalidHandshakeError } from './errors.js';
import { HANDSHAKE_REJECTION_CLOSE_CODE } from './protocol.js';
import type { AGServer, ServerSocket } from './sc-server.js';

/** A stream-demux instance: its `streams` table is keyed by event or channel name. */
interface Demux {
  streams: Record<string, unknown>;
}

function nullPrototype(table: object | undefined): void {
  if (table && typeof table === 'object' && Object.getPrototypeOf(table) !== null) Object.setPrototypeOf(table, null);
}

function hardenDemux(demux: Demux | undefined): void {
  nullPrototype(demux?.streams);
}

/** Hardens the server's broker engine now and every socket as it connects. Call once after attach. */
export function hardenServer(agServer: AGServer): void {
  const engine = agServer.brokerEngine as unknown as {
    _clientSubscribers?: object;
    _clientSubscribersCounter?: object;
    _exchangeClient?: { _channelMap?: object; _channelEventDemux?: Demux; _channelDataDemux?: Demux };
  };
  nullPrototype(engine._clientSubscribers);
  nullPrototype(engine._clientSubscribersCounter);
  nullPrototype(engine._exchangeClient?._channelMap);
  hardenDemux(engine._exchangeClient?._channelEventDemux);
  hardenDemux(engine._exchangeClient?._channelDataDemux);
  // The 'handshake' event is emitted as the socket is created; the loop below runs in a microtask,
  // before the socket's first frame (an I/O event) can be read.
  (agServer as unknown as Record<symbol, boolean>)[HARDENED] = true;
  void (async () => {
    for await (const { socket } of agServer.listener('handshake')) hardenSocket(socket as ServerSocket);
  })();
}

interface Request {
  data: unknown;
  error(error: Error): void;
}

/** Whether a channel name is safe to use as a key anywhere (see above). */
export function isSafeChannelName(name: unknown): name is string {
  return typeof name === 'string' && !(name in Object.prototype);
}

function channelError(name: unknown): InvalidChannelError {
  const shown = typeof name === 'string' ? JSON.stringify(name) : `a ${name === null ? 'null' : typeof name}`;
  return new InvalidChannelError(`channel name ${shown} is refused: it must be a string that is not an Object.prototype member`);
}

function channelOf(data: unknown): unknown {
  return data !== null && typeof data === 'object' ? (data as { channel?: unknown }).channel : undefined;
}

interface SocketInternals {
  server: unknown;
  state: string;
  CONNECTING: string;
  _receiverDemux?: Demux;
  _procedureDemux?: Demux;
  channelSubscriptions?: object;
  _processHandshakeRequest?: (request: Request) => Promise<void>;
  _subscribeSocket?: (channel: unknown, options: unknown) => Promise<void>;
  _processInboundPublishRequest?: (request: Request) => Promise<void>;
  _processInboundPublishPacket?: (packet: { data?: unknown }) => Promise<void>;
  emitError?: (error: Error) => void;
  disconnect(code?: number, reason?: string): void;
}

const HARDENED = Symbol('scc.hardened');
const PATCHED = Symbol('scc.hardenPatched');

function hardened(socket: SocketInternals): boolean {
  return Boolean((socket.server as Record<symbol, boolean> | undefined)?.[HARDENED]);
}

/**
 * Once per process, on the socket prototype (no closure per socket: idle connections stay small),
 * and active only for sockets of a server passed to hardenServer.
 */
function patchPrototype(proto: SocketInternals & { [PATCHED]?: boolean }): void {
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;
  const subscribe = proto._subscribeSocket;
  if (typeof subscribe === 'function') {
    // socketcluster-server wraps what this throws in a BrokerError reply naming it.
    proto._subscribeSocket = async function (this: SocketInternals, channel, options) {
      if (hardened(this) && !isSafeChannelName(channel)) throw channelError(channel);
      return subscribe.call(this, channel, options);
    };
  }
  const publishRequest = proto._processInboundPublishRequest;
  if (typeof publishRequest === 'function') {
    proto._processInboundPublishRequest = async function (this: SocketInternals, request) {
      const channel = channelOf(request.data);
      if (hardened(this) && !isSafeChannelName(channel)) return request.error(channelError(channel));
      return publishRequest.call(this, request);
    };
  }
  const publishPacket = proto._processInboundPublishPacket;
  if (typeof publishPacket === 'function') {
    proto._processInboundPublishPacket = async function (this: SocketInternals, packet) {
      const channel = channelOf(packet.data);
      if (hardened(this) && !isSafeChannelName(channel)) return this.emitError?.call(this, channelError(channel));
      return publishPacket.call(this, packet);
    };
  }
  const handshake = proto._processHandshakeRequest;
  if (typeof handshake === 'function') {
    proto._processHandshakeRequest = async function (this: SocketInternals, request) {
      if (!hardened(this) || this.state === this.CONNECTING) return handshake.call(this, request);
      request.error(new InvalidHandshakeError('this socket has already completed its handshake'));
      void this.disconnect(HANDSHAKE_REJECTION_CLOSE_CODE, 'InvalidHandshakeError');
    };
  }
}

function hardenSocket(socket: ServerSocket): void {
  const internals = socket as unknown as SocketInternals;
  hardenDemux(internals._receiverDemux);
  hardenDemux(internals._procedureDemux);
  nullPrototype(internals.channelSubscriptions);
  patchPrototype(Object.getPrototypeOf(socket) as SocketInternals);
}
