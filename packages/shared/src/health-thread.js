/**
 * The health responder's thread (started by health.ts): an HTTP server on `SCC_HEALTH_PORT` in an
 * event loop of its own, answering `GET /health-check` and `GET /ready` from what the main thread
 * shares through a SharedArrayBuffer, so that a busy main event loop cannot starve the probes.
 *
 * Plain JavaScript on purpose: the same file runs from `src/` (tests, through vitest) and, compiled
 * by tsc as is, from `dist/`; a worker thread cannot load TypeScript. `checkJs` types it.
 *
 * The main thread writes a heartbeat (`process.hrtime`, the process's monotonic clock, the same in
 * every thread) every few ms and posts its readiness body when it changes. A stuck main thread can
 * post nothing, so whether it is busy is judged from the heartbeat's age alone.
 */
import { createServer } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

/** Cells of the shared BigInt64Array; health.ts writes them (keep the two in step). */
const HEARTBEAT_CELL = 0;
const READY_CELL = 1;

/**
 * @typedef {object} HealthThreadData
 * @property {SharedArrayBuffer} state the cells above
 * @property {number} port 0: any free port
 * @property {string | null} host null: every interface
 * @property {number} backlog
 * @property {number} busyAfterMs heartbeat age from which /ready answers 503 busy
 * @property {number} stalledAfterMs heartbeat age from which /health-check answers 503
 * @property {string} readiness the main thread's readiness body (JSON) at start
 * @property {string} healthCheckPath `/health-check` (protocol.ts)
 * @property {string} readyPath `/ready` (protocol.ts)
 */

const data = /** @type {HealthThreadData} */ (workerData);
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const cells = new BigInt64Array(data.state);
/** The last readiness body the main thread posted (JSON text, sent as is) and its `ready`. */
let readiness = posted(data.readiness);

port.on('message', (/** @type {{ type: string, body?: unknown }} */ message) => {
  if (message.type === 'readiness' && typeof message.body === 'string') readiness = posted(message.body);
});

/** A readiness body with its `ready` read once. */
function posted(/** @type {string} */ body) {
  return { body, ready: /** @type {{ ready?: unknown }} */ (JSON.parse(body)).ready === true };
}

/** How long ago the main thread's last heartbeat was, ms. */
function heartbeatAgeMs() {
  return Number((process.hrtime.bigint() - Atomics.load(cells, HEARTBEAT_CELL)) / 1_000_000n);
}

/**
 * The /ready answer: busy when the heartbeat is too old, else the main thread's readiness. The
 * ready cell is written before the body is posted: while the body is on its way, the cell wins.
 * @returns {{ status: number, body: string }}
 */
function readyAnswer() {
  const age = heartbeatAgeMs();
  if (age >= data.busyAfterMs) return { status: 503, body: JSON.stringify({ ready: false, detail: `busy: event loop stalled for ${age} ms` }) };
  const ready = Atomics.load(cells, READY_CELL) === 1n;
  if (readiness.ready === ready) return { status: ready ? 200 : 503, body: readiness.body };
  return { status: ready ? 200 : 503, body: JSON.stringify(ready ? { ready } : { ready, detail: 'not ready' }) };
}

/** Most connections at once: probes open one each, a few a second; a flood of them is refused, not served. */
const MAX_CONNECTIONS = 256;

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path === data.healthCheckPath) {
    const age = heartbeatAgeMs();
    // Liveness: OK while the main thread turns at all; a restart is the cure for one stuck this long.
    if (age >= data.stalledAfterMs) {
      res.writeHead(503, { 'Content-Type': 'text/plain' });
      res.end(`event loop stalled for ${age} ms`);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('OK');
    return;
  }
  if (path === data.readyPath) {
    const { status, body } = readyAnswer();
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(body);
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('Not found');
});

server.maxConnections = MAX_CONNECTIONS;
server.once('error', (/** @type {NodeJS.ErrnoException} */ error) => {
  port.postMessage({ type: 'error', name: error.name, code: error.code ?? null, message: error.message });
});
server.listen({ port: data.port, backlog: data.backlog, ...(data.host !== null && { host: data.host }) }, () => {
  const address = server.address();
  port.postMessage({ type: 'listening', port: address !== null && typeof address === 'object' ? address.port : data.port });
});
