/**
 * Environment → frozen, typed configuration for each service. Parsed once at the edge: every
 * variable is validated, every problem is collected, and a single `ConfigError` names them all.
 * Names and defaults are the originals' (PROTOCOL.md); unlike the originals (`Number(x) || default`)
 * a value that is set but invalid is an error, never silently replaced by the default.
 */
import { ConfigError } from './errors.js';
import { isHostOrIp } from './uri.js';
import { DEFAULT_ANNOUNCED_VERSION, isSemver } from './version.js';
import type { IpFamily } from './payloads.js';
import type { LogFormat, SccLogLevel } from './logger.js';
import type { MappingEngineName } from './mapping/index.js';
import type { ServerLimits } from './limits.js';

/** The environment as Node exposes it. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Largest delay `setTimeout` honours, in milliseconds. */
const MAX_TIMER_MS = 2_147_483_647;

export const DEFAULT_STATE_SERVER_PORT = 7777;
export const DEFAULT_BROKER_SERVER_PORT = 8888;
export const DEFAULT_WORKER_PORT = 8000;
/** State server: retry interval for a failed push to a worker, ms. */
export const DEFAULT_STATE_RETRY_DELAY_MS = 2000;
/** State server: debounce before pushing a grown broker/worker list, ms. */
export const DEFAULT_SCALE_OUT_DELAY_MS = 5000;
/** State server: debounce before pushing a shrunk broker/worker list, ms. */
export const DEFAULT_SCALE_BACK_DELAY_MS = 1000;
/** State server: longest wait for every worker's acknowledgement of one handover phase, ms. */
export const DEFAULT_HANDOVER_TIMEOUT_MS = 20_000;
/** State server: how long worker joins are refused after boot, waiting for brokers, ms. */
export const DEFAULT_STARTUP_DELAY_MS = 5000;
/** Broker and worker: interval between state-server reconnects and join retries, ms. */
export const DEFAULT_RETRY_DELAY_MS = 2000;
/** Random extra added to each reconnect delay so peers do not reconnect in lockstep, ms. */
export const DEFAULT_RECONNECT_RANDOMNESS_MS = 1000;
export const DEFAULT_STATE_CONNECT_TIMEOUT_MS = 3000;
export const DEFAULT_STATE_ACK_TIMEOUT_MS = 2000;
/** Broker: socketcluster-server ackTimeout for worker requests, ms. */
export const DEFAULT_BROKER_ACK_TIMEOUT_MS = 10_000;
export const DEFAULT_CLIENT_POOL_SIZE = 1;
/** Most client sockets per broker a worker may keep (`SCC_CLIENT_POOL_SIZE`). */
export const MAX_CLIENT_POOL_SIZE = 64;
export const DEFAULT_STATE_LOG_LEVEL: SccLogLevel = 3;
export const DEFAULT_BROKER_LOG_LEVEL: SccLogLevel = 1;
export const DEFAULT_WORKER_LOG_LEVEL: SccLogLevel = 2;
/**
 * Broker and worker: longest graceful drain after SIGTERM/SIGINT (`SCC_DRAIN_TIMEOUT`), ms. Kept
 * under Kubernetes' default terminationGracePeriodSeconds (30 s) with room for the final close.
 */
export const DEFAULT_DRAIN_TIMEOUT_MS = 20_000;

