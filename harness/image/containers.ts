/**
 * The services as containers of the built image, run the way their Deployments declare them: the
 * manifest's workingDir, command and env, its user, read-only root filesystem with /tmp as a small
 * tmpfs (the manifests' emptyDir), no capabilities, no privilege escalation. Host networking stands
 * in for the pod network, so the env's ports and the state server's address are overridden.
 */
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { docker, runCommand, type DockerCli } from './docker.js';
import { containerOf, offClusterEnv, resolvedEnv, serviceOf, type ServiceName } from './manifests.js';

/** Label on every container the check starts, so a cleanup can find them all. */
export const CHECK_LABEL = 'scc-ts.image-check';

/** The `docker run` flags a Deployment's pod and container security settings translate to. */
export function runFlags(deployment: IDeployment): string[] {
  const pod = deployment.spec?.template.spec;
  const c = containerOf(deployment);
  const sc = c.securityContext ?? {};
  const uid = sc.runAsUser ?? pod?.securityContext?.runAsUser;
  const gid = sc.runAsGroup ?? pod?.securityContext?.runAsGroup ?? uid;
  const flags: string[] = ['--network', 'host'];
  if (uid !== undefined) flags.push('--user', `${uid}:${gid}`);
  if (sc.readOnlyRootFilesystem) flags.push('--read-only');
  for (const cap of sc.capabilities?.drop ?? []) flags.push('--cap-drop', cap);
  if (sc.allowPrivilegeEscalation === false) flags.push('--security-opt', 'no-new-privileges');
  for (const mount of c.volumeMounts ?? []) {
    const volume = pod?.volumes?.find((v) => v.name === mount.name);
    if (!volume?.emptyDir) throw new Error(`${c.name}: volume ${mount.name} is not an emptyDir; the check models only those`);
    const size = volume.emptyDir.sizeLimit === undefined ? '' : `:size=${String(volume.emptyDir.sizeLimit).replace(/i$/, '').toLowerCase()}`;
    flags.push('--tmpfs', `${mount.mountPath}${size}`);
  }
  if (c.workingDir) flags.push('--workdir', c.workingDir);
  return flags;
}

/** How one SIGTERM went: the exit code (null: still running at the limit) and the time to exit, ms. */
export interface StopResult {
  code: number | null;
  ms: number;
}

/** One service container; `remove()` is safe to call twice. */
export class ServiceContainer {
  private removed = false;

  private constructor(
    private readonly cli: DockerCli,
    readonly name: string,
    readonly service: ServiceName,
    readonly port: number,
  ) {}

  /**
   * Creates and starts a container for `deployment` from `image`: the manifest's env with the pod
   * IP and secret filled in, then `overrides` (ports, the state server's address, fast timings).
   */
  static async run(cli: DockerCli, options: { image: string; name: string; deployment: IDeployment; port: number; podIP: string; authKey: string; overrides: Record<string, string> }): Promise<ServiceContainer> {
    const c = containerOf(options.deployment);
    const env = { ...offClusterEnv(resolvedEnv(c, { podIP: options.podIP, secret: options.authKey })), ...options.overrides };
    const envFlags = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
    const command = c.command ?? [];
    await docker(cli, ['run', '--detach', '--name', options.name, '--label', `${CHECK_LABEL}=${process.pid}`, ...runFlags(options.deployment), ...envFlags, options.image, ...command, ...(c.args ?? [])]);
    return new ServiceContainer(cli, options.name, serviceOf(c), options.port);
  }

  /** Starts the stopped container again (same env, same port). */
  async start(): Promise<void> {
    await docker(this.cli, ['start', this.name]);
  }

  /**
   * Sends SIGTERM and waits up to `limitMs` for the exit. On a timeout the container is killed so
   * the check can go on, and `code` is null.
   */
  async terminate(limitMs: number): Promise<StopResult> {
    const startedAt = performance.now();
    await docker(this.cli, ['kill', '--signal', 'TERM', this.name]);
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      runCommand(this.cli.command, ['wait', this.name]).then((r) => Number(r.stdout.trim())),
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), limitMs))),
    ]);
    clearTimeout(timer);
    const ms = performance.now() - startedAt;
    if (waited === null) await runCommand(this.cli.command, ['kill', this.name], { allowFailure: true });
    return { code: waited, ms };
  }

  /** The container's output (pino JSON lines on stdout, start-up errors on stderr). */
  async logs(): Promise<string> {
    const r = await runCommand(this.cli.command, ['logs', this.name], { allowFailure: true });
    return r.stdout + r.stderr;
  }

  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    await runCommand(this.cli.command, ['rm', '--force', '--volumes', this.name], { allowFailure: true });
  }
}

/** Removes every container a check run by process `pid` started (all runs when pid is omitted). */
export async function removeCheckContainers(cli: DockerCli, pid?: number): Promise<number> {
  const filter = pid === undefined ? CHECK_LABEL : `${CHECK_LABEL}=${pid}`;
  const ids = (await docker(cli, ['ps', '--all', '--quiet', '--filter', `label=${filter}`])).split('\n').filter((id) => id !== '');
  if (ids.length > 0) await runCommand(cli.command, ['rm', '--force', '--volumes', ...ids], { allowFailure: true });
  return ids.length;
}
