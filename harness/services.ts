/**
 * Starts one service as a child process: OUR scc-state, scc-broker, scc-worker (`node server` in the
 * package folder of this checkout, or of another one given as `root`), or the ORIGINAL scc-broker
 * 10.0.1 (its own server.js) and original worker (original-worker.mjs: socketcluster-server 20 +
 * scc-broker-client 9.2.0). Each resolves once the service listens, with its port recorded; wait for
 * more (joined, ready, a broker count) with ready.ts or the events below.
 */
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogEvent } from '@scc-ts/shared';
import { freePort } from './ports.js';
import { waitHttp } from './ready.js';
import { spawnProcess, type LogLine, type ServiceProcess, type SpawnOptions } from './service-process.js';

/** This checkout's root. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const ORIGINAL_BROKER_SERVER = join(dirname(require.resolve('scc-broker/package.json')), 'server.js');
const ORIGINAL_WORKER_SCRIPT = fileURLToPath(new URL('./original-worker.mjs', import.meta.url));

/** The original versions the harness runs (tests check them, so a lockfile drift is caught). */
export const ORIGINAL_VERSIONS = {
  broker: (require('scc-broker/package.json') as { version: string }).version,
  brokerClient: (require('scc-broker-client/package.json') as { version: string }).version,
} as const;

/** State-server timings that make a test cluster converge in well under a second. */
export const FAST_STATE_ENV = {
  SCC_STATE_SERVER_STARTUP_DELAY: '0',
  SCC_STATE_SERVER_SCALE_OUT_DELAY: '200',
  SCC_STATE_SERVER_SCALE_BACK_DELAY: '100',
  SCC_STATE_SERVER_RETRY_DELAY: '200',
} as const;

/** Broker and worker timings to match FAST_STATE_ENV. */
export const FAST_PEER_ENV = {
  SCC_BROKER_SERVER_RETRY_DELAY: '200',
  SCC_BROKER_RETRY_DELAY: '200',
  SCC_STATE_SERVER_RECONNECT_RANDOMNESS: '100',
  SCC_INSTANCE_IP: '127.0.0.1',
  SCC_HANDOVER_DELAY: '150',
  SCC_HANDOVER_GRACE: '150',
} as const;

/** Bound on a service's start (spawn to listening), ms: generous, since five suites may share two cores. */
export const DEFAULT_START_TIMEOUT_MS = 20_000;

export type OurPackage = 'scc-state' | 'scc-broker' | 'scc-worker';

/** Options every start function takes. */
export interface ServiceOptions {
  /** Process name in logs and errors. */
  name?: string;
  /** Extra environment, applied last (it overrides the harness's defaults). */
  env?: Readonly<Record<string, string>>;
  /** The port to listen on; default: any free one. */
  port?: number;
  /** Fast test timings (FAST_STATE_ENV / FAST_PEER_ENV); default true. */
  fast?: boolean;
  /** OUR services only: the checkout to run them from (built already); default this one. */
  root?: string;
  /** Node flags, e.g. `['--cpu-prof', '--cpu-prof-dir=…']`. */
  nodeArgs?: readonly string[];
  /** Bound on the start, ms. */
  timeoutMs?: number;
  /** Passed to spawnProcess (the local cluster inherits the caller's environment and prints lines; the test bed wraps). */
  spawn?: Pick<SpawnOptions, 'inheritEnv' | 'detached' | 'onLine' | 'wrap'>;
  /**
   * The address the service is reached at (readiness polls, `uriOf`): default 127.0.0.1; a host's
   * address on the network test bed, whose launcher also sets `SCC_INSTANCE_IP` to it in `env`.
   */
  host?: string;
}

/** `ws://HOST:PORT`, the URI a broker or worker is listed under (a bare port: a local one, on 127.0.0.1). */
export function uriOf(service: ServiceProcess | number): string {
  return typeof service === 'number' ? `ws://127.0.0.1:${service}` : `ws://${service.host}:${service.port}`;
}

/**
 * Resolves once the service listens and records its port. With a port chosen up front, `/health-check`
 * says so (every service serves it, ours from any checkout and the originals); with port 0 the
 * service's `listening` event names the port it bound.
 */
export async function awaitListening(service: ServiceProcess, port = 0, timeoutMs = DEFAULT_START_TIMEOUT_MS): Promise<ServiceProcess> {
  if (port === 0) {
    const line = await service.waitForEvent(LogEvent.Listening, {}, timeoutMs);
    service.port = Number(line['port']);
  } else {
    service.port = port;
    await waitHttp(port, '/health-check', { timeoutMs, process: service, host: service.host });
  }
  return service;
}

/**
 * Spawns `node server` in `<root>/packages/<pkg>` with JSON logs. Resolves once it listens. In this
 * checkout the service takes port 0 and reports it; in another checkout (whose log lines may predate
 * the `listening` event) it is handed a free port.
 */
