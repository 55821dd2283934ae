/**
 * The image the manifests name, without a Docker engine: replays the Dockerfile's production stages
 * into a temporary folder (production dependencies only, then the runtime stage's COPY lines), and
 * starts each Deployment's command in its workingDir there with the manifest's environment — a state
 * server, a broker and a worker that must join, pass their probes and serve the demo page.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { LogEvent } from '@scc-ts/shared';
import { FAST_PEER_ENV, FAST_STATE_ENV, spawnService, started, stopAll, waitReady, type ServiceProcess } from '../helpers/processes.js';
import { contextSources, ignoredBy, npxPnpm, parseDockerfile, replayStage, runCommands, type ReplayedImage } from './dockerfile.js';
import { IMAGE_APP_DIR, ROOT, asDeployment, containerOf, loadManifests, offClusterEnv, resolvedEnv, serviceOf, type ServiceName } from '../../harness/image/manifests.js';

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { packageManager: string; scripts: Record<string, string> };
const deployments = new Map<ServiceName, IDeployment>(
  loadManifests()
    .filter((m) => m.kind === 'Deployment')
    .map((m) => [serviceOf(containerOf(asDeployment(m))), asDeployment(m)]),
);

let scratch = '';
let image: ReplayedImage;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'scc-image-'));
  image = await replayStage({
    stages: dockerfile,
    target: 'runtime',
    context: ROOT,
    builtStage: 'build',
    builtApp: ROOT,
    scratch,
    pnpm: npxPnpm,
    onPnpmVersion: (version) => expect(`pnpm@${version}`).toBe(rootPackage.packageManager),
  });
}, 90_000);

afterAll(async () => {
  await stopAll();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** The folder standing for `path` inside the image. */
const inImage = (path: string): string => join(image.root, path);

/** Starts a Deployment's container from the replayed image with its manifest env plus local overrides. */
async function startFromImage(service: ServiceName, overrides: Record<string, string>): Promise<ServiceProcess> {
  const c = containerOf(deployments.get(service)!);
  expect(c.command).toEqual(['node', 'server']);
  // Port 0 for the manifest's SCC_HEALTH_PORT: this host is shared (the listening line gives the port).
  const env = { ...image.env, ...offClusterEnv(resolvedEnv(c, { podIP: '127.0.0.1', secret: 'image-test-key' })), SCC_HEALTH_PORT: '0', ...overrides };
  return started(spawnService(service, service, env, inImage(c.workingDir!)));
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

describe('the image (Dockerfile replayed without Docker)', () => {
  it('builds from the stage the suite builds, as the non-root user the manifests run as', () => {
    const build = dockerfile.find((s) => s.name === 'build')!;
    expect(build.instructions.filter((i) => i.op === 'RUN').flatMap((i) => runCommands(i.args, `line ${i.line}`))).toContain('pnpm run build');
    expect(rootPackage.scripts['build']).toBe('tsc -b');
    const uid = deployments.get('scc-worker')!.spec?.template.spec?.securityContext?.runAsUser;
    expect(image.user).toBe(`${uid}:${uid}`);
    expect(image.workdir.startsWith(IMAGE_APP_DIR)).toBe(true);
  });

  it('.dockerignore keeps what the build copies and compiles, and leaves out the rest', () => {
    const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    const needed = [
      ...contextSources(dockerfile),
      ...['shared', 'scc-state', 'scc-broker', 'scc-worker'].map((p) => `packages/${p}/tsconfig.json`),
      'packages/shared/src/index.ts',
      'packages/scc-worker/server.ts',
      'packages/scc-worker/src/worker-server.ts',
      'packages/scc-worker/public/index.html',
    ];
    for (const path of needed) {
      expect(existsSync(join(ROOT, path)), path).toBe(true);
      expect(ignoredBy(dockerignore, path), path).toBeNull();
    }
    for (const path of ['node_modules/vitest/package.json', 'packages/scc-worker/node_modules/uuid', 'packages/shared/dist/index.js', '.git/HEAD', 'test/helpers/processes.ts', 'harness/cluster.ts']) {
      expect(ignoredBy(dockerignore, path), path).not.toBeNull();
    }
  });

  it('holds production dependencies only, and every entry point the manifests run', () => {
    for (const dev of ['typescript', 'vitest', 'tsx', 'playwright-core', 'kubernetes-models']) {
      expect(existsSync(inImage(`/app/node_modules/${dev}`)), dev).toBe(false);
    }
    for (const [service, d] of deployments) {
      const dir = inImage(containerOf(d).workingDir!);
      for (const file of ['server.js', 'dist/server.js', 'package.json']) expect(existsSync(join(dir, file)), `${service} ${file}`).toBe(true);
    }
    expect(existsSync(inImage('/app/packages/scc-worker/public/index.html'))).toBe(true);
    expect(existsSync(inImage('/app/packages/shared/dist/index.js'))).toBe(true);
    // Sources and tests stay out of the runtime image.
    expect(existsSync(inImage('/app/packages/scc-worker/src'))).toBe(false);
  });

  it('runs a cluster from the manifests: each service starts, joins and passes its probes', async () => {
    const state = await startFromImage('scc-state', { SCC_STATE_SERVER_PORT: '0', ...FAST_STATE_ENV });
    const peer = { SCC_STATE_SERVER_HOST: '127.0.0.1', SCC_STATE_SERVER_PORT: String(state.port), ...FAST_PEER_ENV };
    const broker = await startFromImage('scc-broker', { SCC_BROKER_SERVER_PORT: '0', ...peer });
    const worker = await startFromImage('scc-worker', { SOCKETCLUSTER_PORT: '0', ...peer });
    for (const [service, proc] of [['scc-state', state], ['scc-broker', broker], ['scc-worker', worker]] as const) {
      const c = containerOf(deployments.get(service)!);
      // The probes' port is the health port (the thread is in the image too).
      const healthPort = Number((await proc.waitForEvent(LogEvent.Listening))['healthPort']);
      expect(await get(healthPort, c.livenessProbe!.httpGet!.path!), `${service} liveness`).toEqual({ status: 200, body: 'OK' });
      // A worker is ready only once joined with its broker links up; a broker once joined.
      await waitReady(proc.port);
      expect((await get(healthPort, c.readinessProbe!.httpGet!.path!)).status, `${service} readiness`).toBe(200);
    }
    expect((await get(worker.port, '/')).body).toContain('SCC pub/sub demo');
  }, 30_000);
});
