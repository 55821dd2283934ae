/**
 * Closes a hole in socketcluster-server 20 and its helpers: they key plain objects by names a peer
 * chooses (event names, channel names). A name such as `constructor`, `toString` or `__proto__`
 * then finds an inherited property instead of nothing: `stream-demux` calls `.write` on it and the
 * process dies of an unhandled rejection (found by `pnpm fuzz`), and `ag-simple-broker` writes the
 * socket into `Object.prototype`. Giving those lookup tables a null prototype makes every such name
 * an ordinary miss, at no cost per message.
 *
 * A second `#handshake` on an open socket is the other hole: socketcluster-server runs the handshake
 * again, counting the socket twice in `clientsCount` (which the connection limit reads) and, on a
 * server with handshake middleware, awaiting a middleware stream already closed, so that socket's
 * inbound queue stalls and grows with everything it sends. A repeat is refused and the socket closed.
 */
import { InvalidHandshakeError } from './errors.js';
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
  void (async () => {
    for await (const { socket } of agServer.listener('handshake')) hardenSocket(socket as ServerSocket);
  })();
}

interface HandshakeRequest {
  error(error: Error): void;
}

function hardenSocket(socket: ServerSocket): void {
  const internals = socket as unknown as {
    _receiverDemux?: Demux;
    _procedureDemux?: Demux;
    channelSubscriptions?: object;
    _processHandshakeRequest?: (request: HandshakeRequest) => Promise<void>;
  };
  hardenDemux(internals._receiverDemux);
  hardenDemux(internals._procedureDemux);
  nullPrototype(internals.channelSubscriptions);
  const handshake = internals._processHandshakeRequest;
  if (typeof handshake !== 'function') return;
  internals._processHandshakeRequest = async (request) => {
    if (socket.state === socket.CONNECTING) return handshake.call(socket, request);
    request.error(new InvalidHandshakeError('this socket has already completed its handshake'));
    void socket.disconnect(HANDSHAKE_REJECTION_CLOSE_CODE, 'InvalidHandshakeError');
  };
}
