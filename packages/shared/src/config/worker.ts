/** scc-worker's configuration from the environment (the service and its cluster plugin). */
import type { ServerLimits } from '../limits.js';
import type { MappingEngineName } from '../mapping/index.js';
import type { DeliveryModeName } from './defaults.js';
import { SETTINGS, type Setting } from './definitions.js';
import { EnvSettings, type Env } from './parse.js';
import { COMMON_SETTINGS, STATE_LINK_SETTINGS, readCommon, readPort, readStateLink, type CommonConfig, type LimitSettings, type StateLinkConfig } from './common.js';

/** scc-worker settings; `cluster` is null in standalone mode (no `SCC_STATE_SERVER_HOST`). */
export interface WorkerConfig extends CommonConfig {
  port: number;
  /** Send what a client socket is given in one event-loop turn as one frame (a batch). */
  batchClientFrames: boolean;
  cluster: WorkerClusterConfig | null;
  socketClusterOptions: Readonly<Record<string, unknown>> | null;
  /** Longest drain on SIGTERM before exiting anyway, ms (`SCC_DRAIN_TIMEOUT`; 0: no wait). */
  drainTimeoutMs: number;
}

/** The worker's cluster-plugin settings read from the environment. */
export interface WorkerClusterConfig extends StateLinkConfig {
  mappingEngine: MappingEngineName;
  clientPoolSize: number;
  stateServerReconnectRandomnessMs: number;
  /** Batch window per channel in ms; 0 combines what is published in one event-loop turn. */
  pubSubBatchDurationMs: number;
  /** With the 0 window: least time between flushes under sustained load, ms. */
  pubSubBatchIntervalMs: number;
  brokerRetryDelayMs: number;
  /** Delivery mode of every channel not matched by `atLeastOnceChannelPrefixes`. */
  deliveryMode: DeliveryModeName;
  /** Channels starting with one of these prefixes are at-least-once whatever `deliveryMode` says. */
  atLeastOnceChannelPrefixes: readonly string[];
  /** Channel prefixes that keep history on their broker (`SCC_HISTORY_CHANNELS`, docs/history.md). */
  historyChannelPrefixes: readonly string[];
  handoverDelayMs: number;
  handoverGraceMs: number;
  reorderWindowMs: number;
  publishRetryTimeoutMs: number;
}

/**
 * The worker's limits by `ServerLimits` field: `node server` reads them from the environment, and a
 * plugin user's `workerServerOptions({ limits })` takes its defaults and bounds from the same entries.
 */
export const WORKER_LIMIT_SETTINGS = Object.freeze({
  maxPayloadBytes: SETTINGS.workerMaxPayload,
  handshakeTimeoutMs: SETTINGS.handshakeTimeout,
  socketChannelLimit: SETTINGS.workerSocketChannelLimit,
  maxConnections: SETTINGS.maxConnections,
  maxOutboundBufferBytes: SETTINGS.workerMaxOutboundBuffer,
} satisfies Record<keyof ServerLimits, Setting>);

const WORKER_LIMITS: LimitSettings = {
  maxPayload: WORKER_LIMIT_SETTINGS.maxPayloadBytes,
  maxOutboundBuffer: WORKER_LIMIT_SETTINGS.maxOutboundBufferBytes,
  socketChannelLimit: WORKER_LIMIT_SETTINGS.socketChannelLimit,
};

/** Every setting scc-worker reads (docs and the README test list them). */
export const WORKER_SETTINGS: readonly Setting[] = Object.freeze([
  ...COMMON_SETTINGS,
  ...STATE_LINK_SETTINGS,
  SETTINGS.stateServerHost,
  SETTINGS.workerLogLevel,
  WORKER_LIMITS.maxPayload,
  WORKER_LIMITS.maxOutboundBuffer,
  SETTINGS.workerSocketChannelLimit,
  SETTINGS.workerPort,
  SETTINGS.batchClientFrames,
  SETTINGS.socketClusterOptions,
  SETTINGS.drainTimeout,
  SETTINGS.mappingEngine,
  SETTINGS.clientPoolSize,
  SETTINGS.reconnectRandomness,
  SETTINGS.pubSubBatchDuration,
  SETTINGS.pubSubBatchInterval,
  SETTINGS.brokerRetryDelay,
  SETTINGS.deliveryMode,
  SETTINGS.atLeastOnceChannels,
  SETTINGS.historyChannels,
  SETTINGS.handoverDelay,
  SETTINGS.handoverGrace,
  SETTINGS.reorderWindow,
  SETTINGS.publishRetryTimeout,
]);

/** Reads scc-worker's configuration; cluster mode only when `SCC_STATE_SERVER_HOST` is set. */
export function readWorkerConfig(env: Env = process.env, isTty = Boolean(process.stdout.isTTY)): Readonly<WorkerConfig> {
  const r = new EnvSettings(env);
  const host = r.read(SETTINGS.stateServerHost);
  // Validated even in standalone mode: a typo must not lie dormant until clustering is turned on.
  const cluster: WorkerClusterConfig = {
    ...readStateLink(r, host ?? ''),
    mappingEngine: r.read(SETTINGS.mappingEngine),
    clientPoolSize: r.read(SETTINGS.clientPoolSize),
    stateServerReconnectRandomnessMs: r.read(SETTINGS.reconnectRandomness),
    pubSubBatchDurationMs: r.read(SETTINGS.pubSubBatchDuration),
    pubSubBatchIntervalMs: r.read(SETTINGS.pubSubBatchInterval),
    brokerRetryDelayMs: r.read(SETTINGS.brokerRetryDelay),
    deliveryMode: r.read(SETTINGS.deliveryMode),
    atLeastOnceChannelPrefixes: r.read(SETTINGS.atLeastOnceChannels),
    historyChannelPrefixes: r.read(SETTINGS.historyChannels),
    handoverDelayMs: r.read(SETTINGS.handoverDelay),
    handoverGraceMs: r.read(SETTINGS.handoverGrace),
    reorderWindowMs: r.read(SETTINGS.reorderWindow),
    publishRetryTimeoutMs: r.read(SETTINGS.publishRetryTimeout),
  };
  const common = readCommon(r, SETTINGS.workerLogLevel, WORKER_LIMITS, isTty);
  return r.done<WorkerConfig>({
    ...common,
    port: readPort(r, SETTINGS.workerPort, common.healthPort),
    batchClientFrames: r.read(SETTINGS.batchClientFrames),
    cluster: host === null ? null : cluster,
    socketClusterOptions: r.read(SETTINGS.socketClusterOptions),
    drainTimeoutMs: r.read(SETTINGS.drainTimeout),
  });
}
