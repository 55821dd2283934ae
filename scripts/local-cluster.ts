/**
 * `pnpm start`: the local cluster as a playground — 1 state server, 2 brokers, 2 workers on the
 * well-known ports (7777; 8888, 8889; 8000, 8001), bound to 127.0.0.1, with prefixed pretty logs.
 * It keeps running when a child exits, and takes single keys (listed once it is ready, and on `?`)
 * and control-API requests (http://127.0.0.1:7770, for the state server's dashboard) to add, drain
 * or kill brokers, add or remove workers and restart the state server. Ctrl-C, `q` or SIGTERM stop
 * every child by its pid, workers first, and exit 0.
 *
 * Environment variables set by the caller pass through (`SCC_AUTH_KEY=secret pnpm start`);
 * `SCC_BIND_HOST` and `SCC_LOG_FORMAT` override the playground's 127.0.0.1 and pretty.
 * Flags: `--free-ports` (every service on a free port: a second playground, or tests) and
 * `--control-port N` (default 7770; 0: a free one).
 */
import { parseArgs } from 'node:util';
import type { Role } from '../harness/cluster.js';
import { startEtcd, type Etcd } from '../harness/etcd.js';
import { CONTROL_HOST, DEFAULT_CONTROL_PORT, dashboardOrigins, startControlApi, type ControlApi } from './playground/control-api.js';
import { keyHelp, readKeys, type KeyReader } from './playground/keys.js';
import { ACTIONS, Playground, formatMembership, type ActionName, type ActionResult } from './playground/playground.js';
import { PlaygroundError } from './playground/errors.js';

const STATE_PORT = 7777;
const FIRST_BROKER_PORT = 8888;
const FIRST_WORKER_PORT = 8000;
const BROKERS = 2;
const WORKERS = 2;
/** Bound on each wait (the cluster coming up, an action, a settle), ms. */
const WAIT_TIMEOUT_MS = 60_000;
/** Width of the name column (`worker:65535`). */
const NAME_WIDTH = 12;
const COLOURS: Readonly<Record<Role, number>> = { state: 35, broker: 36, worker: 32 };

const { values: flags } = parseArgs({ options: { 'free-ports': { type: 'boolean', default: false }, 'control-port': { type: 'string' }, 'state-replicas': { type: 'string' } } });
const controlPort = flags['control-port'] === undefined ? DEFAULT_CONTROL_PORT : Number(flags['control-port']);
if (!Number.isInteger(controlPort) || controlPort < 0 || controlPort > 65_535) {
  process.stderr.write(`local-cluster: --control-port must be a port number (0 for a free one), got ${JSON.stringify(flags['control-port'])}\n`);
  process.exit(1);
}

