/**
 * Frame batching per event-loop turn for internal links. SocketCluster sockets (client and server)
 * can buffer outgoing messages and send them as one WebSocket frame holding a JSON array, which
 * every SocketCluster peer decodes (the original's too). Batching until the end of the current
 * turn (setImmediate: after the I/O callbacks that produced the messages) saves a frame, a syscall
 * and a parse per message under load and adds no delay when traffic is light.
 */

/** The batch API socketcluster-client and socketcluster-server sockets share. */
export interface Batchable {
  startBatch(): void;
  flushBatch(): void;
}

export class TickBatcher {
  private readonly pending = new Set<Batchable>();
  private scheduled: NodeJS.Immediate | undefined;

  /**
   * Starts buffering on `socket` until the end of this turn (no-op if it already is). Call it
   * only on an open socket, right before sending on it.
   */
  touch(socket: Batchable): void {
    if (this.pending.has(socket)) return;
    socket.startBatch();
    this.pending.add(socket);
    this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Sends every buffered batch now. */
  flush(): void {
    this.scheduled = undefined;
    const sockets = [...this.pending];
    this.pending.clear();
    for (const socket of sockets) {
      try {
        socket.flushBatch();
      } catch {
        // The connection closed meanwhile: what it held is lost with it, as without batching.
      }
    }
  }

  /** Sends one socket's batch now (before it is closed, so a last reply is not lost). */
  flushSocket(socket: Batchable): void {
    if (!this.pending.delete(socket)) return;
    try {
      socket.flushBatch();
    } catch {
      // Already closed.
    }
  }

  /** Flushes and stops. Safe to call twice. */
  close(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.flush();
  }
}

/** The parts of a socketcluster-server socket the server-side batching touches. */
interface ServerSocketLike {
  server?: unknown;
  state: string;
  OPEN: string;
  send(data: unknown, options?: unknown): void;
  disconnect(...args: unknown[]): unknown;
}

const FRAMES = Symbol('scc.serverFrames');
const QUEUED = Symbol('scc.queuedFrames');
const PATCHED = Symbol('scc.framesPatched');

type Queued = ServerSocketLike & { [QUEUED]?: string[] };

/**
 * Server-side frames per event-loop turn. socketcluster-server's own batching re-encodes every
 * buffered message for every socket, losing the broker engine's encode-once for a publish to many
 * subscribers; this one batches the encoded text itself: the frames a socket is sent in one turn go
 * out as `[frame,frame,…]`, a SocketCluster batch every client decodes (the original's and
 * browsers' too). Pings and anything that is not a JSON object go out at once, as before.
 */
export class ServerFrames {
  private readonly pending = new Set<Queued>();
  private scheduled: NodeJS.Immediate | undefined;
  /** The socket prototype's `send` before batching was put in front of it. */
  sendNow: ((this: ServerSocketLike, data: unknown, options?: unknown) => void) | undefined;

  queue(socket: Queued, text: string): void {
    const queued = socket[QUEUED];
    if (queued) {
      queued.push(text);
      return;
    }
    socket[QUEUED] = [text];
    this.pending.add(socket);
    this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Sends one socket's queued frames now (before it closes, so a last reply is not lost). */
  flushSocket(socket: Queued): void {
    const queued = socket[QUEUED];
    if (!queued) return;
    socket[QUEUED] = undefined;
    this.pending.delete(socket);
    try {
      this.sendNow?.call(socket, queued.length === 1 ? queued[0] : `[${queued.join(',')}]`);
    } catch {
      // The connection closed meanwhile: what it held is lost with it, as without batching.
    }
  }

  flush(): void {
    this.scheduled = undefined;
    for (const socket of [...this.pending]) this.flushSocket(socket);
  }

  close(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.flush();
  }
}

/**
 * Batches the frames of every socket of `agServer` per event-loop turn. The hook sits on the socket
 * prototype (once per process) and finds the batcher through the socket's server, so an idle socket
 * carries nothing extra.
 */
export function batchServerFrames(agServer: unknown, frames: ServerFrames): void {
  (agServer as Record<symbol, ServerFrames>)[FRAMES] = frames;
  const server = agServer as { listener(name: string): AsyncIterable<{ socket: unknown }> };
  void (async () => {
    for await (const { socket } of server.listener('handshake')) patchPrototype(Object.getPrototypeOf(socket) as ServerSocketLike, frames);
  })();
}

function framesOf(socket: ServerSocketLike): ServerFrames | undefined {
  return (socket.server as Record<symbol, ServerFrames | undefined> | undefined)?.[FRAMES];
}

function patchPrototype(proto: ServerSocketLike & { [PATCHED]?: (this: ServerSocketLike, data: unknown, options?: unknown) => void }, frames: ServerFrames): void {
  if (!proto[PATCHED]) {
    const send = proto.send;
    const disconnect = proto.disconnect;
    proto[PATCHED] = send;
    proto.send = function (this: ServerSocketLike, data: unknown, options?: unknown) {
      const batcher = framesOf(this);
      // '{' (123): a JSON object, i.e. a SocketCluster packet; pings ('') and the rest go at once.
      if (batcher && options === undefined && typeof data === 'string' && data.charCodeAt(0) === 123 && this.state === this.OPEN) {
        batcher.queue(this, data);
        return;
      }
      send.call(this, data, options);
    };
    proto.disconnect = function (this: ServerSocketLike, ...args: unknown[]) {
      framesOf(this)?.flushSocket(this);
      return disconnect.apply(this, args);
    };
  }
  frames.sendNow ??= proto[PATCHED];
}
