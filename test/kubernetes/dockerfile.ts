/**
 * Replays the repository's Dockerfile without a Docker engine, just far enough to prove what the image
 * contains: the `build` stage is the working tree after `tsc -b` (the test suite builds it first), every
 * other stage gets a folder standing for its root filesystem, COPY copies as Docker does, and RUN runs
 * the pnpm commands it names. Anything else that would change files is refused, so the Dockerfile cannot
 * grow a step that this replay silently skips.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  /** The base: an image reference or an earlier stage's name. */
  from: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages, joining `\` continuations and substituting global ARG defaults. */
export function parseDockerfile(text: string): Stage[] {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!.trim();
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1).trim()} ${lines[++i]!.trim()}`;
    if (line === '' || line.startsWith('#')) continue;
    const space = line.indexOf(' ');
    const op = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const args = space < 0 ? '' : line.slice(space + 1).trim();
    const current = stages.at(-1);
    if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot read FROM ${args}`);
      const from = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => globalArgs.get((a ?? b)!) ?? '');
      stages.push({ name: m[2] ?? String(stages.length), from, instructions: [] });
    } else if (op === 'ARG' && !current) {
      const [name, value = ''] = args.split('=', 2) as [string, string?];
      globalArgs.set(name, value);
    } else if (current) {
      current.instructions.push({ op, args, line: start + 1 });
    } else {
      throw new Error(`Dockerfile line ${start + 1}: ${op} before the first FROM`);
    }
  }
  return stages;
}

export interface ReplayOptions {
  stages: Stage[];
  /** The stage to materialise. */
  target: string;
  /** The build context (the repository root). */
  context: string;
  /** The stage whose `/app` is the already-built working tree instead of a replay. */
  builtStage: string;
  /** The working tree standing for `builtStage`'s `/app`. */
  builtApp: string;
  /** A fresh folder under which each replayed stage gets its root. */
  scratch: string;
  /** Runs `pnpm <args>` in `cwd` (the test passes the same pnpm the suite uses). */
  pnpm: (args: string[], cwd: string) => Promise<void>;
  /** Checks a `npm install -g pnpm@<version>` line, e.g. against package.json's packageManager. */
  onPnpmVersion: (version: string) => void;
}

/** The replayed target: its root folder and the ENV, USER and WORKDIR it ends with. */
export interface ReplayedImage {
  root: string;
  env: Record<string, string>;
  user: string | null;
  workdir: string;
}

/** Materialises `target` and what it depends on; returns its root folder and final settings. */
export async function replayStage(options: ReplayOptions): Promise<ReplayedImage> {
  const done = new Map<string, ReplayedImage>();

  /** Where absolute path `path` of stage `name` lies on this machine. */
  const pathIn = async (name: string, path: string): Promise<string> => {
    if (name === options.builtStage) {
      if (!path.startsWith('/app/') && path !== '/app') throw new Error(`cannot map ${path} of stage ${name} outside /app`);
      return join(options.builtApp, path.slice('/app'.length));
    }
    return join((await replay(name)).root, path);
  };

  const replay = async (name: string): Promise<ReplayedImage> => {
    const cached = done.get(name);
    if (cached) return cached;
    const stage = options.stages.find((s) => s.name === name);
    if (!stage) throw new Error(`no stage ${name}`);
    const root = join(options.scratch, name);
    const parent = options.stages.find((s) => s.name === stage.from);
    const state: ReplayedImage = parent ? { ...(await replay(parent.name)), root } : { root, env: {}, user: null, workdir: '/' };
    state.env = { ...state.env };
    if (parent) cpSync(parent.name === options.builtStage ? options.builtApp : join(options.scratch, parent.name), root, { recursive: true, verbatimSymlinks: true });
    mkdirSync(root, { recursive: true });
    const abs = (p: string): string => (p.startsWith('/') ? p : join(state.workdir, p));

    for (const ins of stage.instructions) {
      const where = `Dockerfile line ${ins.line}`;
      switch (ins.op) {
        case 'WORKDIR':
          state.workdir = abs(ins.args);
          mkdirSync(join(root, state.workdir), { recursive: true });
          break;
        case 'ENV': {
          const m = /^(\w+)=(\S*)$/.exec(ins.args);
          if (!m) throw new Error(`${where}: write ENV as NAME=value`);
          state.env[m[1]!] = m[2]!;
          break;
        }
        case 'USER':
          state.user = ins.args;
          break;
        case 'EXPOSE':
        case 'CMD':
        case 'LABEL':
          break;
        case 'COPY': {
          const words = ins.args.split(/\s+/);
          const flags = words.filter((w) => w.startsWith('--'));
          const paths = words.filter((w) => !w.startsWith('--'));
          const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
          if (flags.some((f) => !f.startsWith('--from=') && !f.startsWith('--chown='))) throw new Error(`${where}: unsupported COPY flag`);
          const dest = paths.pop();
          if (!dest || paths.length === 0) throw new Error(`${where}: COPY needs a source and a destination`);
          for (const src of paths) {
            if (/[*?[]/.test(src)) throw new Error(`${where}: globs are not replayed; list the files`);
            const source = from ? await pathIn(from, src) : join(options.context, src);
            if (!existsSync(source)) throw new Error(`${where}: COPY source ${src} does not exist (${source})`);
            const isDir = statSync(source).isDirectory();
            const target = join(root, abs(dest), isDir || !dest.endsWith('/') ? '' : basename(src));
            cpSync(source, target, { recursive: true, verbatimSymlinks: true });
          }
          break;
        }
        case 'RUN': {
          for (const command of runCommands(ins.args, where)) {
            const words = command.split(/\s+/);
            const pnpmVersion = /^npm install -g pnpm@(\S+)$/.exec(command)?.[1];
            if (pnpmVersion) options.onPnpmVersion(pnpmVersion);
            else if (command === 'npm cache clean --force') continue;
            else if (words[0] === 'pnpm') await options.pnpm(words.slice(1), join(root, state.workdir));
            else throw new Error(`${where}: the replay does not know how to run: ${command}`);
          }
          break;
        }
        default:
          throw new Error(`${where}: the replay does not support ${ins.op}`);
      }
    }
    done.set(name, state);
    return state;
  };

  return replay(options.target);
}

/**
 * The optional proxy CA: a BuildKit secret mount and the shell line that hands it to npm/pnpm when
 * the secret was given. Outside Docker the process already has the host's NODE_EXTRA_CA_CERTS.
 */
const SECRET_MOUNT = /^--mount=type=secret,id=\w+\s+/;
const TRUST_CA_SECRET = 'if [ -s "$NPM_CA_SECRET" ]; then export NODE_EXTRA_CA_CERTS="$NPM_CA_SECRET"; fi;';

/** A RUN line's `&&`-joined commands, after the secret mount and CA line the replay stands in for. */
export function runCommands(args: string, where: string): string[] {
  let rest = args;
  if (SECRET_MOUNT.test(rest)) {
    rest = rest.replace(SECRET_MOUNT, '');
    if (!rest.startsWith(TRUST_CA_SECRET)) throw new Error(`${where}: a secret mount is only replayed with the CA line ${TRUST_CA_SECRET}`);
    rest = rest.slice(TRUST_CA_SECRET.length).trim();
  }
  if (rest.startsWith('--')) throw new Error(`${where}: unsupported RUN flag`);
  return rest.split('&&').map((c) => c.trim());
}

/** Runs pnpm 10 through npx, as the README's commands do, preferring the local store. */
export async function npxPnpm(args: string[], cwd: string): Promise<void> {
  await run('npx', ['-y', 'pnpm@10', ...args, '--prefer-offline'], { cwd, env: { ...process.env, CI: 'true' }, maxBuffer: 16 * 1024 * 1024 });
}

/** The context paths a Dockerfile copies (COPY without --from), over every stage. */
export function contextSources(stages: Stage[]): string[] {
  return stages.flatMap((s) =>
    s.instructions
      .filter((i) => i.op === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) => i.args.split(/\s+/).filter((w) => !w.startsWith('--')).slice(0, -1)),
  );
}

/**
 * The `.dockerignore` pattern that leaves `path` (relative to the context) out of the build context, or
 * null. Follows Docker's rules closely enough for plain patterns: `*` within a segment, `**` across
 * segments, a pattern also excludes everything under a matching folder, and `!` re-includes.
 */
export function ignoredBy(dockerignore: string, path: string): string | null {
  let hit: string | null = null;
  for (const raw of dockerignore.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const pattern = (negate ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
    const source = pattern
      .split('/')
      .map((seg) => (seg === '**' ? '.*' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
      .join('/')
      .replace(/\.\*\//g, '(?:.*/)?');
    if (new RegExp(`^${source}(?:/.*)?$`).test(path.replace(/^\.\//, '').replace(/\/$/, ''))) hit = negate ? null : line;
  }
  return hit;
}
