/**
 * The health responder: `GET /health-check` and `GET /ready` on a second port (`SCC_HEALTH_PORT`),
 * answered by a worker thread (health-thread.js) with an event loop of its own, so that a main event
 * loop busy with a huge fan-out cannot starve Kubernetes probes for seconds (issue 17).
 *
 * The main thread shares two cells through a SharedArrayBuffer: a heartbeat it writes every
 * `HEARTBEAT_INTERVAL_MS` (an unref'd interval) and its ready flag; the readiness body is posted to
 * the thread when it changes. A stuck main thread can post nothing, so the thread judges "busy" from
 * the heartbeat's age alone:
 *   - `/ready`: 503 `{ready:false, detail:"busy: event loop stalled for N ms"}` once the heartbeat is
 *     `BUSY_AFTER_MS` old, else the main thread's readiness (same body and code as the main port);
 *   - `/health-check`: 200 `OK`, or 503 once the heartbeat is `STALLED_AFTER_MS` old, so that a
 *     liveness probe restarts a process that is truly stuck and spares one that is merely busy.
 * The main port keeps answering both as before (http.ts).
 */
import { Worker } from 'node:worker_threads';
import { SccError } from './errors.js';
import type { Readiness } from './http.js';
import type { Logger } from './logger.js';
import { HEALTH_CHECK_PATH, READY_PATH } from './protocol.js';
import { LISTEN_BACKLOG } from './sc-server.js';

/** How often the main thread writes its heartbeat (and samples its readiness), ms. */
export const HEARTBEAT_INTERVAL_MS = 20;
/** Heartbeat age from which `/ready` on the health port says busy, ms: longer than a heavy fan-out turn. */
export const BUSY_AFTER_MS = 1_000;
/** Heartbeat age from which `/health-check` on the health port answers 503, ms: a stuck process, not a busy one. */
export const STALLED_AFTER_MS = 20_000;
/** Longest wait for the thread to bind its port, ms. */
const START_TIMEOUT_MS = 10_000;

/** Cells of the shared BigInt64Array (health-thread.js reads them; keep the two in step). */
const HEARTBEAT_CELL = 0;
const READY_CELL = 1;
const CELLS = 2;

/** The health port could not be served (in use, an address this host does not have, a thread that died). */
export class HealthPortError extends SccError {
  override readonly name = 'HealthPortError';
}

export interface HealthResponderOptions {
  /** `SCC_HEALTH_PORT`; 0: any free port. */
  port: number;
  /** `SCC_BIND_HOST`; null: every interface. */
  host: string | null;
  /** The service's readiness, as its main port serves it; called on the main thread every heartbeat. */
  readiness: () => Readiness;
  logger?: Logger;
  busyAfterMs?: number;
  stalledAfterMs?: number;
}

export interface HealthResponder {
  /** The port bound. */
  readonly port: number;
  /** Stops the heartbeat and the thread. Safe to call twice. */
  close(): Promise<void>;
}

/** The thread's messages to the main thread. */
type ThreadMessage = { type: 'listening'; port: number } | { type: 'error'; name: string; code: string | null; message: string };

/** The thread's script: next to this module in `src/` (tests) and in `dist/` (built), plain JavaScript in both. */
const THREAD_URL = new URL('./health-thread.js', import.meta.url);

/** Starts the responder and resolves once its port is bound; rejects with `HealthPortError` otherwise. */
export async function startHealthResponder(options: HealthResponderOptions): Promise<HealthResponder> {
  const state = new SharedArrayBuffer(CELLS * BigInt64Array.BYTES_PER_ELEMENT);
  const cells = new BigInt64Array(state);
  let body = JSON.stringify(options.readiness());
  Atomics.store(cells, HEARTBEAT_CELL, process.hrtime.bigint());
  Atomics.store(cells, READY_CELL, readyCell(body));

  const worker = new Worker(THREAD_URL, {
    workerData: {
      state,
      port: options.port,
      host: options.host,
      backlog: LISTEN_BACKLOG,
      busyAfterMs: options.busyAfterMs ?? BUSY_AFTER_MS,
      stalledAfterMs: options.stalledAfterMs ?? STALLED_AFTER_MS,
      readiness: body,
      healthCheckPath: HEALTH_CHECK_PATH,
      readyPath: READY_PATH,
    },
    // Not the service's flags (--cpu-prof would write a profile of this thread too); it needs none.
    execArgv: [],
    name: 'scc-health',
  });
  // Neither the thread nor its port keeps the process alive: a service exits as it did without it.
  worker.unref();

  let port: number;
  try {
    port = await bound(worker, options.port);
  } catch (error) {
    await worker.terminate();
    throw error;
  }

  const tick = (): void => {
    Atomics.store(cells, HEARTBEAT_CELL, process.hrtime.bigint());
    const next = JSON.stringify(options.readiness());
    if (next === body) return;
    body = next;
    // The cell first: until the body arrives the thread answers by the cell.
    Atomics.store(cells, READY_CELL, readyCell(body));
    worker.postMessage({ type: 'readiness', body });
  };
  const heartbeat = setInterval(tick, HEARTBEAT_INTERVAL_MS);
  heartbeat.unref();

  let closing: Promise<void> | undefined;
  // A thread lost for good leaves the port unanswered: the liveness probe then restarts the process.
  worker.on('error', (error) => {
    if (!closing) options.logger?.error({ err: error }, `health responder on port ${port} failed: ${error.message}`);
  });
  worker.on('exit', (code) => {
    if (!closing) options.logger?.error(`health responder on port ${port} stopped (thread exit code ${code}); /health-check and /ready remain on the service port`);
  });
  return {
    port,
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        await worker.terminate();
      })();
      return closing;
    },
  };
}

function readyCell(body: string): bigint {
  return (JSON.parse(body) as Readiness).ready ? 1n : 0n;
}

/** Resolves with the port the thread bound, or rejects with why it could not. */
function bound(worker: Worker, requested: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (message: string, cause?: unknown): void => {
      cleanup();
      reject(new HealthPortError(`health port ${requested}: ${message}`, { cause }));
    };
    const onMessage = (message: ThreadMessage): void => {
      if (message.type === 'listening') {
        cleanup();
        resolve(message.port);
      } else fail(message.message);
    };
    const onError = (error: Error): void => fail(error.message, error);
    const onExit = (code: number): void => fail(`thread exited with code ${code} before listening`);
    const timer = setTimeout(() => fail(`not listening after ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    function cleanup(): void {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    }
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
