/**
 * Frame batching per event-loop turn for internal links (client side; the servers' frames are
 * batched by the ws engine, ws-engine.ts). SocketCluster sockets (client and server)
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