/** Default largest inbound message per service, bytes (`SCC_MAX_PAYLOAD`): joins are tiny, broker packets batch. */
export const DEFAULT_STATE_MAX_PAYLOAD_BYTES = 64 * 1024;
export const DEFAULT_BROKER_MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;
export const DEFAULT_WORKER_MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Default time to finish the SocketCluster handshake, ms (`SCC_HANDSHAKE_TIMEOUT`; socketcluster-server's default). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default most channels one client socket of a worker may subscribe to (`SCC_SOCKET_CHANNEL_LIMIT`). */
export const DEFAULT_WORKER_SOCKET_CHANNEL_LIMIT = 1000;
/** Default most connections (pending and open) one service holds (`SCC_MAX_CONNECTIONS`). */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** Default most bytes queued for one socket before it is closed as a slow consumer (`SCC_MAX_OUTBOUND_BUFFER`). */
export const DEFAULT_STATE_MAX_OUTBOUND_BUFFER_BYTES = 16 * 1024 * 1024;
export const DEFAULT_BROKER_MAX_OUTBOUND_BUFFER_BYTES = 64 * 1024 * 1024;
export const DEFAULT_WORKER_MAX_OUTBOUND_BUFFER_BYTES = 8 * 1024 * 1024;
/** Upper bound accepted for any byte limit (ws keeps a whole message in memory): 1 GiB. */
const MAX_BYTES_LIMIT = 1024 * 1024 * 1024;

/** Reads and validates variables, collecting problems instead of stopping at the first. */
export class EnvReader {
  private readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  /** The raw value, or undefined when unset or blank (a blank value means "use the default"). */
  private raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value;
  }

  private bad(name: string, value: string, why: string): void {
    this.problems.push(`${name}=${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}: ${why}`);
  }

  /** An integer in [min, max]; `fallback` when unset. */
  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const n = Number(value.trim());
    if (!Number.isInteger(n) || n < min || n > max) {
      this.bad(name, value, `must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  /** An optional integer in [min, max]; null when unset. */
  optionalInt(name: string, min: number, max: number): number | null {
    if (this.raw(name) === undefined) return null;
    return this.int(name, min, min, max);
  }

  /** A TCP port to listen on; 0 asks the OS for a free one. */
  listenPort(name: string, fallback: number): number {
    return this.int(name, fallback, 0, 65_535);
  }

  /** A TCP port to connect to. */
  port(name: string, fallback: number): number {
    return this.int(name, fallback, 1, 65_535);
  }

  /** A delay or timeout in milliseconds. */
  ms(name: string, fallback: number, min = 1): number {
    return this.int(name, fallback, min, MAX_TIMER_MS);
  }

  string(name: string): string | null {
    return this.raw(name) ?? null;
  }

  /** A required host name or IP address. */
  requiredHost(name: string, hint: string): string {
    if (this.raw(name) === undefined) {
      this.problems.push(`${name} is required: ${hint}`);
      return '';
    }
    return this.host(name) ?? '';
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const v = value.trim();
    if (!(allowed as readonly string[]).includes(v)) {
      this.bad(name, value, `must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return v as T;
  }

  /** A boolean: true/1/yes/on or false/0/no/off (the originals treat any non-empty value as true). */
  flag(name: string, fallback = false): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const v = value.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    this.bad(name, value, 'must be true or false');
    return false;
  }

  /** A host name or IP address another instance can reach this one at. */
  host(name: string): string | null {
    const value = this.raw(name);
    if (value === undefined) return null;
    const v = value.trim();
    if (!isHostOrIp(v)) {
      this.bad(name, value, 'must be an IP address or a host name');
      return null;
    }
    return v;
  }

  /** A semver string (`MAJOR.MINOR.PATCH`, optional pre-release and build metadata). */
  semver(name: string, fallback: string): string {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const v = value.trim();
    if (!isSemver(v)) {
      this.bad(name, value, 'must be a semver version such as 9.2.0');
      return fallback;
    }
    return v;
  }

  /** A JSON object (e.g. `SOCKETCLUSTER_OPTIONS`); null when unset. */
  jsonObject(name: string): Readonly<Record<string, unknown>> | null {
    const value = this.raw(name);
    if (value === undefined) return null;
    try {
      const parsed: unknown = JSON.parse(value);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
      this.bad(name, value, 'must be a JSON object');
    } catch {
      this.bad(name, value, 'is not valid JSON');
    }
    return null;
  }

  /** An SCC log level: 0 silent, 1 errors, 2 warnings, 3 info (the originals' scale), 4 debug. */
  logLevel(name: string, fallback: SccLogLevel): SccLogLevel {
    return this.int(name, fallback, 0, 4) as SccLogLevel;
  }

  /** `SCC_LOG_FORMAT`: json or pretty; defaults to pretty on a terminal, JSON otherwise. */
  logFormat(isTty: boolean): LogFormat {
    return this.oneOf<LogFormat>('SCC_LOG_FORMAT', ['json', 'pretty'], isTty ? 'pretty' : 'json');
  }

  /** Server limits (limits.ts); `channelLimit` null: the service has no per-socket channel limit. */
  limits(defaults: { maxPayloadBytes: number; maxOutboundBufferBytes: number; socketChannelLimit: number | null }): ServerLimits {
    return {
      maxPayloadBytes: this.int('SCC_MAX_PAYLOAD', defaults.maxPayloadBytes, 1024, MAX_BYTES_LIMIT),
      handshakeTimeoutMs: this.ms('SCC_HANDSHAKE_TIMEOUT', DEFAULT_HANDSHAKE_TIMEOUT_MS),
      socketChannelLimit:
        defaults.socketChannelLimit === null ? null : this.int('SCC_SOCKET_CHANNEL_LIMIT', defaults.socketChannelLimit, 1, 10_000_000),
      maxConnections: this.int('SCC_MAX_CONNECTIONS', DEFAULT_MAX_CONNECTIONS, 1, 10_000_000),
      maxOutboundBufferBytes: this.int('SCC_MAX_OUTBOUND_BUFFER', defaults.maxOutboundBufferBytes, 1024, MAX_BYTES_LIMIT),
    };
  }

  /** Freezes the result, or throws one `ConfigError` listing every problem found. */
  done<T extends object>(config: T): Readonly<T> {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
    return deepFreeze(config);
  }
}