export async function startOurs(pkg: OurPackage, portVar: string, env: Record<string, string>, options: ServiceOptions): Promise<ServiceProcess> {
  const root = resolve(options.root ?? REPO_ROOT);
  const requested = options.port ?? (options.env?.[portVar] === undefined ? undefined : Number(options.env[portVar]));
  const port = requested ?? (root === resolve(REPO_ROOT) ? 0 : await freePort());
  const service = spawnProcess({
    name: options.name ?? pkg.replace('scc-', ''),
    // `scc-broker server` until the service sets its title (`scc-broker :8888`) in that space.
    argv0: pkg,
    args: ['server'],
    nodeArgs: options.nodeArgs ?? [],
    cwd: join(root, 'packages', pkg),
    env: { SCC_LOG_FORMAT: 'json', ...env, [portVar]: String(port), ...options.env },
    ...options.spawn,
  });
  service.host = options.host ?? service.host;
  return awaitListening(service, port, options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS);
}

const peerEnv = (statePort: number): Record<string, string> => ({ SCC_STATE_SERVER_HOST: '127.0.0.1', SCC_STATE_SERVER_PORT: String(statePort) });

/** Our scc-state (log level 3: joins and leaves are logged). */
export function startState(options: ServiceOptions = {}): Promise<ServiceProcess> {
  return startOurs('scc-state', 'SCC_STATE_SERVER_PORT', { SCC_STATE_LOG_LEVEL: '3', ...(options.fast === false ? {} : FAST_STATE_ENV) }, options);
}

/** Our scc-broker joining the state server on `statePort`; resolves once it listens (see `waitReady` for joined). */
export function startBroker(statePort: number, options: ServiceOptions = {}): Promise<ServiceProcess> {
  return startOurs(
    'scc-broker',
    'SCC_BROKER_SERVER_PORT',
    { ...peerEnv(statePort), SCC_BROKER_SERVER_LOG_LEVEL: '3', SCC_INSTANCE_IP: '127.0.0.1', ...(options.fast === false ? {} : FAST_PEER_ENV) },
    options,
  );
}

/** Our scc-worker, in cluster mode on `statePort`, or standalone for null. */
export function startWorker(statePort: number | null, options: ServiceOptions = {}): Promise<ServiceProcess> {
  return startOurs(
    'scc-worker',
    'SOCKETCLUSTER_PORT',
    { ...(statePort === null ? {} : peerEnv(statePort)), SOCKETCLUSTER_LOG_LEVEL: '3', SCC_INSTANCE_IP: '127.0.0.1', ...(options.fast === false ? {} : FAST_PEER_ENV) },
    options,
  );
}

/** Spawns `node <script>` for an original service. */
async function startScript(script: string, name: string, env: Record<string, string>, port: number, options: ServiceOptions): Promise<ServiceProcess> {
  const service = spawnProcess({ name: options.name ?? name, args: [script], nodeArgs: options.nodeArgs ?? [], cwd: dirname(script), env: { ...env, ...options.env }, ...options.spawn });
  service.host = options.host ?? service.host;
  return awaitListening(service, port, options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS);
}

/**
 * scc-broker 10.0.1 (`node server.js`) joined to the state server on `statePort`. It reads
 * `Number(port) || 8888`, so it cannot take port 0: it is handed a free one. Resolves once it
 * serves /health-check; `waitForMembers(statePort, { brokers: [uriOf(broker)] })` says it joined.
 */
export async function startOriginalBroker(statePort: number, options: ServiceOptions = {}): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const env = {
    ...peerEnv(statePort),
    SCC_BROKER_SERVER_PORT: String(port),
    SCC_INSTANCE_IP: '127.0.0.1',
    ...(options.fast === false ? {} : { SCC_BROKER_SERVER_RETRY_DELAY: FAST_PEER_ENV.SCC_BROKER_SERVER_RETRY_DELAY }),
  };
  return startScript(ORIGINAL_BROKER_SERVER, 'original-broker', env, port, options);
}

/** An original worker (harness/original-worker.mjs) on `statePort`, or one plain socketcluster-server for null. */
export function startOriginalWorker(statePort: number | null, options: ServiceOptions = {}): Promise<ServiceProcess> {
  const port = options.port ?? 0;
  const fast: Record<string, string> = options.fast === false ? {} : { SCC_BROKER_RETRY_DELAY: FAST_PEER_ENV.SCC_BROKER_RETRY_DELAY, SCC_STATE_SERVER_RECONNECT_RANDOMNESS: FAST_PEER_ENV.SCC_STATE_SERVER_RECONNECT_RANDOMNESS };
  const env = { ...(statePort === null ? {} : { ...peerEnv(statePort), SCC_INSTANCE_IP: '127.0.0.1', ...fast }), SOCKETCLUSTER_PORT: String(port) };
  return startScript(ORIGINAL_WORKER_SCRIPT, 'original-worker', env, port, options);
}

/**
 * Waits until a worker of either kind applied a list of exactly `count` brokers, after log index
 * `from` (the `brokerList` event: ours from join or push, the original worker script's from update).
 */
export function waitForBrokers(worker: ServiceProcess, count: number, from = 0, timeoutMs?: number): Promise<LogLine> {
  return worker.waitForEvent(LogEvent.BrokerList, { brokers: count }, timeoutMs, from);
}

/** Waits until OUR worker has the list of `count` brokers and publishes through it (its handover is over). */
export async function waitForBrokerCount(worker: ServiceProcess, count: number, from = 0, timeoutMs?: number): Promise<LogLine> {
  await waitForBrokers(worker, count, from, timeoutMs);
  return worker.waitForEvent(LogEvent.PublishingThrough, { brokers: count }, timeoutMs, from);
}
