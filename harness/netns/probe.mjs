/**
 * The test bed's TCP probe, a plain script (no build, no tsx) so it starts fast inside a host:
 *
 *   node probe.mjs listen PORT                 accepts connections and ends each at once; prints
 *                                              {"event":"listening","port":PORT}
 *   node probe.mjs connect HOST PORT TIMEOUT   one connect(); prints {"event":"probe","result":R,"ms":N}
 *                                              with R "connected", "timeout" or the error code
 *                                              (EINVAL: a blackhole route on this side; ENETUNREACH…)
 */
import net from 'node:net';

const [mode, ...rest] = process.argv.slice(2);
const print = (line) => process.stdout.write(`${JSON.stringify({ level: 30, msg: line.event, ...line })}\n`);

if (mode === 'listen') {
  const port = Number(rest[0]);
  net
    .createServer((socket) => socket.end())
    .listen(port, '0.0.0.0', () => print({ event: 'listening', port }));
} else if (mode === 'connect') {
  const [host, port, timeout] = rest;
  const started = Date.now();
  const socket = net.connect({ host, port: Number(port) });
  const done = (result) => {
    print({ event: 'probe', result, ms: Date.now() - started });
    socket.destroy();
    process.exit(0);
  };
  socket.setTimeout(Number(timeout));
  socket.once('connect', () => done('connected'));
  socket.once('timeout', () => done('timeout'));
  socket.once('error', (error) => done(error.code ?? error.message));
} else {
  process.stderr.write('usage: probe.mjs listen PORT | connect HOST PORT TIMEOUT_MS\n');
  process.exit(2);
}