/** Freezes an object and every object inside it (config is shared by reference across modules). */
function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const inner of Object.values(value)) {
    if (inner !== null && typeof inner === 'object' && !Object.isFrozen(inner)) deepFreeze(inner as object);
  }
  return Object.freeze(value);
}

/** Settings every service shares. */
interface CommonConfig {
  authKey: string | null;
  logLevel: SccLogLevel;
  logFormat: LogFormat;
  /** What one peer may cost this service (limits.ts). */
  limits: ServerLimits;
}

/** scc-state settings. */
export interface StateConfig extends CommonConfig {
  port: number;
  /** Header whose first comma-separated value is the peer's IP (behind a proxy). */
  forwardedForHeader: string | null;
  retryDelayMs: number;
  scaleOutDelayMs: number;
  scaleBackDelayMs: number;
  startupDelayMs: number;
  /** Longest wait for one handover phase's acknowledgements before going ahead, ms. */
  handoverTimeoutMs: number;
}

/** Settings of a broker's or worker's link to the state server. */
export interface StateLinkConfig {
  stateServerHost: string;
  stateServerPort: number;
  instanceIp: string | null;
  instanceIpFamily: IpFamily;
  stateServerConnectTimeoutMs: number;
  stateServerAckTimeoutMs: number;
  /** `version` announced to the state server (`SCC_ANNOUNCE_VERSION`); its major must be one the state server accepts. */
  announceVersion: string;
}

/** scc-broker settings. */
export interface BrokerConfig extends CommonConfig, StateLinkConfig {
  port: number;
  retryDelayMs: number;
  brokerAckTimeoutMs: number;
  /** Advertise `wss://` to the state server (TLS terminated in front of the broker). */
  secure: boolean;
  socketClusterOptions: Readonly<Record<string, unknown>> | null;
  /** Longest drain on SIGTERM before exiting anyway, ms (`SCC_DRAIN_TIMEOUT`; 0: no wait). */
  drainTimeoutMs: number;
}

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
  deliveryMode: 'at-most-once' | 'at-least-once';
  /** Channels starting with one of these prefixes are at-least-once whatever `deliveryMode` says. */
  atLeastOnceChannelPrefixes: readonly string[];
  handoverDelayMs: number;
  handoverGraceMs: number;
  reorderWindowMs: number;
  publishRetryTimeoutMs: number;
}

/**
 * Worker: publish batching window per channel, ms. 0 sends what was published on a channel in one
 * event-loop turn as one packet: no added latency, far fewer packets under load.
 */
export const DEFAULT_PUB_SUB_BATCH_DURATION_MS = 0;
/**
 * Worker: with the 0 window, the least time between two flushes under sustained load, ms. A message
 * after a quiet spell still goes at once; under load each broker link carries a frame per interval.
 */
export const DEFAULT_PUB_SUB_BATCH_INTERVAL_MS = 10;
/** Worker: wait between subscribing a moved channel on its new broker and publishing there, ms. */
export const DEFAULT_HANDOVER_DELAY_MS = 1000;
/** Worker: wait between publishing to a channel's new broker and leaving the old one, ms. */
export const DEFAULT_HANDOVER_GRACE_MS = 1000;
/** Worker: how long a packet after a gap in a sender's numbering waits for the gap to fill, ms. */
export const DEFAULT_REORDER_WINDOW_MS = 500;
/** Worker, at-least-once: how long a packet is re-sent before it is given up, ms. */
export const DEFAULT_PUBLISH_RETRY_TIMEOUT_MS = 30_000;

type LimitDefaults = Parameters<EnvReader['limits']>[0];

