/**
 * The last step of a service's close: its HTTP server's `close()` calls back only once every TCP
 * connection has ended, upgraded WebSockets included, and a WebSocket ends only when the peer answers
 * the close frame (ws waits 30 s for that before destroying the socket). A peer that cannot answer —
 * dead, partitioned, or with its event loop blocked — would then hold the process past its shutdown
 * timeout, which exits with code 1. So the close waits a short grace, then drops what is left.
 */
import type { Server } from 'node:net';
import type { Socket } from 'node:net';

/** How long a closing service waits for peers to finish closing before dropping their TCP connections, ms. */
export const CLOSE_HANDSHAKE_GRACE_MS = 1_000;

/** The TCP connections a server accepted and that have not closed yet. */
export interface ConnectionTracker {
  readonly open: number;
  /** Destroys every connection still open; returns how many there were. */
  destroyAll(): number;
}

/** Starts tracking `server`'s connections (call before it listens). */
export function trackConnections(server: Server): ConnectionTracker {
  const open = new Set<Socket>();
  // One shared listener (`this` is the socket), so a connection carries no closure of its own.
  function forget(this: Socket): void {
    open.delete(this);
  }
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    // 'on', not 'once': close comes once, and once() would wrap the listener anew for every connection.
    socket.on('close', forget);
  });
  return {
    get open() {
      return open.size;
    },
    destroyAll() {
      const count = open.size;
      for (const socket of open) socket.destroy();
      return count;
    },
  };
}

/**
 * Waits for `closed` (the server's `close()` callback) at most `graceMs`, then destroys the
 * connections still open and waits for it again. Resolves with the number of connections dropped.
 */
export async function closedWithin(closed: Promise<void>, connections: ConnectionTracker, graceMs = CLOSE_HANDSHAKE_GRACE_MS): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([closed.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)))]);
  clearTimeout(timer);
  if (inTime) return 0;
  const dropped = connections.destroyAll();
  await closed;
  return dropped;
}

/** What keeps the event loop alive now, e.g. `TCPSocketWrap ×20, Timeout ×2`: for a shutdown that overran. */
export function activeResourcesSummary(): string {
  const counts = new Map<string, number>();
  for (const name of process.getActiveResourcesInfo()) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts.size === 0 ? 'nothing' : [...counts].map(([name, n]) => `${name} ×${n}`).join(', ');
}
