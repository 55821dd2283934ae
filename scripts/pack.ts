/**
 * `pnpm pack:all`: the five packages as npm tarballs in `dist-packages/` (ignored by git), ready for
 * `npm install ./dist-packages/*.tgz` in any app, or for `npm publish`. Run after `tsc -b` (the root
 * script does both). Each package is packed with `pnpm pack`, which turns the `workspace:` ranges
 * into the real versions; every tarball is then checked: no `workspace:` left in its package.json,
 * its licence, README and the files its `exports`, `main` and `bin` name are inside, and no source
 * maps, build info or tests. Prints one line per tarball, then one JSON line; exits 1 on a problem.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where the tarballs go. */
export const PACK_DIR = join(ROOT, 'dist-packages');
/** The packages, in dependency order. */
export const PACKAGE_DIRS = ['shared', 'scc-state', 'scc-broker', 'scc-worker', 'scc-history-client'] as const;
/** Where each package's tsconfig `rootDir` lies, relative to the package: `dist/x.js` is built from `<root>x.ts`. */
const SOURCE_ROOTS: Readonly<Record<(typeof PACKAGE_DIRS)[number], string>> = { shared: 'src/', 'scc-state': '', 'scc-broker': '', 'scc-worker': '', 'scc-history-client': 'src/' };
/** Bound on one `pnpm pack`, ms (a first `npx pnpm` may fetch pnpm itself). */
const PACK_TIMEOUT_MS = 120_000;
/** Bound on reading a tarball with tar, ms. */
const TAR_TIMEOUT_MS = 20_000;

/** A tarball made and checked. */
export interface PackedPackage {
  name: string;
  version: string;
  /** Absolute path of the .tgz. */
  file: string;
  /** Size of the .tgz, bytes. */
  bytes: number;
  /** Files inside. */
  files: number;
}

/** Thrown when a tarball is not fit to publish; lists every problem. */
export class PackError extends Error {
  override readonly name = 'PackError';
  constructor(readonly problems: readonly string[]) {
    super(`packed packages are not fit to publish:\n  ${problems.join('\n  ')}`);
  }
}

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports?: Record<string, string | Record<string, string>>;
}

/** pnpm as the caller ran us (`pnpm pack:all`), else the version the root package.json names, through npx. */
function pnpm(): { command: string; prefix: string[] } {
  const execPath = process.env.npm_execpath;
  if (execPath !== undefined && /pnpm/.test(execPath)) return { command: process.execPath, prefix: [execPath] };
  const { packageManager } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { packageManager: string };
  return { command: 'npx', prefix: ['-y', packageManager] };
}

/** Paths inside a tarball (without the `package/` prefix) and its package.json. */
function readTarball(file: string): { paths: Set<string>; manifestText: string } {
  const listing = execFileSync('tar', ['-tzf', file], { encoding: 'utf8', timeout: TAR_TIMEOUT_MS });
  const paths = new Set(listing.split('\n').filter(Boolean).map((p) => p.replace(/^package\//, '')));
  const manifestText = execFileSync('tar', ['-xzOf', file, 'package/package.json'], { encoding: 'utf8', timeout: TAR_TIMEOUT_MS });
  return { paths, manifestText };
}

/** What is wrong with one tarball (empty: nothing). */
function check(dir: (typeof PACKAGE_DIRS)[number], file: string): { problems: string[]; manifest: Manifest; files: number } {
  const { paths, manifestText } = readTarball(file);
  const manifest = JSON.parse(manifestText) as Manifest;
  const problems: string[] = [];
  const at = (what: string): string => `${manifest.name}: ${what}`;
  if (manifestText.includes('workspace:')) problems.push(at('package.json still has a workspace: range'));
  if (manifest.private === true) problems.push(at('is private'));
  const named = [manifest.main, manifest.types, ...Object.values(manifest.bin ?? {})];
  for (const entry of Object.values(manifest.exports ?? {})) named.push(...(typeof entry === 'string' ? [entry] : Object.values(entry)));
  for (const path of ['LICENSE', 'README.md', 'package.json', ...named]) {
    if (path !== undefined && !paths.has(path.replace(/^\.\//, ''))) problems.push(at(`${path} is not in the tarball`));
  }
  for (const path of paths) {
    if (/\.map$|tsbuildinfo|(^|\/)test\/|\.test\.|\.ts$/.test(path) && !path.endsWith('.d.ts')) problems.push(at(`${path} should not be published`));
  }
  // tsc -b never deletes output: a built file whose source is gone is stale and must not ship.
  for (const path of paths) {
    if (!path.startsWith('dist/') || !/\.(d\.ts|js)$/.test(path)) continue;
    // A source is TypeScript, or JavaScript that tsc checks and copies (allowJs: shared's health thread).
    const stem = `${SOURCE_ROOTS[dir]}${path.slice('dist/'.length).replace(/\.(d\.ts|js)$/, '')}`;
    const source = `${stem}.ts`;
    if (!existsSync(join(ROOT, 'packages', dir, source)) && !existsSync(join(ROOT, 'packages', dir, `${stem}.js`))) {
      problems.push(at(`${path} has no source ${source} (a stale build: remove dist/ and build again)`));
    }
  }
  const source = JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as Manifest;
  if (manifest.version !== source.version) problems.push(at(`packed version ${manifest.version} differs from ${source.version}`));
  return { problems, manifest, files: paths.size };
}

/** Packs every package into PACK_DIR (emptied first) and checks each tarball; throws PackError. */
export function packAll(): PackedPackage[] {
  rmSync(PACK_DIR, { recursive: true, force: true });
  mkdirSync(PACK_DIR, { recursive: true });
  const { command, prefix } = pnpm();
  const packed: PackedPackage[] = [];
  const problems: string[] = [];
  for (const dir of PACKAGE_DIRS) {
    const out = execFileSync(command, [...prefix, 'pack', '--pack-destination', PACK_DIR], {
      cwd: join(ROOT, 'packages', dir),
      encoding: 'utf8',
      timeout: PACK_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // pnpm prints the tarball's path as its last line.
    const file = out.trim().split('\n').pop()?.trim() ?? '';
    if (!file.endsWith('.tgz')) throw new PackError([`${dir}: pnpm pack printed no tarball path: ${out.trim().slice(-200)}`]);
    const result = check(dir, file);
    problems.push(...result.problems);
    packed.push({ name: result.manifest.name, version: result.manifest.version, file, bytes: statSync(file).size, files: result.files });
  }
  if (problems.length > 0) throw new PackError(problems);
  return packed;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const packed = packAll();
    for (const p of packed) process.stdout.write(`pack: ${p.name}@${p.version} ${(p.bytes / 1024).toFixed(1)} KiB, ${p.files} files → ${p.file}\n`);
    process.stdout.write(`${JSON.stringify({ packed })}\n`);
  } catch (error) {
    process.stderr.write(`pack: ${(error as Error).name}: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