// The state server carries no pub/sub: it needs no channel limit (it refuses subscriptions outright).
const STATE_LIMIT_DEFAULTS: LimitDefaults = {
  maxPayloadBytes: DEFAULT_STATE_MAX_PAYLOAD_BYTES,
  maxOutboundBufferBytes: DEFAULT_STATE_MAX_OUTBOUND_BUFFER_BYTES,
  socketChannelLimit: null,
};
// A broker socket carries every channel of its worker: a per-socket limit would break clusters.
const BROKER_LIMIT_DEFAULTS: LimitDefaults = {
  maxPayloadBytes: DEFAULT_BROKER_MAX_PAYLOAD_BYTES,
  maxOutboundBufferBytes: DEFAULT_BROKER_MAX_OUTBOUND_BUFFER_BYTES,
  socketChannelLimit: null,
};
const WORKER_LIMIT_DEFAULTS: LimitDefaults = {
  maxPayloadBytes: DEFAULT_WORKER_MAX_PAYLOAD_BYTES,
  maxOutboundBufferBytes: DEFAULT_WORKER_MAX_OUTBOUND_BUFFER_BYTES,
  socketChannelLimit: DEFAULT_WORKER_SOCKET_CHANNEL_LIMIT,
};

function common(r: EnvReader, logLevelVar: string, defaultLevel: SccLogLevel, isTty: boolean, limits: LimitDefaults): CommonConfig {
  return { authKey: r.string('SCC_AUTH_KEY'), logLevel: r.logLevel(logLevelVar, defaultLevel), logFormat: r.logFormat(isTty), limits: r.limits(limits) };
}

function stateLink(r: EnvReader, host: string): StateLinkConfig {
  return {
    stateServerHost: host,
    stateServerPort: r.port('SCC_STATE_SERVER_PORT', DEFAULT_STATE_SERVER_PORT),
    instanceIp: r.host('SCC_INSTANCE_IP'),
    instanceIpFamily: r.oneOf<IpFamily>('SCC_INSTANCE_IP_FAMILY', ['IPv4', 'IPv6'], 'IPv4'),
    stateServerConnectTimeoutMs: r.ms('SCC_STATE_SERVER_CONNECT_TIMEOUT', DEFAULT_STATE_CONNECT_TIMEOUT_MS),
    stateServerAckTimeoutMs: r.ms('SCC_STATE_SERVER_ACK_TIMEOUT', DEFAULT_STATE_ACK_TIMEOUT_MS),
    announceVersion: r.semver('SCC_ANNOUNCE_VERSION', DEFAULT_ANNOUNCED_VERSION),
  };
}

/** Reads scc-state's configuration; throws `ConfigError` naming every bad variable. */
export function readStateConfig(env: Env = process.env, isTty = Boolean(process.stdout.isTTY)): Readonly<StateConfig> {
  const r = new EnvReader(env);
  return r.done<StateConfig>({
    ...common(r, 'SCC_STATE_LOG_LEVEL', DEFAULT_STATE_LOG_LEVEL, isTty, STATE_LIMIT_DEFAULTS),
    port: r.listenPort('SCC_STATE_SERVER_PORT', DEFAULT_STATE_SERVER_PORT),
    forwardedForHeader: r.string('FORWARDED_FOR_HEADER')?.toLowerCase() ?? null,
    retryDelayMs: r.ms('SCC_STATE_SERVER_RETRY_DELAY', DEFAULT_STATE_RETRY_DELAY_MS),
    scaleOutDelayMs: r.ms('SCC_STATE_SERVER_SCALE_OUT_DELAY', DEFAULT_SCALE_OUT_DELAY_MS, 0),
    scaleBackDelayMs: r.ms('SCC_STATE_SERVER_SCALE_BACK_DELAY', DEFAULT_SCALE_BACK_DELAY_MS, 0),
    startupDelayMs: r.ms('SCC_STATE_SERVER_STARTUP_DELAY', DEFAULT_STARTUP_DELAY_MS, 0),
    handoverTimeoutMs: r.ms('SCC_STATE_SERVER_HANDOVER_TIMEOUT', DEFAULT_HANDOVER_TIMEOUT_MS),
  });
}

