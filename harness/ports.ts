/** Free TCP ports for services that must be told their port up front. */
import { createServer, type Server } from 'node:net';

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Every interface, as the services bind: a port free on 127.0.0.1 alone could be taken on another.
    server.listen(0, () => {
      const address = server.address();
      if (typeof address === 'object' && address) resolve(address.port);
      else reject(new Error('no port bound'));
    });
  });
}

/**
 * `count` distinct ports that were free a moment ago. All are bound at once before any is released,
 * so one batch never holds the same port twice. Another process could still take one before the
 * service binds it; the service then exits with EADDRINUSE, which its launcher reports.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(servers.map(listen));
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}

/** One port that was free a moment ago (see freePorts). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}
