/**
 * `pnpm start`: a local SCC cluster — 1 state server, 2 brokers, 2 workers, on the well-known ports —
 * through the harness launcher, with prefixed pretty logs. Prints the demo URLs once every worker is
 * ready; Ctrl-C (or SIGTERM) stops every child by its pid, workers first. Environment variables set
 * by the caller pass through, so e.g. `SCC_AUTH_KEY=secret pnpm start` runs the whole cluster with an
 * auth key.
 */
import { Cluster, type Role } from '../harness/cluster.js';
import { runningProcesses } from '../harness/service-process.js';

const STATE_PORT = 7777;
const BROKER_PORTS = [8888, 8889];
const WORKER_PORTS = [8000, 8001];
/** How long to wait for the cluster to come up before giving up, ms. */
const READY_TIMEOUT_MS = 60_000;
/** How long each group of children (workers, brokers, state) gets to exit after SIGTERM before SIGKILL, ms. */
const STOP_TIMEOUT_MS = 12_000;
const COLOURS: Readonly<Record<Role, number>> = { state: 35, broker: 36, worker: 32 };

const color = process.stdout.isTTY ? (code: number, s: string): string => `\x1b[${code}m${s}\x1b[0m` : (_code: number, s: string): string => s;
const nameOf = (role: Role, index: number): string =>
  role === 'state' ? 'state' : role === 'broker' ? `broker:${BROKER_PORTS[index]}` : `worker:${WORKER_PORTS[index]}`;
const width = Math.max(nameOf('state', 0).length, ...BROKER_PORTS.map((_, i) => nameOf('broker', i).length), ...WORKER_PORTS.map((_, i) => nameOf('worker', i).length));

function log(line: string): void {
  process.stdout.write(`${color(1, 'cluster'.padEnd(width))} | ${line}\n`);
}

let cluster: Cluster | undefined;
let stopping = false;

async function stop(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('stopping the cluster…');
  if (cluster) await cluster.stop('SIGTERM', STOP_TIMEOUT_MS);
  // Still starting: stop whatever has been spawned so far.
  else await Promise.all(runningProcesses().map((p) => p.stop('SIGTERM', STOP_TIMEOUT_MS)));
  log('all processes stopped');
  process.exit(exitCode);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

log(`starting 1 state server (:${STATE_PORT}), ${BROKER_PORTS.length} brokers (:${BROKER_PORTS.join(', :')}), ${WORKER_PORTS.length} workers (:${WORKER_PORTS.join(', :')})`);
const pretty = { SCC_LOG_FORMAT: 'pretty' };
try {
  cluster = await Cluster.start({
    brokers: BROKER_PORTS.length,
    workers: WORKER_PORTS.length,
    ports: { state: STATE_PORT, brokers: BROKER_PORTS, workers: WORKER_PORTS },
    // The services' own timings; waits on /health-check, /ready and /cluster.json only, since
    // pretty logs carry no parseable events.
    fast: false,
    endpointsOnly: true,
    stateEnv: pretty,
    brokerEnv: pretty,
    workerEnv: pretty,
    timeoutMs: READY_TIMEOUT_MS,
    names: nameOf,
    // Own process group: a terminal's Ctrl-C reaches only this runner, which then stops the
    // children in order (a second signal would make them exit without leaving the cluster).
    spawn: { inheritEnv: true, detached: true },
    onLine: (name, role, _stream, line) => process.stdout.write(`${color(COLOURS[role], name.padEnd(width))} | ${line}\n`),
  });
} catch (error) {
  log(`the cluster did not come up: ${(error as Error).message.split('\n', 1)[0]}; stopping`);
  await stop(1);
}

if (cluster && !stopping) {
  for (const p of cluster.all()) {
    void p.exited.then(({ code, signal }) => {
      if (stopping) return;
      log(`${p.name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the cluster`);
      void stop(1);
    });
  }
  log(color(1, 'cluster ready. Open the demo in two tabs:'));
  for (const port of WORKER_PORTS) log(color(1, `  http://localhost:${port}/`));
  log('Ctrl-C stops every process.');
}