/** Reads scc-broker's configuration; `SCC_STATE_SERVER_HOST` is required. */
export function readBrokerConfig(env: Env = process.env, isTty = Boolean(process.stdout.isTTY)): Readonly<BrokerConfig> {
  const r = new EnvReader(env);
  const host = r.requiredHost('SCC_STATE_SERVER_HOST', 'the host name or IP of the scc-state server');
  return r.done<BrokerConfig>({
    ...common(r, 'SCC_BROKER_SERVER_LOG_LEVEL', DEFAULT_BROKER_LOG_LEVEL, isTty, BROKER_LIMIT_DEFAULTS),
    ...stateLink(r, host),
    port: r.listenPort('SCC_BROKER_SERVER_PORT', DEFAULT_BROKER_SERVER_PORT),
    retryDelayMs: r.ms('SCC_BROKER_SERVER_RETRY_DELAY', DEFAULT_RETRY_DELAY_MS),
    brokerAckTimeoutMs: r.ms('SCC_BROKER_SERVER_ACK_TIMEOUT', DEFAULT_BROKER_ACK_TIMEOUT_MS),
    secure: r.flag('SCC_BROKER_SERVER_SECURE'),
    socketClusterOptions: r.jsonObject('SOCKETCLUSTER_OPTIONS'),
    drainTimeoutMs: r.ms('SCC_DRAIN_TIMEOUT', DEFAULT_DRAIN_TIMEOUT_MS, 0),
  });
}

/** Reads scc-worker's configuration; cluster mode only when `SCC_STATE_SERVER_HOST` is set. */
export function readWorkerConfig(env: Env = process.env, isTty = Boolean(process.stdout.isTTY)): Readonly<WorkerConfig> {
  const r = new EnvReader(env);
  const host = r.host('SCC_STATE_SERVER_HOST');
  // Validated even in standalone mode: a typo must not lie dormant until clustering is turned on.
  const cluster: WorkerClusterConfig = {
    ...stateLink(r, host ?? ''),
    mappingEngine: r.oneOf<MappingEngineName>('SCC_MAPPING_ENGINE', ['skeletonRendezvous', 'simple'], 'skeletonRendezvous'),
    clientPoolSize: r.int('SCC_CLIENT_POOL_SIZE', DEFAULT_CLIENT_POOL_SIZE, 1, MAX_CLIENT_POOL_SIZE),
    stateServerReconnectRandomnessMs: r.ms('SCC_STATE_SERVER_RECONNECT_RANDOMNESS', DEFAULT_RECONNECT_RANDOMNESS_MS, 0),
    pubSubBatchDurationMs: r.int('SCC_PUB_SUB_BATCH_DURATION', DEFAULT_PUB_SUB_BATCH_DURATION_MS, 0, MAX_TIMER_MS),
    pubSubBatchIntervalMs: r.int('SCC_PUB_SUB_BATCH_INTERVAL', DEFAULT_PUB_SUB_BATCH_INTERVAL_MS, 0, MAX_TIMER_MS),
    brokerRetryDelayMs: r.ms('SCC_BROKER_RETRY_DELAY', DEFAULT_RETRY_DELAY_MS),
    deliveryMode: r.oneOf('SCC_DELIVERY_MODE', ['at-most-once', 'at-least-once'], 'at-most-once'),
    atLeastOnceChannelPrefixes: (r.string('SCC_AT_LEAST_ONCE_CHANNELS') ?? '')
      .split(',')
      .map((prefix) => prefix.trim())
      .filter((prefix) => prefix !== ''),
    handoverDelayMs: r.ms('SCC_HANDOVER_DELAY', DEFAULT_HANDOVER_DELAY_MS, 0),
    handoverGraceMs: r.ms('SCC_HANDOVER_GRACE', DEFAULT_HANDOVER_GRACE_MS, 0),
    reorderWindowMs: r.ms('SCC_REORDER_WINDOW', DEFAULT_REORDER_WINDOW_MS, 0),
    publishRetryTimeoutMs: r.ms('SCC_PUBLISH_RETRY_TIMEOUT', DEFAULT_PUBLISH_RETRY_TIMEOUT_MS),
  };
  return r.done<WorkerConfig>({
    ...common(r, 'SOCKETCLUSTER_LOG_LEVEL', DEFAULT_WORKER_LOG_LEVEL, isTty, WORKER_LIMIT_DEFAULTS),
    port: r.listenPort('SOCKETCLUSTER_PORT', DEFAULT_WORKER_PORT),
    batchClientFrames: r.flag('SCC_BATCH_CLIENT_FRAMES', true),
    cluster: host === null ? null : cluster,
    socketClusterOptions: r.jsonObject('SOCKETCLUSTER_OPTIONS'),
    drainTimeoutMs: r.ms('SCC_DRAIN_TIMEOUT', DEFAULT_DRAIN_TIMEOUT_MS, 0),
  });
}