/** Replicated state servers: 1 (the single one, the default) or 2–5 replicas electing through a local etcd. */
const stateReplicas = flags['state-replicas'] === undefined ? 1 : Number(flags['state-replicas']);
if (!Number.isInteger(stateReplicas) || stateReplicas < 1 || stateReplicas > 5) {
  process.stderr.write(`local-cluster: --state-replicas must be a whole number from 1 to 5, got ${JSON.stringify(flags['state-replicas'])}\n`);
  process.exit(1);
}
let etcd: Etcd | undefined;
if (stateReplicas > 1) {
  try {
    etcd = await startEtcd({ name: 'etcd' });
  } catch (error) {
    process.stderr.write(`local-cluster: --state-replicas needs etcd: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

/** Channel-name prefixes that keep history in the local cluster unless SCC_HISTORY_CHANNELS says otherwise. */
const DEMO_HISTORY_CHANNELS = 'history/';

const color = process.stdout.isTTY ? (code: number, s: string): string => `\x1b[${code}m${s}\x1b[0m` : (_code: number, s: string): string => s;
const say = (line: string): void => void process.stdout.write(`${color(1, 'cluster'.padEnd(NAME_WIDTH))} | ${line}\n`);

const playground = new Playground({
  ports: flags['free-ports'] ? { kind: 'free' } : { kind: 'well-known', state: STATE_PORT, firstBroker: FIRST_BROKER_PORT, firstWorker: FIRST_WORKER_PORT },
  brokers: BROKERS,
  workers: WORKERS,
  env: {
    SCC_LOG_FORMAT: process.env['SCC_LOG_FORMAT'] ?? 'pretty',
    SCC_BIND_HOST: process.env['SCC_BIND_HOST'] ?? '127.0.0.1',
    // The demo's history channels (docs/history.md): the page shows their positions and recoveries.
    SCC_HISTORY_CHANNELS: process.env['SCC_HISTORY_CHANNELS'] ?? DEMO_HISTORY_CHANNELS,
  },
  timeoutMs: WAIT_TIMEOUT_MS,
  say,
  onLine: (name, role, _stream, line) => void process.stdout.write(`${color(COLOURS[role], name.padEnd(NAME_WIDTH))} | ${line}\n`),
  ...(etcd ? { stateReplicas: { count: stateReplicas, etcdEndpoint: etcd.endpoint, prefix: `/scc-local-${process.pid}/` } } : {}),
});

let api: ControlApi | undefined;
let keys: KeyReader | undefined;
let quitting = false;

async function quit(exitCode: number): Promise<void> {
  if (quitting) return;
  quitting = true;
  keys?.close();
  say('stopping the cluster…');
  await api?.close();
  await playground.stop();
  await etcd?.stop();
  say('all processes stopped');
  process.exit(exitCode);
}

// SIGHUP: the terminal went away. Each stops the children, then exits 0 (a requested stop).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void quit(0));

/** Runs an action and reports it on the terminal, whoever asked (a key, or the dashboard through the control API). */
async function perform(action: ActionName, via: string): Promise<ActionResult> {
  say(`${action}${via}…`);
  try {
    const result = await playground.act(action);
    say(result.done);
    say(`membership${result.settled ? '' : ' (not settled yet)'}: ${formatMembership(result.membership)}`);
    return result;
  } catch (error) {
    say(error instanceof PlaygroundError ? `${error.name}: ${error.message}` : `${action} failed: ${String(error)}`);
    throw error;
  }
}

/** A key's action: reported on the terminal only. */
function runAction(action: ActionName): void {
  perform(action, '').catch(() => undefined);
}

function help(): void {
  say('keys:');
  for (const line of keyHelp()) say(line);
}

try {
  api = await startControlApi({
    port: controlPort,
    allowedOrigins: () => dashboardOrigins(playground.statePort),
    status: () => playground.status(),
    act: (action) => perform(action, ' (control API)'),
  });
} catch (error) {
  say(`the control API cannot listen on ${CONTROL_HOST}:${controlPort} (${(error as Error).message}); pass --control-port N (0: any free port)`);
  process.exit(1);
}

const states = stateReplicas > 1 ? `${stateReplicas} state server replicas through etcd at ${etcd?.endpoint}` : '1 state server';
say(
  flags['free-ports']
    ? `starting ${states}, ${BROKERS} brokers and ${WORKERS} workers on free ports`
    : `starting ${states} (:${STATE_PORT}${stateReplicas > 1 ? ' and free ports' : ''}), ${BROKERS} brokers (:${FIRST_BROKER_PORT}…), ${WORKERS} workers (:${FIRST_WORKER_PORT}…)`,
);
// From the start, so that Ctrl-C is a key (not a signal) while the cluster comes up too; actions
// are refused until the ready line (PlaygroundNotReadyError).
keys = readKeys({ act: runAction, help, quit: () => void quit(0) });
try {
  await playground.start();
} catch (error) {
  say(`the cluster did not come up: ${(error as Error).message.split('\n', 1)[0]}; stopping`);
  await quit(1);
}

if (!quitting) {
  say(color(1, 'cluster ready. Open the demo in two tabs:'));
  for (const port of playground.workerPorts()) say(color(1, `  http://localhost:${port}/`));
  const controlUrl = `http://${CONTROL_HOST}:${api.port}`;
  say(`dashboard: http://127.0.0.1:${playground.statePort}/cluster?playground=${controlUrl}`);
  say(`control API: ${controlUrl} (GET /status; POST /actions/${ACTIONS.join(', ')})`);
  say(`membership: ${formatMembership(await playground.membership())}`);
  help();
}
