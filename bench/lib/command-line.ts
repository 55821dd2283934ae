/**
 * The bench's command line (bench/run.ts): flags parsed and checked once, before anything starts, into
 * the systems, workloads and settings of the run. A bad flag or a missing prerequisite stops the bench
 * with one line (exit code 2); a too-low open-file limit makes it re-run itself under a raised one
 * (lib/open-files.ts).
 */
import { mkdirSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { HugeVariant } from './huge.js';
import { ensureOpenFiles, ephemeralPorts, hardOpenFileLimit } from './open-files.js';
import { DEFAULT_MAX_CONNECTIONS } from '@scc-ts/shared';
import { DEFAULT_SYSTEMS, requireRedis, SYSTEMS } from './systems.js';

/** This checkout (the `ours` system runs its packages' dist/). */
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILT_PACKAGES = ['shared', 'scc-state', 'scc-broker', 'scc-worker'] as const;

/** The newest modification time (ms) of the TypeScript sources under `dir`. */
function newestSource(dir: string): { path: string; mtimeMs: number } {
  let newest = { path: '', mtimeMs: 0 };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = newestSource(path);
      if (inner.mtimeMs > newest.mtimeMs) newest = inner;
    } else if (entry.name.endsWith('.ts')) {
      const { mtimeMs } = statSync(path);
      if (mtimeMs > newest.mtimeMs) newest = { path, mtimeMs };
    }
  }
  return newest;
}

/**
 * A checkout whose sources are newer than its last build: the bench would measure the old code
 * (`pnpm bench` builds first; `tsx bench/run.ts` does not). Returns what is stale, or null.
 */
function staleBuild(root: string): string | null {
  for (const pkg of BUILT_PACKAGES) {
    const dir = join(root, 'packages', pkg);
    const stamp = join(dir, 'dist', '.tsbuildinfo');
    if (!existsSync(stamp)) return `${dir} has no build (dist/.tsbuildinfo)`;
    const source = newestSource(join(dir, 'src'));
    if (source.mtimeMs > statSync(stamp).mtimeMs) return `${source.path} is newer than ${pkg}'s build`;
  }
  return null;
}

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
export const WORKLOADS = ['hop', 'fanout', 'huge', 'storm', 'recover', 'history-memory'] as const;
export type Workload = (typeof WORKLOADS)[number];
/** What a plain `pnpm bench` runs: the history workloads (lib/history.ts, ours only) are asked for by name. */
export const DEFAULT_WORKLOADS: readonly Workload[] = ['hop', 'fanout', 'huge', 'storm'];
/** The workloads measured with the hop/fanout generator (their figures stay comparable with earlier runs). */
export const FLOW_WORKLOADS = ['hop', 'fanout'] as const;
export type FlowWorkload = (typeof FLOW_WORKLOADS)[number];

