/**
 * The packages as a user gets them: `pnpm pack:all` makes the tarballs, plain npm installs them into
 * a new app in the system's temp folder (outside the repository, so nothing of the workspace is
 * found), and then, from that app only:
 *
 * - the installed package.json files carry real versions (no `workspace:` range);
 * - TypeScript resolves the declarations (a `.ts` file checked with `tsc --noEmit`, whose
 *   `@ts-expect-error` lines prove the types are real, not `any`);
 * - every documented entry point imports, and the installed worker service (`scc-worker` bin) runs
 *   with its demo page;
 * - the README's example app (docs/examples/plugin-app.mjs) joins a cluster of our state server,
 *   a broker and a worker started from the repository by the harness launcher: messages cross
 *   between it and the repo worker both ways, and a publish to channel `toString` is refused with
 *   InvalidChannelError as `node server` refuses it.
 *
 * Needs the npm registry (through the machine's proxy): an install that fails or passes
 * `INSTALL_TIMEOUT_MS` fails the test with npm's last output lines.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../harness/cluster.js';
import { Collector, connect, disconnectAll, primeChannels, waitUntil } from '../../harness/clients.js';
import { RawSocket, scUrl } from '../../harness/raw.js';
import { spawnProcess, stopAll, type ServiceProcess } from '../../harness/service-process.js';
import { REPO_ROOT, awaitListening } from '../../harness/services.js';
import { UNHARDENED_SERVER_WARNING } from '@scc-ts/scc-worker';
import { EXAMPLE_PATH } from '../../scripts/docs.js';

/** Bound on `npm install` of the tarballs and socketcluster-server, ms. */
const INSTALL_TIMEOUT_MS = 240_000;
/** Bound on tsc -b plus `pnpm pack` of five packages, ms. */
const PACK_TIMEOUT_MS = 180_000;
/** Bound on one type check or import run in the app, ms (a loaded machine takes ~20 s to type-check). */
const STEP_TIMEOUT_MS = 120_000;
interface Manifest {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
const manifestOf = (dir: string): Manifest => JSON.parse(readFileSync(join(REPO_ROOT, 'packages', dir, 'package.json'), 'utf8')) as Manifest;
/** The socketcluster-server an app installs beside the plugin (the version the packages are built against). */
const SOCKETCLUSTER_SERVER = `socketcluster-server@${manifestOf('scc-worker').dependencies['socketcluster-server']}`;
/**
 * What a TypeScript app adds, as the README says: the type packages of the runtime dependencies our
 * declarations name (@types/ws for ws, …), in the versions we build with. They are not dependencies
 * of ours: a JavaScript app or the container image has no use for them.
 */
const TYPE_PACKAGES = [
  ...new Set(
    ['shared', 'scc-worker'].flatMap((dir) => {
      const { dependencies, devDependencies } = manifestOf(dir);
      return Object.entries(devDependencies)
        .filter(([name]) => name.startsWith('@types/') && name.slice('@types/'.length) in dependencies)
        .map(([name, range]) => `${name}@${range}`);
    }),
  ),
];

interface Packed {
  name: string;
  version: string;
  file: string;
  bytes: number;
}

let app = '';
let packed: Packed[] = [];
let cluster: Cluster | undefined;
const started: ServiceProcess[] = [];

/** The environment npm and node get: ours, without what a pnpm parent sets for its own scripts. */
function plainEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_|^pnpm_/i.test(key)));
}

/** Runs a command in the app; rejects with its exit and last output lines. */
function run(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { cwd: app, env: plainEnv(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-15).join('\n');
      const why = error.killed ? `did not finish within ${timeoutMs} ms` : `failed (${error.code ?? error.signal})`;
      reject(new Error(`${command} ${args.join(' ')} ${why}:\n${tail}`));
    });
  });
}

