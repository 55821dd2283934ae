/**
 * The real image check: the base image (built once per tag), `docker build`, what the image holds,
 * then 1 state server, 2 brokers and 2 workers as containers run as their manifests declare,
 * cross-worker pub/sub through them with the real socketcluster-client, `/ready` and `/metrics`, and
 * SIGTERM to every container, idle and under load, repeated: each must drain and exit 0 within
 * STOP_LIMIT_MS. Every container it started is removed at the end, whatever happened.
 */
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { FAST_PEER_ENV, FAST_STATE_ENV } from '../services.js';
import { freePorts } from '../ports.js';
import { waitHttp, DEFAULT_READY_TIMEOUT_MS } from '../ready.js';
import { Collector, connect, disconnectAll, type Client } from '../clients.js';
import { ensureBaseImage, type BaseImage } from './base-image.js';
import { buildBaseline, buildImage, caBundle, unwantedContent, type BuiltImage } from './build.js';
import { removeCheckContainers, ServiceContainer, type StopResult } from './containers.js';
import { findDocker, imageSize, type DockerCli } from './docker.js';
import { FrozenClients } from './frozen-clients.js';
import { asDeployment, containerOf, loadManifests, serviceOf, type ServiceName } from './manifests.js';

/** A SIGTERM must end the container with code 0 within this, ms (Kubernetes' rolling updates wait on it). */
export const STOP_LIMIT_MS = 5_000;
/** Default SIGTERMs per container. */
export const DEFAULT_ROUNDS = 10;
/** Messages each worker's publisher sends the other worker's subscriber in the delivery check. */
const DELIVERY_MESSAGES = 1_000;
/** Publishes per tick and tick length of the load a SIGTERM lands in. */
const LOAD_BURST = 20;
const LOAD_TICK_MS = 5;
/** How long the load runs before the SIGTERM, ms. */
const LOAD_LEAD_MS = 300;
/** Bound on a restarted container (and the cluster around it) becoming ready again, ms. */
const RESTART_READY_TIMEOUT_MS = 20_000;
/** Clients per worker in the process that is frozen (SIGSTOP) while that worker is stopped. */
const FROZEN_CLIENTS_PER_WORKER = 5;
/** The auth key the containers share (the manifests read it from a Secret). */
const AUTH_KEY = 'image-check-key';
/** Each service's port variable: the containers share the host's network, so each gets a free port. */
const PORT_ENV: Readonly<Record<ServiceName, string>> = { 'scc-state': 'SCC_STATE_SERVER_PORT', 'scc-broker': 'SCC_BROKER_SERVER_PORT', 'scc-worker': 'SOCKETCLUSTER_PORT' };

export interface StopRecord extends StopResult {
  container: string;
  service: ServiceName;
  phase: 'idle' | 'load';
  /** From `docker start` to the whole cluster answering /ready again, ms. */
  restartMs: number;
}

export interface ImageCheckReport {
  docker: { client: string; clientVersion: string; serverVersion: string; builder: string };
  base: BaseImage & { sizeBytes: number };
  image: BuiltImage & { addedBytes: number; caSecret: boolean };
  baseline: (BuiltImage & { addedBytes: number }) | null;
  /** Findings of the content check (empty: production dependencies and compiled code only). */
  unwanted: string[];
  delivery: { sent: number; received: number };
  probes: Array<{ container: string; ready: number; metrics: number; metricsHasService: boolean }>;
  stops: StopRecord[];
  /** Every failure, one line each; empty when the check passed. */
  problems: string[];
  totalMs: number;
}

