/**
 * A local stand-in for `node:20-bookworm-slim` when public images cannot be pulled: Debian bookworm
 * from `debootstrap --variant=minbase` (the mirror apt is configured with), this machine's own
 * Node.js binary and npm under /usr/local as the official image has them, and the `node` user
 * (uid/gid 1000), loaded with `docker import`. Built once per tag; later calls find it by tag.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, appendFileSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { docker, DockerUnavailableError, imageExists, runCommand, type DockerCli } from './docker.js';

/** The Debian release the official node:20-bookworm-slim is built on. */
const SUITE = 'bookworm';
/** Used when apt's configuration names no mirror for the suite. */
const FALLBACK_MIRROR = 'http://deb.debian.org/debian';
/** uid and gid of the official image's `node` user (the manifests' runAsUser). */
export const NODE_UID = 1000;

/** The stand-in's tag: one per Node.js version, so a new node rebuilds it. */
export function baseImageTag(nodeVersion = process.versions.node): string {
  return `scc-ts-local/node:${nodeVersion}-${SUITE}-slim`;
}

/** The first Debian mirror apt is configured with for the suite (deb822 `.sources` or `sources.list`). */
export function aptMirror(): string {
  const files = ['/etc/apt/sources.list', ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)) : [])];
  for (const file of files.filter((f) => existsSync(f))) {
    const text = readFileSync(file, 'utf8');
    for (const block of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(block)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(block)?.[1]?.split(/\s+/) ?? [];
      if (uri && suites.includes(SUITE) && !uri.includes('security')) return uri;
    }
    for (const line of text.split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m && m[2] === SUITE) return m[1]!;
    }
  }
  return FALLBACK_MIRROR;
}

/** Where this machine's npm lives: `<prefix>/lib/node_modules/npm` next to the node binary. */
function npmDir(): string {
  const dir = join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm');
  if (!existsSync(join(dir, 'bin', 'npm-cli.js'))) throw new Error(`npm not found at ${dir}`);
  return dir;
}

/** Adds node and npm under /usr/local, the `node` user, and trims apt's download caches. */
function furnish(root: string): void {
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  mkdirSync(join(root, 'usr/local/lib/node_modules'), { recursive: true });
  cpSync(process.execPath, join(root, 'usr/local/bin/node'));
  cpSync(npmDir(), join(root, 'usr/local/lib/node_modules/npm'), { recursive: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
  appendFileSync(join(root, 'etc/group'), `node:x:${NODE_UID}:\n`);
  appendFileSync(join(root, 'etc/passwd'), `node:x:${NODE_UID}:${NODE_UID}::/home/node:/bin/bash\n`);
  mkdirSync(join(root, 'home/node'), { recursive: true });
  chownSync(join(root, 'home/node'), NODE_UID, NODE_UID);
  for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    for (const entry of readdirSync(join(root, dir))) if (entry.endsWith('.deb') || entry.endsWith('_Packages') || entry.includes('_dists_')) rmSync(join(root, dir, entry), { force: true });
  }
}

export interface BaseImage {
  tag: string;
  /** Whether this call built it (false: found by tag). */
  built: boolean;
  /** Time spent building it, ms (0 when found). */
  buildMs: number;
}

/** Returns the stand-in's tag, building and importing it first when no image has that tag. */
export async function ensureBaseImage(cli: DockerCli, log: (line: string) => void = () => {}): Promise<BaseImage> {
  const tag = baseImageTag();
  if (await imageExists(cli, tag)) return { tag, built: false, buildMs: 0 };
  if ((await runCommand('debootstrap', ['--version'], { allowFailure: true }).catch(() => ({ code: -1 }))).code !== 0) {
    throw new DockerUnavailableError(`no image ${tag} and no debootstrap to build it (apt-get install debootstrap)`);
  }
  const startedAt = Date.now();
  const scratch = mkdtempSync(join(tmpdir(), 'scc-base-'));
  const root = join(scratch, 'rootfs');
  try {
    const mirror = aptMirror();
    log(`building base image ${tag}: debootstrap --variant=minbase ${SUITE} from ${mirror}`);
    await runCommand('debootstrap', ['--variant=minbase', SUITE, root, mirror]);
    furnish(root);
    const tar = spawn('tar', ['-C', root, '--numeric-owner', '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await docker(cli, ['import', '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--change', `ENV NODE_VERSION=${process.versions.node}`, '--change', 'CMD ["node"]', '-', tag], {
      input: tar.stdout,
    });
    log(`base image ${tag} ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    return { tag, built: true, buildMs: Date.now() - startedAt };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
