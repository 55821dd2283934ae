// Real socketcluster-client connections in a process of their own, which the image check stops with
// SIGSTOP around a worker's SIGTERM: peers that cannot answer the close frame, as a client whose
// event loop is blocked (or a dead host) cannot. Usage: node frozen-clients.mjs <count> <port>…
// Prints one JSON line `{"port":p,"open":n}` whenever a port's count of open clients changes.
import socketClusterClient from 'socketcluster-client';

const [count, ...ports] = process.argv.slice(2).map(Number);
const open = new Map(ports.map((port) => [port, 0]));
const report = (port) => process.stdout.write(`${JSON.stringify({ port, open: open.get(port) })}\n`);
for (const port of ports) {
  for (let i = 0; i < count; i++) {
    const client = socketClusterClient.create({ hostname: '127.0.0.1', port, autoReconnectOptions: { initialDelay: 100, randomness: 50, multiplier: 1, maxDelay: 200 } });
    void (async () => {
      for await (const _ of client.listener('connect')) {
        open.set(port, open.get(port) + 1);
        report(port);
      }
    })();
    void (async () => {
      for await (const _ of client.listener('disconnect')) {
        open.set(port, open.get(port) - 1);
        report(port);
      }
    })();
    // Connection errors while a worker is down are expected; they must not print stack traces.
    void (async () => {
      for await (const _ of client.listener('error')) {
        /* reconnects on its own */
      }
    })();
  }
}
// Stop when the check does (its stdin closes), whatever state it left us in.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
