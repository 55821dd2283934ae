/**
 * Closes a hole in socketcluster-server 20 and its helpers: they key plain objects by names a peer
 * chooses (event names, channel names). A name such as `constructor`, `toString` or `__proto__`
 * then finds an inherited property instead of nothing: `stream-demux` calls `.write` on it and the
 * process dies of an unhandled rejection (found by `pnpm fuzz`), and `ag-simple-broker` writes the
 * socket into `Object.prototype`. Giving those lookup tables a null prototype makes every such name
 * an ordinary miss, at no cost per message.
 */
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

function hardenSocket(socket: ServerSocket): void {
  const internals = socket as unknown as { _receiverDemux?: Demux; _procedureDemux?: Demux; channelSubscriptions?: object };
  hardenDemux(internals._receiverDemux);
  hardenDemux(internals._procedureDemux);
  nullPrototype(internals.channelSubscriptions);
}
