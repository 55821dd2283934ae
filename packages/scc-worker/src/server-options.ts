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
  SETTINGS,
  WORKER_LIMIT_SETTINGS,
  hardenedServerOptions,
  resolveOptionSettings,
  type CodecEngine,
  type HardenedServerOptions,
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
}

const CHOICE_NAMES: ReadonlySet<string> = new Set(['limits', 'batchFrames', 'codec', 'logger']);

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
  if (problems.length > 0) throw new ConfigError(problems);
  // As in ServerLimits, an explicit null channel limit means none (resolveOptionSettings reads null as unset).
  const resolved: ServerLimits = { ...limits.values, socketChannelLimit: given['socketChannelLimit'] === null ? null : limits.values.socketChannelLimit };
  return hardenedServerOptions(resolved, choices.logger ?? createPluginLogger(), {
    batchFrames: frames.values.batchFrames,
    ...(codec === undefined ? {} : { codec }),
  });
}
