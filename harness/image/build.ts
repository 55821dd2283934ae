/**
 * `docker build` of the repository's Dockerfile as a user runs it (plus `--network host`, the base
 * image argument and, when the environment names a CA bundle, the `npm_ca` build secret), what the
 * built image holds, and a baseline to compare its size with: the same base plus a plain
 * `pnpm deploy --prod` of each service.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, imageSize, runCommand, type DockerCli } from './docker.js';
import { ROOT } from './manifests.js';

/** The tag the check builds (the manifests' `scc-ts:1.0.0` is left to the user). */
export const CHECK_IMAGE_TAG = 'scc-ts:image-check';
/** The baseline's tag. */
export const BASELINE_IMAGE_TAG = 'scc-ts:image-check-baseline';
/** The build secret's id, as the Dockerfile mounts it. */
export const CA_SECRET_ID = 'npm_ca';

/** The CA bundle to hand the build, from NODE_EXTRA_CA_CERTS when that file exists; else null. */
export function caBundle(env: NodeJS.ProcessEnv = process.env): string | null {
  const file = env['NODE_EXTRA_CA_CERTS'];
  return file !== undefined && file !== '' && existsSync(file) ? file : null;
}

/** The `docker build` arguments: the user's command plus the three additions the check needs. */
export function buildArgs(options: { tag: string; baseImage: string; caFile: string | null; context?: string; dockerfile?: string }): string[] {
  return [
    'build',
    '--network',
    'host',
    '--build-arg',
    `NODE_IMAGE=${options.baseImage}`,
    ...(options.caFile === null ? [] : ['--secret', `id=${CA_SECRET_ID},src=${options.caFile}`]),
    ...(options.dockerfile === undefined ? [] : ['--file', options.dockerfile]),
    '--tag',
    options.tag,
    options.context ?? ROOT,
  ];
}

export interface BuiltImage {
  tag: string;
  buildMs: number;
  sizeBytes: number;
}

/** Builds the Dockerfile; resolves with the build time and the image size. */
export async function buildImage(cli: DockerCli, options: { tag?: string; baseImage: string; caFile: string | null; onLine?: (line: string) => void }): Promise<BuiltImage> {
  const tag = options.tag ?? CHECK_IMAGE_TAG;
  const startedAt = performance.now();
  await docker(cli, buildArgs({ tag, baseImage: options.baseImage, caFile: options.caFile }), { env: { ...process.env, ...cli.buildEnv }, ...(options.onLine && { onLine: options.onLine }) });
  return { tag, buildMs: performance.now() - startedAt, sizeBytes: await imageSize(cli, tag) };
}

/** What the runtime image holds that it should not; each entry is one finding (empty: clean). */
export async function unwantedContent(cli: DockerCli, tag: string): Promise<string[]> {
  // Run without network: the checks only read the filesystem.
  const script = [
    // Source and declaration maps, TypeScript sources and declarations of our packages.
    `find /app/packages -path '*/node_modules' -prune -o \\( -name '*.map' -o -name '*.ts' -o -name '.tsbuildinfo' \\) -print | sed 's/^/ours: /'`,
    // Tests and sources of our packages.
    `for d in /app/packages/*/test /app/packages/*/src /app/test /app/harness /app/bench; do [ -e "$d" ] && echo "folder: $d"; done`,
    // Build and test tools among the dependencies, and pnpm itself.
    `for m in typescript tsx vitest esbuild playwright-core kubernetes-models @types; do [ -e "/app/node_modules/$m" ] && echo "dev dependency: $m"; [ -e "/app/node_modules/.pnpm/node_modules/$m" ] && echo "dev dependency: $m"; done`,
    `command -v pnpm >/dev/null && echo "tool: pnpm at $(command -v pnpm)"; [ -e /usr/local/lib/node_modules/pnpm ] && echo 'tool: pnpm package'`,
    'true',
  ].join('; ');
  const out = await docker(cli, ['run', '--rm', '--network', 'none', '--entrypoint', 'sh', tag, '-c', script]);
  return out.split('\n').filter((l) => l.trim() !== '');
}

/** The packages a baseline deploys, each to its own folder. */
const SERVICES = ['@scc-ts/scc-state', '@scc-ts/scc-broker', '@scc-ts/scc-worker'] as const;

/**
 * The plain way to containerise a pnpm workspace: `pnpm deploy --prod` of each service onto the same
 * base, nothing trimmed. Built from the working tree (the suite's `tsc -b` output).
 */
export async function buildBaseline(cli: DockerCli, baseImage: string): Promise<BuiltImage> {
  const scratch = mkdtempSync(join(tmpdir(), 'scc-baseline-'));
  try {
    const startedAt = performance.now();
    for (const name of SERVICES) {
      await runCommand('npx', ['-y', 'pnpm@10', '--dir', ROOT, '--filter', name, 'deploy', '--prod', '--legacy', '--prefer-offline', join(scratch, name.split('/')[1]!)], { env: { ...process.env, CI: 'true' } });
    }
    writeFileSync(join(scratch, 'Dockerfile'), `FROM ${baseImage}\nCOPY . /app\nUSER 1000:1000\nWORKDIR /app/scc-worker\nCMD ["node", "server"]\n`);
    await docker(cli, buildArgs({ tag: BASELINE_IMAGE_TAG, baseImage, caFile: null, context: scratch }), { env: { ...process.env, ...cli.buildEnv } });
    return { tag: BASELINE_IMAGE_TAG, buildMs: performance.now() - startedAt, sizeBytes: await imageSize(cli, BASELINE_IMAGE_TAG) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