export interface ImageCheckOptions {
  /** SIGTERMs per container (alternating idle and under load). */
  rounds?: number;
  /** Also build the `pnpm deploy --prod` baseline (adds a minute or so). */
  baseline?: boolean;
  log?: (line: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function status(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** Publishers on each worker sending to subscribers on the other, for a SIGTERM to land in. */
class Load {
  private timer: NodeJS.Timeout | undefined;
  sent = 0;
  constructor(private readonly pairs: Array<{ publisher: Client; channel: string }>) {}
  start(): void {
    this.timer ??= setInterval(() => {
      for (const { publisher, channel } of this.pairs) {
        // Fire and forget: a worker being stopped drops what it cannot take, and clients reconnect.
        for (let i = 0; i < LOAD_BURST; i++) if (publisher.state === publisher.OPEN) void publisher.transmitPublish(channel, { id: `load-${this.sent++}` });
      }
    }, LOAD_TICK_MS);
  }
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Runs the whole check and reports; throws DockerUnavailableError when docker cannot be used. */
export async function runImageCheck(options: ImageCheckOptions = {}): Promise<ImageCheckReport> {
  const log = options.log ?? (() => {});
  const rounds = options.rounds ?? DEFAULT_ROUNDS;
  const startedAt = performance.now();
  const problems: string[] = [];
  const cli: DockerCli = await findDocker();
  log(`docker client ${cli.clientVersion} (${cli.command}, BuildKit via ${cli.builder}), daemon ${cli.serverVersion}`);

  const base = await ensureBaseImage(cli, log);
  const baseSize = await imageSize(cli, base.tag);
  log(base.built ? `base image ${base.tag} built in ${(base.buildMs / 1000).toFixed(1)} s` : `base image ${base.tag} found (cached by tag)`);

  const caFile = caBundle();
  log(`docker build${caFile ? ` with the CA bundle as build secret` : ''} …`);
  const built = await buildImage(cli, { baseImage: base.tag, caFile });
  log(`image ${built.tag}: ${mib(built.sizeBytes)} (base + ${mib(built.sizeBytes - baseSize)}), built in ${(built.buildMs / 1000).toFixed(1)} s`);
  let baseline: ImageCheckReport['baseline'] = null;
  if (options.baseline) {
    const b = await buildBaseline(cli, base.tag);
    baseline = { ...b, addedBytes: b.sizeBytes - baseSize };
    log(`baseline (base + pnpm deploy --prod of each service): ${mib(b.sizeBytes)} (base + ${mib(baseline.addedBytes)})`);
  }
  const unwanted = await unwantedContent(cli, built.tag);
  for (const u of unwanted) problems.push(`image holds ${u}`);

  const deployments = new Map<ServiceName, IDeployment>(
    loadManifests()
      .filter((m) => m.kind === 'Deployment')
      .map((m) => [serviceOf(containerOf(asDeployment(m))), asDeployment(m)]),
  );
  const [statePort, brokerA, brokerB, workerA, workerB] = (await freePorts(5)) as [number, number, number, number, number];
  const prefix = `scc-image-check-${process.pid}`;
  const containers: ServiceContainer[] = [];
  const report = {
    docker: { client: cli.command, clientVersion: cli.clientVersion, serverVersion: cli.serverVersion, builder: cli.builder },
    base: { ...base, sizeBytes: baseSize },
    image: { ...built, addedBytes: built.sizeBytes - baseSize, caSecret: caFile !== null },
    baseline,
    unwanted,
    delivery: { sent: 0, received: 0 },
    probes: [] as ImageCheckReport['probes'],
    stops: [] as StopRecord[],
    problems,
    totalMs: 0,
  };
  let load: Load | undefined;
  let frozen: FrozenClients | undefined;
  try {
    const run = async (service: ServiceName, name: string, port: number): Promise<ServiceContainer> => {
      // The containers share the host's network: the manifests' SCC_HEALTH_PORT would clash between two of a kind.
      const overrides: Record<string, string> = { [PORT_ENV[service]]: String(port), SCC_HEALTH_PORT: '0', ...(service === 'scc-state' ? FAST_STATE_ENV : { ...FAST_PEER_ENV, SCC_STATE_SERVER_HOST: '127.0.0.1', SCC_STATE_SERVER_PORT: String(statePort) }) };
      const container = await ServiceContainer.run(cli, { image: built.tag, name: `${prefix}-${name}`, deployment: deployments.get(service)!, port, podIP: '127.0.0.1', authKey: AUTH_KEY, overrides });
      containers.push(container);
      await waitHttp(port, '/health-check', { timeoutMs: DEFAULT_READY_TIMEOUT_MS }).catch(async (error: Error) => {
        throw new Error(`${container.name} did not answer /health-check: ${error.message}\n${await container.logs()}`);
      });
      return container;
    };
    await run('scc-state', 'state', statePort);
    await run('scc-broker', 'broker-a', brokerA);
    await run('scc-broker', 'broker-b', brokerB);
    await run('scc-worker', 'worker-a', workerA);
    await run('scc-worker', 'worker-b', workerB);
    const ready = (timeoutMs: number): Promise<void> => Promise.all(containers.map((c) => waitHttp(c.port, '/ready', { timeoutMs }))).then(() => undefined);
    await ready(RESTART_READY_TIMEOUT_MS);
    log(`cluster up: state :${statePort}, brokers :${brokerA} :${brokerB}, workers :${workerA} :${workerB}`);

    for (const c of containers) {
      const r = await status(c.port, '/ready');
      const m = await status(c.port, '/metrics');
      const metricsHasService = m.body.includes(`scc_${c.service.slice('scc-'.length)}_`);
      report.probes.push({ container: c.name, ready: r.status, metrics: m.status, metricsHasService });
      if (r.status !== 200) problems.push(`${c.name} /ready answered ${r.status}: ${r.body}`);
      if (m.status !== 200 || !metricsHasService) problems.push(`${c.name} /metrics answered ${m.status} without its scc_ series`);
    }

    // Cross-worker delivery: each worker's publisher to a subscriber on the other worker.
    const collector = new Collector();
    const [subA, subB, pubA, pubB] = await Promise.all([connect(workerA), connect(workerB), connect(workerA), connect(workerB)]);
    await collector.subscribe('b', subB!, 'from-a');
    await collector.subscribe('a', subA!, 'from-b');
    const prime = async (): Promise<void> => {
      const deadline = Date.now() + RESTART_READY_TIMEOUT_MS;
      while (!(collector.messages('b', 'from-a').length > 0 && collector.messages('a', 'from-b').length > 0) && Date.now() < deadline) {
        await Promise.all([pubA!.invokePublish('from-a', { id: 'prime-a' }), pubB!.invokePublish('from-b', { id: 'prime-b' })]).catch(() => undefined);
        await sleep(100);
      }
      collector.clear();
    };
    await prime();
    for (let i = 0; i < DELIVERY_MESSAGES; i++) {
      void pubA!.transmitPublish('from-a', { id: `a-${i}` });
      void pubB!.transmitPublish('from-b', { id: `b-${i}` });
    }
    report.delivery.sent = 2 * DELIVERY_MESSAGES;
    await collector.until(() => collector.messages('b', 'from-a').length + collector.messages('a', 'from-b').length >= 2 * DELIVERY_MESSAGES, 10_000, 'cross-worker delivery').catch(() => undefined);
    report.delivery.received = collector.messages('b', 'from-a').length + collector.messages('a', 'from-b').length;
    if (report.delivery.received !== report.delivery.sent) problems.push(`cross-worker delivery ${report.delivery.received}/${report.delivery.sent}`);
    log(`cross-worker delivery ${report.delivery.received}/${report.delivery.sent}`);

    // SIGTERM every container, alternating idle and under load; each is started again and the
    // cluster must be ready before the next one.
    load = new Load([
      { publisher: pubA!, channel: 'from-a' },
      { publisher: pubB!, channel: 'from-b' },
    ]);
    frozen = new FrozenClients([workerA, workerB], FROZEN_CLIENTS_PER_WORKER);
    for (let round = 0; round < rounds; round++) {
      const phase = round % 2 === 0 ? 'idle' : 'load';
      for (const c of containers) {
        const isWorker = c.service === 'scc-worker';
        if (isWorker) {
          await frozen.connected(c.port, RESTART_READY_TIMEOUT_MS);
          frozen.freeze();
        }
        if (phase === 'load') {
          load.start();
          await sleep(LOAD_LEAD_MS);
        }
        const result = await c.terminate(STOP_LIMIT_MS).finally(() => frozen!.thaw());
        load.stop();
        const record: StopRecord = { container: c.name, service: c.service, phase, ...result, restartMs: 0 };
        report.stops.push(record);
        if (result.code !== 0) {
          const tail = (await c.logs()).trim().split('\n').slice(-6).join('\n');
          problems.push(`${c.name} SIGTERM (${phase}, round ${round + 1}): ${result.code === null ? `still running after ${STOP_LIMIT_MS} ms` : `exit code ${result.code}`} after ${Math.round(result.ms)} ms; last lines:\n${tail}`);
        }
        const restartedAt = performance.now();
        await c.start();
        await ready(RESTART_READY_TIMEOUT_MS).catch(async (error: Error) => {
          throw new Error(`cluster not ready after restarting ${c.name}: ${error.message}\n${(await c.logs()).trim().split('\n').slice(-6).join('\n')}`);
        });
        record.restartMs = performance.now() - restartedAt;
      }
      const last = report.stops.slice(-containers.length);
      log(`round ${round + 1}/${rounds} (${phase}): exits ${last.map((s) => `${s.container.slice(prefix.length + 1)} ${Math.round(s.ms)} ms`).join(', ')}; restarts ${last.map((s) => Math.round(s.restartMs)).join('/')} ms`);
    }
  } finally {
    load?.stop();
    frozen?.close();
    disconnectAll();
    await Promise.all(containers.map((c) => c.remove()));
    await removeCheckContainers(cli, process.pid);
  }
  report.totalMs = performance.now() - startedAt;
  return report;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