/** A bad flag or a missing prerequisite: one line on stderr, exit code 2, nothing started. */
function usage(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

/** Reads and checks the command line (exits on a usage error; may re-run the bench under a raised open-file limit). */
export function readCommandLine() {
  /** Parses the command line; an unknown flag is a usage error. */
  function parseFlags() {
    try {
      return parseArgs({
        options: {
          systems: { type: 'string' },
          workloads: { type: 'string', default: DEFAULT_WORKLOADS.join(',') },
          rounds: { type: 'string' },
          'hop-channels': { type: 'string' },
          'hop-messages': { type: 'string' },
          window: { type: 'string' },
          'fan-channels': { type: 'string' },
          'fan-subscribers': { type: 'string' },
          'fan-rate': { type: 'string' },
          'fan-duration': { type: 'string' },
          size: { type: 'string' },
          publishers: { type: 'string' },
          idle: { type: 'string' },
          'huge-subscribers': { type: 'string' },
          'huge-rates': { type: 'string' },
          'huge-sizes': { type: 'string' },
          'huge-broadcasts': { type: 'string' },
          'huge-generators': { type: 'string' },
          'storm-clients': { type: 'string' },
          'storm-spread': { type: 'string' },
          'storm-channels': { type: 'string' },
          'storm-flow-rate': { type: 'string' },
          'storm-generators': { type: 'string' },
          'idle-systems': { type: 'string' },
          'recover-messages': { type: 'string' },
          'memory-messages': { type: 'string' },
          'memory-channels': { type: 'string' },
          out: { type: 'string' },
          smoke: { type: 'boolean', default: false },
          'cpu-prof': { type: 'string', default: '' },
          'ours-env': { type: 'string', default: '' },
          baseline: { type: 'string' },
        },
      }).values;
    } catch (error) {
      return usage((error as Error).message);
    }
  }
  const flags = parseFlags();

  /** A positive integer flag, its smoke default, or its full default. */
  function intFlag(name: keyof typeof flags, full: number, smoke: number, min = 1): number {
    const raw = flags[name];
    const value = raw === undefined ? (flags.smoke ? smoke : full) : Number(raw);
    if (!Number.isInteger(value) || value < min) usage(`--${name}=${String(raw)}: must be an integer ≥ ${min}`);
    return value;
  }
  /** A comma-separated list of positive integers, its smoke default, or its full default. */
  function intListFlag(name: keyof typeof flags, full: readonly number[], smoke: readonly number[]): number[] {
    const raw = flags[name];
    if (raw === undefined) return [...(flags.smoke ? smoke : full)];
    const values = String(raw).split(',').map(Number);
    if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1)) usage(`--${name}=${String(raw)}: must be a comma-separated list of integers ≥ 1`);
    return values;
  }
  function listFlag<T extends string>(name: 'systems' | 'workloads' | 'idle-systems', allowed: readonly T[], fallback?: readonly T[]): T[] {
    const raw = flags[name] ?? fallback?.join(',');
    const items = String(raw).split(',').filter(Boolean);
    const bad = items.filter((s) => !allowed.includes(s as T));
    if (bad.length || items.length === 0) usage(`--${name}=${String(raw)}: choose from ${allowed.join(', ')}`);
    return items as T[];
  }

  /** The checkout the baseline system runs from (`--baseline DIR`), checked before anything starts. */
  const baselineRoot = flags.baseline === undefined ? undefined : resolve(flags.baseline);
  if (baselineRoot !== undefined) {
    for (const pkg of ['scc-state', 'scc-broker', 'scc-worker']) {
      const entry = join(baselineRoot, 'packages', pkg, 'dist', 'server.js');
      if (!existsSync(entry)) usage(`--baseline ${flags.baseline}: ${entry} not found (build that checkout first: pnpm install && pnpm build)`);
    }
  }
  for (const root of baselineRoot === undefined ? [REPO_ROOT] : [REPO_ROOT, baselineRoot]) {
    const stale = staleBuild(root);
    if (stale !== null) usage(`${stale}: build it first (pnpm bench builds this checkout; npx tsc -b in ${root})`);
  }
  const systems = listFlag('systems', SYSTEMS, baselineRoot === undefined ? DEFAULT_SYSTEMS : ['baseline', ...DEFAULT_SYSTEMS]);
  if (systems.includes('baseline') && baselineRoot === undefined) usage('--systems includes baseline: give the checkout to run it from with --baseline DIR');
  const workloads = listFlag('workloads', WORKLOADS);
  /** Systems whose idle memory is measured (default: all of --systems). */
  const idleSystems = flags['idle-systems'] === undefined ? systems : listFlag('idle-systems', systems);
  const settings = {
    rounds: intFlag('rounds', 3, 1),
    hopChannels: intFlag('hop-channels', 200, 10),
    hopMessages: intFlag('hop-messages', 50_000, 500),
    window: intFlag('window', 2_000, 200),
    fanChannels: intFlag('fan-channels', 20, 4),
    fanSubscribers: intFlag('fan-subscribers', 10, 3),
    fanRate: intFlag('fan-rate', 5_000, 300),
    fanDurationS: intFlag('fan-duration', 10, 1),
    size: intFlag('size', 100, 100, 0),
    publishers: intFlag('publishers', 4, 2),
    idle: intFlag('idle', 10_000, 100, 0),
    hugeSubscribers: intFlag('huge-subscribers', 10_000, 200),
    hugeRates: intListFlag('huge-rates', [1, 20], [20]),
    hugeSizes: intListFlag('huge-sizes', [100, 10_000], [100]),
    hugeBroadcasts: intFlag('huge-broadcasts', 40, 5),
    hugeGenerators: intFlag('huge-generators', 2, 1),
    stormClients: intFlag('storm-clients', 10_000, 300),
    stormSpreadMs: intFlag('storm-spread', 1_000, 1_000),
    stormChannels: intFlag('storm-channels', 100, 10),
    stormFlowRate: intFlag('storm-flow-rate', 200, 200),
    stormGenerators: intFlag('storm-generators', 2, 1),
    recoverMessages: intListFlag('recover-messages', [1_000, 10_000], [200]),
    memoryMessages: intFlag('memory-messages', 100_000, 5_000),
    memoryChannels: intFlag('memory-channels', 100, 10),
  };
  /** Each combination of --huge-rates × --huge-sizes is a workload variant of its own. */
  const hugeVariants: HugeVariant[] = settings.hugeRates.flatMap((rate) =>
    settings.hugeSizes.map((size) => ({ name: `huge-${rate}/s-${size}B`, subscribers: settings.hugeSubscribers, broadcasts: settings.hugeBroadcasts, rate, size })),
  );
  /** Extra environment for OUR brokers and workers (e.g. SCC_PUB_SUB_BATCH_DURATION=5), to compare settings. */
  const oursEnv: Record<string, string> = Object.fromEntries(
    String(flags['ours-env'])
      .split(',')
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at < 1) usage(`--ours-env: '${pair}' is not KEY=VALUE`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  );
  const cpuProf = new Set(String(flags['cpu-prof']).split(',').filter(Boolean));
  for (const role of cpuProf) if (!['worker', 'broker', 'state'].includes(role)) usage(`--cpu-prof=${String(flags['cpu-prof'])}: choose from worker, broker, state`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const cpuProfDir = join(RESULTS_DIR, `profiles-${stamp}`);
  if (cpuProf.size) mkdirSync(cpuProfDir, { recursive: true });
  // Each connection costs one descriptor in a generator and one in a server (all inherit our limit): the
  // bench re-runs itself under a raised `ulimit -n` when it is too low (lib/open-files.ts).
  /** Descriptors a process holds besides its connections (a server has about 40: pipes, listeners, links). */
  const FILE_HEADROOM = 200;
  // The most connections one process holds at once: idle and the storm's first phase put all of theirs
  // on one worker; huge splits its subscribers over two workers (not the single-server ceiling) and over
  // its generators.
  const huge = settings.hugeSubscribers + 1;
  const hugePerProcess = systems.includes('ceiling') ? huge : Math.max(Math.ceil(huge / 2), Math.ceil(huge / settings.hugeGenerators));
  const connectionsAtOnce = Math.max(settings.idle, workloads.includes('storm') ? settings.stormClients : 0, workloads.includes('huge') ? hugePerProcess : 0);
  const openFiles = ensureOpenFiles(connectionsAtOnce + FILE_HEADROOM);
  if (openFiles.limit < connectionsAtOnce + FILE_HEADROOM) {
    usage(
      `${connectionsAtOnce} connections at once in one process need ${connectionsAtOnce + FILE_HEADROOM} open files but ulimit -n is ${openFiles.limit} and could not be raised ` +
        `(hard limit ${hardOpenFileLimit()}; beyond it needs root or /etc/security/limits.conf): lower --idle / --storm-clients / --huge-subscribers`,
    );
  }
  const ports = ephemeralPorts();
  if (systems.includes('socketio')) {
    try {
      requireRedis();
    } catch (error) {
      usage((error as Error).message);
    }
  }
  // Our workers refuse connections past SCC_MAX_CONNECTIONS (default 10,000, pending and open, HTTP 503):
  // a run that may hold more on one worker sets it for ours (and the baseline) as an operator would, and
  // says so, unless --ours-env chose a value.
  let connectionLimit: number | undefined;
  if (connectionsAtOnce + FILE_HEADROOM > DEFAULT_MAX_CONNECTIONS && oursEnv['SCC_MAX_CONNECTIONS'] === undefined) {
    connectionLimit = connectionsAtOnce + FILE_HEADROOM;
    oursEnv['SCC_MAX_CONNECTIONS'] = String(connectionLimit);
  }
  return { smoke: flags.smoke, out: flags.out, systems, workloads, idleSystems, settings, hugeVariants, oursEnv, connectionLimit, cpuProf, baselineRoot, stamp, cpuProfDir, openFiles, ports, connectionsAtOnce };
}
