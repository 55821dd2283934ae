/**
 * The docker CLI as the image check drives it: which client to call (one whose `docker build` runs
 * BuildKit, needed for `--secret`), and a small promise wrapper around one CLI call.
 */
import { spawn } from 'node:child_process';

/** Docker could not be used: no CLI, no daemon, or no client that builds with BuildKit. */
export class DockerUnavailableError extends Error {
  override readonly name = 'DockerUnavailableError';
}

/** A docker (or other) command exited non-zero. */
export class CommandFailedError extends Error {
  override readonly name = 'CommandFailedError';
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly output: string,
  ) {
    super(`${command} exited ${code ?? 'by signal'}: ${output.trim().split('\n').slice(-12).join('\n')}`);
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin, then closed. */
  input?: NodeJS.ReadableStream;
  /** Resolve with a non-zero exit instead of rejecting. */
  allowFailure?: boolean;
  /** Each output line as it comes (build progress). */
  onLine?: (line: string) => void;
}

/** Runs `command args…` to completion; rejects with CommandFailedError on a non-zero exit. */
export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const lines = (chunk: Buffer): void => {
      if (options.onLine) for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') options.onLine(line);
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      lines(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      lines(chunk);
    });
    if (options.input) options.input.pipe(child.stdin!);
    child.once('error', (error) => reject(new CommandFailedError(command, null, error.message)));
    child.once('close', (code) => {
      if (code !== 0 && !options.allowFailure) reject(new CommandFailedError(`${command} ${args.slice(0, 2).join(' ')}`, code, stderr + stdout));
      else resolve({ code, stdout, stderr });
    });
  });
}

/** A docker client to call and the environment that makes its `docker build` use BuildKit. */
export interface DockerCli {
  /** The client binary. */
  command: string;
  /** Extra environment for `docker build`: DOCKER_BUILDKIT=1 for a client with BuildKit built in. */
  buildEnv: Record<string, string>;
  clientVersion: string;
  serverVersion: string;
  /** How `docker build` gets BuildKit: the buildx plugin, or the client's built-in BuildKit. */
  builder: 'buildx' | 'builtin';
}

/**
 * First docker CLI release whose `docker build` requires the buildx plugin for BuildKit; older
 * clients (Debian bookworm's docker.io is 20.10) talk to the daemon's built-in BuildKit when
 * DOCKER_BUILDKIT=1 is set, which is documented for them and supports `--secret`.
 */
const BUILDX_REQUIRED_FROM_MAJOR = 23;

/** Candidate clients: $SCC_DOCKER, then `docker` on PATH, then Debian's docker.io client. */
function candidates(): string[] {
  return [...new Set([process.env['SCC_DOCKER'], 'docker', '/usr/bin/docker'].filter((c): c is string => c !== undefined && c !== ''))];
}

/**
 * Finds a docker client that reaches the daemon and builds with BuildKit, or throws
 * DockerUnavailableError saying why not (the first line of the reason names what is missing).
 */
export async function findDocker(): Promise<DockerCli> {
  const reasons: string[] = [];
  for (const command of candidates()) {
    const version = await runCommand(command, ['version', '--format', '{{.Client.Version}} {{.Server.Version}}'], { allowFailure: true }).catch((error: Error) => ({ code: -1, stdout: '', stderr: error.message }));
    if (version.code !== 0) {
      const said = version.stderr.trim() !== '' ? version.stderr : version.stdout;
      reasons.push(`${command}: ${said.trim().split('\n')[0] ?? 'failed'}`);
      continue;
    }
    const [clientVersion = '', serverVersion = ''] = version.stdout.trim().split(' ');
    const buildx = await runCommand(command, ['buildx', 'version'], { allowFailure: true }).catch(() => ({ code: -1, stdout: '', stderr: '' }));
    if (buildx.code === 0) return { command, buildEnv: {}, clientVersion, serverVersion, builder: 'buildx' };
    if (Number(clientVersion.split('.')[0]) < BUILDX_REQUIRED_FROM_MAJOR) {
      return { command, buildEnv: { DOCKER_BUILDKIT: '1' }, clientVersion, serverVersion, builder: 'builtin' };
    }
    reasons.push(`${command}: client ${clientVersion} needs the buildx plugin for BuildKit, which is not installed`);
  }
  throw new DockerUnavailableError(reasons.join('; '));
}

/** `docker <args…>` with the chosen client; stdout trimmed. */
export async function docker(cli: DockerCli, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return (await runCommand(cli.command, args, options)).stdout.trim();
}

/** Whether an image with this tag exists locally. */
export async function imageExists(cli: DockerCli, tag: string): Promise<boolean> {
  return (await runCommand(cli.command, ['image', 'inspect', tag], { allowFailure: true })).code === 0;
}

/** An image's size in bytes, as `docker image inspect` reports it. */
export async function imageSize(cli: DockerCli, tag: string): Promise<number> {
  return Number(await docker(cli, ['image', 'inspect', '--format', '{{.Size}}', tag]));
}
