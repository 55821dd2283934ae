/**
 * The socketcluster-server options of a worker, for an app that builds its own server and makes it a
 * worker with `attach()`: the same hardening and limits as `node server`, in one call,
 *
 *   const agServer = socketClusterServer.attach(httpServer, workerServerOptions());
 *
 * The refusing codec (prototype names, deep nesting), our ws engine (connection limit, outbound
 * buffer limit, repeated-handshake refusal, per-turn frame batching) and socketcluster-server's own
 * limit options, each defaulting to the worker's setting (`SCC_MAX_PAYLOAD` and the others, defined
 * once in the shared settings table). `node server` builds its server with this function too.
 */
import {
  ConfigError,
  DEFAULT_SC_PING_INTERVAL_MS,
  DEFAULT_SC_PING_TIMEOUT_MS,
  SETTINGS,
  WORKER_LIMIT_SETTINGS,
  hardenedServerOptions,
  resolveOptionSettings,
  type CodecEngine,
  type HardenedServerOptions,
  type HeartbeatSettings,
  type Logger,
  type ServerLimits,
} from '@scc-ts/shared';
import { createPluginLogger } from './cluster/options.js';

/** What an app may choose; everything else is the worker's default. */
export interface WorkerServerChoices {
  /** Limits to change (bytes, ms, counts as in `ServerLimits`; `socketChannelLimit: null` is none); the rest keep the worker's defaults. */
  limits?: Partial<ServerLimits>;
  /** One WebSocket frame per client socket per event-loop turn; default `DEFAULT_BATCH_CLIENT_FRAMES` (true). */
  batchFrames?: boolean;
  /** A codec other than sc-formatter (its wire format is kept, the refusals put in front); default sc-formatter. */
  codec?: CodecEngine;
  /** Where the ws engine logs its refusals; default the plugin's JSON logger at warn level. */
  logger?: Logger;
  /**
   * Pings kept by the ws engine, one timer for every socket, instead of socketcluster-server's two
   * per socket (`true`: socketcluster's defaults; or the settings, by socketcluster-server's names).
   * The returned options then carry `pingTimeoutDisabled: true` and these settings: give ping
   * settings here, not by spreading `pingInterval` / `pingTimeout` after. Default false (the
   * server's own heartbeat); `node server` turns it on.
   */
  heartbeat?: boolean | Readonly<Partial<HeartbeatSettings>>;
}

const CHOICE_NAMES: ReadonlySet<string> = new Set(['limits', 'batchFrames', 'codec', 'logger', 'heartbeat']);
/** The heartbeat's settings, by socketcluster-server's option names. */
export const HEARTBEAT_OPTION_NAMES: readonly (keyof HeartbeatSettings)[] = ['pingInterval', 'pingTimeout', 'protocolVersion'];

/**
 * The heartbeat settings from socketcluster-server options (`given`, e.g. SOCKETCLUSTER_OPTIONS),
 * socketcluster's defaults for what is absent; `where` names the source in each problem.
 */
export function heartbeatSettings(given: Readonly<Record<string, unknown>>, where: string): { settings: HeartbeatSettings; problems: string[] } {
  const problems: string[] = [];
  const ms = (name: 'pingInterval' | 'pingTimeout', fallback: number): number => {
    const value = given[name];
    if (value === undefined) return fallback;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value;
    problems.push(`${where}.${name}=${JSON.stringify(value)}: must be an integer ≥ 1 (ms)`);
    return fallback;
  };
  const pingInterval = ms('pingInterval', DEFAULT_SC_PING_INTERVAL_MS);
  const pingTimeout = ms('pingTimeout', DEFAULT_SC_PING_TIMEOUT_MS);
  if (problems.length === 0 && pingTimeout <= pingInterval) {
    problems.push(`${where}.pingTimeout=${pingTimeout}: must be longer than pingInterval (${pingInterval} ms), or every socket times out between two pings`);
  }
  const version = given['protocolVersion'] ?? 2;
  if (version !== 1 && version !== 2) problems.push(`${where}.protocolVersion=${JSON.stringify(version)}: must be 1 or 2`);
  return { settings: { pingInterval, pingTimeout, protocolVersion: version === 1 ? 1 : 2 }, problems };
}

/**
 * The options to build a worker's socketcluster-server with; spread your own after them. Call it
 * once per server (its ws engine counts that server's connections) and call `wsEngine.close()` when
 * the server closes (it sends frames still batched). Throws one ConfigError naming every bad choice.
 */
export function workerServerOptions(choices: Readonly<WorkerServerChoices> = {}): HardenedServerOptions {
  const problems: string[] = [];
  for (const name of Object.keys(choices)) if (!CHOICE_NAMES.has(name)) problems.push(`${name} is not a workerServerOptions choice`);
  const given = (choices.limits ?? {}) as Readonly<Record<string, unknown>>;
  for (const name of Object.keys(given)) if (!(name in WORKER_LIMIT_SETTINGS)) problems.push(`limits.${name} is not a limit`);
  const limits = resolveOptionSettings(WORKER_LIMIT_SETTINGS, given);
  problems.push(...limits.problems.map((problem) => `limits.${problem}`));
  const frames = resolveOptionSettings({ batchFrames: SETTINGS.batchClientFrames }, choices as Readonly<Record<string, unknown>>);
  problems.push(...frames.problems);
  const codec = choices.codec;
  if (codec !== undefined && (codec === null || typeof codec.encode !== 'function' || typeof codec.decode !== 'function')) {
    problems.push('codec: must be a codec engine (an object with encode and decode)');
  }
  let heartbeat: HeartbeatSettings | undefined;
  const chosen = choices.heartbeat;
  if (chosen !== undefined && chosen !== false) {
    if (chosen !== true && (chosen === null || typeof chosen !== 'object')) {
      problems.push('heartbeat: must be true, false or the ping settings');
    } else {
      const given = (chosen === true ? {} : chosen) as Readonly<Record<string, unknown>>;
      for (const name of Object.keys(given)) if (!(HEARTBEAT_OPTION_NAMES as readonly string[]).includes(name)) problems.push(`heartbeat.${name} is not a ping setting`);
      const resolved = heartbeatSettings(given, 'heartbeat');
      problems.push(...resolved.problems);
      heartbeat = resolved.settings;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  // As in ServerLimits, an explicit null channel limit means none (resolveOptionSettings reads null as unset).
  const resolved: ServerLimits = { ...limits.values, socketChannelLimit: given['socketChannelLimit'] === null ? null : limits.values.socketChannelLimit };
  return hardenedServerOptions(resolved, choices.logger ?? createPluginLogger(), {
    batchFrames: frames.values.batchFrames,
    ...(codec === undefined ? {} : { codec }),
    ...(heartbeat === undefined ? {} : { heartbeat }),
  });
}