beforeAll(async () => {
  // The pack command: `pnpm pack:all` is `tsc -b && tsx scripts/pack.ts`.
  execFileSync(join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-b'], { cwd: REPO_ROOT, timeout: PACK_TIMEOUT_MS, stdio: 'pipe' });
  const out = execFileSync(join(REPO_ROOT, 'node_modules/.bin/tsx'), ['scripts/pack.ts'], { cwd: REPO_ROOT, timeout: PACK_TIMEOUT_MS, encoding: 'utf8', env: plainEnv() });
  packed = (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { packed: Packed[] }).packed;

  app = mkdtempSync(join(tmpdir(), 'scc-ts-app-'));
  expect(relative(REPO_ROOT, app).startsWith('..'), 'the app lies outside the repository').toBe(true);
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'scc-ts-plugin-app', version: '0.0.0', private: true, type: 'module' }, null, 2)}\n`);
  const startedAt = Date.now();
  await run('npm', ['install', '--no-audit', '--no-fund', SOCKETCLUSTER_SERVER, ...packed.map((p) => p.file)], INSTALL_TIMEOUT_MS);
  const installMs = Date.now() - startedAt;
  await run('npm', ['install', '--no-audit', '--no-fund', '--save-dev', ...TYPE_PACKAGES], INSTALL_TIMEOUT_MS);
  const sizes = packed.map((p) => `${p.name} ${(p.bytes / 1024).toFixed(1)} KiB`).join(', ');
  process.stdout.write(`install.test: packed ${sizes}; npm install of the tarballs ${installMs} ms, of the type packages ${Date.now() - startedAt - installMs} ms\n`);
}, PACK_TIMEOUT_MS + 2 * INSTALL_TIMEOUT_MS);

afterAll(async () => {
  disconnectAll();
  for (const service of started) await service.stop('SIGTERM', 5000);
  await cluster?.stop();
  await stopAll();
  if (app !== '') rmSync(app, { recursive: true, force: true });
}, 60_000);

describe('the packed packages installed with plain npm in an app outside the repository', () => {
  it('carry real versions: no workspace: range is left', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(['@scc-ts/history-client', '@scc-ts/scc-broker', '@scc-ts/scc-state', '@scc-ts/scc-worker', '@scc-ts/shared']);
    for (const { name, version } of packed) {
      const text = readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8');
      expect(text, name).not.toContain('workspace:');
      const manifest = JSON.parse(text) as { version: string; private?: boolean; license: string; dependencies?: Record<string, string> };
      expect(manifest.version, name).toBe(version);
      expect(manifest.private, name).toBeUndefined();
      expect(manifest.license, name).toBe('MIT');
      // The history client is for apps' clients and browsers: it depends on nothing.
      if (name === '@scc-ts/history-client') expect(manifest.dependencies, name).toBeUndefined();
      else if (name !== '@scc-ts/shared') expect(manifest.dependencies?.['@scc-ts/shared'], name).toBe(version);
      expect(existsSync(join(app, 'node_modules', name, 'LICENSE')), `${name} LICENSE`).toBe(true);
    }
    // Each service's `node server` entry, as a bin (`npx scc-state`, …).
    for (const bin of ['scc-state', 'scc-broker', 'scc-worker']) expect(existsSync(join(app, 'node_modules/.bin', bin)), bin).toBe(true);
  });

  it('resolve their types: a .ts file type-checks against them, and misuse is a type error', async () => {
    expect(TYPE_PACKAGES.map((p) => p.replace(/@[^@]*$/, '')).sort()).toEqual(['@types/ag-simple-broker', '@types/socketcluster-client', '@types/socketcluster-server', '@types/ws']);
    writeFileSync(
      join(app, 'check.ts'),
      [
        "import { createServer } from 'node:http';",
        "import socketClusterServer from 'socketcluster-server';",
        "import { attach, workerServerOptions, type ClusterClient } from '@scc-ts/scc-worker';",
        "import { ConfigError } from '@scc-ts/shared';",
        "import socketClusterClient from 'socketcluster-client';",
        "import { subscribeWithHistory, type Position } from '@scc-ts/history-client';",
        'const agServer = socketClusterServer.attach(createServer(), workerServerOptions({ limits: { maxConnections: 100 } }));',
        "const cluster: ClusterClient = attach(agServer, { stateServerHost: '127.0.0.1', instancePort: 8000 });",
        '// @ts-expect-error clientPoolSize is a number',
        "attach(agServer, { stateServerHost: '127.0.0.1', instancePort: 8000, clientPoolSize: 'two' });",
        '// @ts-expect-error the server is typed (not any)',
        'agServer.noSuchMember;',
        'const problems: readonly string[] = new ConfigError([]).problems;',
        'void cluster.close(), problems;',
        "// A stock client socket is what the history client takes.",
        "const sub = subscribeWithHistory(socketClusterClient.create({ port: 8000, autoConnect: false }), 'chat/1', { onMessage: () => {} });",
        'const position: Position | null = sub.position;',
        '// @ts-expect-error a position is {epoch, offset}',
        "subscribeWithHistory(socketClusterClient.create({ autoConnect: false }), 'chat/1', { position: { offset: 1 }, onMessage: () => {} });",
        'void position;',
        '',
      ].join('\n'),
    );
    const compilerOptions = { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['check.ts'] }));
    // skipLibCheck false: our declarations are checked too, with every type package they name.
    // The repo's TypeScript, by absolute path: the app installs no compiler of its own.
    await run(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], STEP_TIMEOUT_MS);
  }, STEP_TIMEOUT_MS);

  it('import every documented entry point', async () => {
    writeFileSync(
      join(app, 'entries.mjs'),
      "const names = {};\nfor (const pkg of ['@scc-ts/shared', '@scc-ts/scc-state', '@scc-ts/scc-broker', '@scc-ts/scc-worker', '@scc-ts/history-client']) names[pkg] = Object.keys(await import(pkg));\nconsole.log(JSON.stringify(names));\n",
    );
    const names = JSON.parse(await run(process.execPath, ['entries.mjs'], STEP_TIMEOUT_MS)) as Record<string, string[]>;
    expect(names['@scc-ts/scc-worker']).toEqual(expect.arrayContaining(['attach', 'workerServerOptions', 'ClusterClient', 'WorkerBrokerEngine', 'startWorkerServer', 'createWorkerMetrics']));
    expect(names['@scc-ts/shared']).toEqual(expect.arrayContaining(['SETTINGS', 'ConfigError', 'hardenedServerOptions', 'harden', 'createLogger', 'LogEvent']));
    expect(names['@scc-ts/scc-state']).toEqual(expect.arrayContaining(['startStateServer', 'Registry', 'Notifier']));
    expect(names['@scc-ts/scc-broker']).toEqual(expect.arrayContaining(['startBrokerServer', 'Relay', 'drainBroker']));
    expect(names['@scc-ts/history-client']).toEqual(expect.arrayContaining(['subscribeWithHistory', 'fetchHistory', 'HistoryTracker', 'historyEntries']));
  }, STEP_TIMEOUT_MS);

  it('run the installed worker service (its bin) with the demo page', async () => {
    const worker = spawnProcess({ name: 'installed-worker', command: join(app, 'node_modules/.bin/scc-worker'), args: [], cwd: app, env: { SOCKETCLUSTER_PORT: '0', SCC_LOG_FORMAT: 'json' } });
    started.push(worker);
    await awaitListening(worker);
    const page = await fetch(`http://127.0.0.1:${worker.port}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    expect((await fetch(`http://127.0.0.1:${worker.port}/socketcluster-client.min.js`)).status).toBe(200);
    expect((await worker.stop('SIGTERM', 10_000)).code).toBe(0);
  }, STEP_TIMEOUT_MS);

  it("run the README's example app as a worker: pub/sub crosses to the repo's worker both ways, and 'toString' is refused", async () => {
    cluster = await startCluster({ brokers: 1, workers: 1 });
    const repoWorker = cluster.workers[0]!;
    copyFileSync(EXAMPLE_PATH, join(app, 'plugin-app.mjs'));
    const appWorker = spawnProcess({
      name: 'plugin-app',
      args: ['plugin-app.mjs'],
      cwd: app,
      env: { PORT: '0', SCC_STATE_SERVER_HOST: '127.0.0.1', SCC_STATE_SERVER_PORT: String(cluster.state.port) },
    });
    started.push(appWorker);
    const joined = await appWorker.waitForLog(/^port \d+, brokers: ws:\/\//, 20_000);
    const port = Number(/^port (\d+)/.exec(joined.msg)?.[1]);
    expect(joined.msg).toContain(`ws://127.0.0.1:${cluster.brokers[0]!.port}`);

    const collector = new Collector();
    await collector.subscribe('app', await connect(port), 'installed');
    await collector.subscribe('repo', await connect(repoWorker.port), 'installed');
    const fromApp = await connect(port);
    const fromRepo = await connect(repoWorker.port);
    await primeChannels(fromApp, collector, ['repo'], ['installed']);
    await primeChannels(fromRepo, collector, ['app'], ['installed']);
    await fromApp.invokePublish('installed', { id: 'from-app' });
    await fromRepo.invokePublish('installed', { id: 'from-repo' });
    const real = (label: string): string[] => collector.messages(label, 'installed').filter((m) => !m.probe).map((m) => m.id).sort();
    await collector.until(() => real('app').length === 2 && real('repo').length === 2, 10_000, 'both messages on both workers');
    expect(real('app')).toEqual(['from-app', 'from-repo']);
    expect(real('repo')).toEqual(['from-app', 'from-repo']);

    // Built with workerServerOptions(): the refusal `node server` makes, with the same named error.
    const raw = new RawSocket(scUrl(port));
    try {
      expect(await raw.handshake()).toEqual({ kind: 'replied' });
      const refused = raw.invoke('#publish', { channel: 'toString', data: 1 });
      expect((await raw.probe(5000)).kind).toBe('error');
      expect(raw.replies.has(refused)).toBe(false);
      expect(raw.open).toBe(true);
    } finally {
      raw.close();
    }
    await waitUntil(() => appWorker.stderr.some((l) => /^warning: InvalidChannelError: channel name "toString" is refused/.test(l)), 5000, "the app's InvalidChannelError warning");
    // A hardened server: attach() had nothing to warn about, and nothing went wrong.
    expect(appWorker.logs.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([]);
    // `node server` builds its server with the same call: its plugin has nothing to warn about either.
    expect(repoWorker.logs.filter((l) => l.msg === UNHARDENED_SERVER_WARNING)).toEqual([]);
    expect(appWorker.alive).toBe(true);
    expect((await appWorker.stop('SIGTERM', 10_000)).code).toBe(0);
  }, 90_000);
});
