/**
 * Options of `attach(agServer, options)`, named as scc-broker-client's so an existing SocketCluster
 * app can switch plugins by changing an import. Validated once, all problems reported together.
 */
import { v4 as uuidv4 } from 'uuid';
import {
  ConfigError,
  DEFAULT_CLIENT_POOL_SIZE,
  DEFAULT_PUB_SUB_BATCH_DURATION_MS,
  DEFAULT_PUB_SUB_BATCH_INTERVAL_MS,
  DEFAULT_HANDOVER_DELAY_MS,
  DEFAULT_HANDOVER_GRACE_MS,
  DEFAULT_PUBLISH_RETRY_TIMEOUT_MS,
  DEFAULT_REORDER_WINDOW_MS,
  DEFAULT_RECONNECT_RANDOMNESS_MS,
  DEFAULT_RETRY_DELAY_MS,
  DEFAULT_STATE_ACK_TIMEOUT_MS,
  DEFAULT_STATE_CONNECT_TIMEOUT_MS,
  DEFAULT_STATE_SERVER_PORT,
  MAX_CLIENT_POOL_SIZE,
  DEFAULT_ANNOUNCED_VERSION,
  isSemver,
  createLogger,
  isMapper,
  type IpFamily,
  type Logger,
  type Mapper,
  type MappingEngineName,
} from '@scc-ts/shared';
import { DELIVERY_MODES, type DeliveryMode } from './outbound.js';

export interface ClusterOptions {
  /** Host of the scc-state server. Required. */
  stateServerHost: string;
  /** Port of the scc-state server; default 7777. */
  stateServerPort?: number;
  /** Shared secret sent to the state server and to brokers; default none. */
  authKey?: string | null;
  /** This worker's id in publish packets; must be unique per worker. Default: a random UUID. */
  instanceId?: string;
  /** IP other instances reach this worker at; default: the address the state server sees. */
  instanceIp?: string | null;
  /** Family of `instanceIp`; default IPv4. */
  instanceIpFamily?: IpFamily;
  /** The port this worker's socketcluster-server listens on. Required. */
  instancePort: number;
  /** `skeletonRendezvous` (default), `simple`, or a custom Mapper. */
  mappingEngine?: MappingEngineName | Mapper;
  /** socketcluster-client connections per broker, 1 to 64; default 1. */
  clientPoolSize?: number;
    /**
   * Per-channel publish batching window in ms. Default 0: the messages published on a channel in
   * one event-loop turn go out as one packet, with no added delay. A window > 0 waits that long;
   * null sends each message as its own packet (the original's default).
   */
  pubSubBatchDuration?: number | null;
  /** Delay between state-server reconnects and join retries, ms; default 2000. */
  brokerRetryDelay?: number;
  /** State-server connect timeout, ms; default 3000. */
  stateServerConnectTimeout?: number;
  /** State-server acknowledgement timeout, ms; default 2000. */
  stateServerAckTimeout?: number;
  /** Random extra per reconnect, ms; default 1000. */
  stateServerReconnectRandomness?: number;
  /**
   * `at-most-once` (default) or `at-least-once`, or a function choosing per channel. At-least-once
   * keeps each packet until a broker acknowledges it and re-sends it after a failure (a broker crash).
   */
  deliveryMode?: DeliveryMode | ((channel: string) => DeliveryMode);
  /**
   * With a 0 `pubSubBatchDuration`: under sustained load, flush batches at most once per this many
   * ms (a message after a quiet spell still goes at once); default 10. 0 flushes every event-loop turn.
   */
  pubSubBatchInterval?: number;
  /** Wait between subscribing moved channels on their new broker and publishing there, ms; default 1000. 0 switches at once, as the original does. */
  handoverDelay?: number;
  /** Wait between publishing to the new broker and leaving the old one, ms; default 1000. */
  handoverGrace?: number;
  /** How long a packet that arrives after a gap is held for the gap to fill, ms; default 500. */
  reorderWindow?: number;
  /** At-least-once: how long a packet is re-sent before it is given up as lost, ms; default 30000. */
  publishRetryTimeout?: number;
  /** Version announced to the state server; default `DEFAULT_ANNOUNCED_VERSION` (major 9, which scc-state 9.x requires). */
  version?: string;
  /** pino logger; default a JSON logger at warn level. */
  logger?: Logger;
}

/** Options after defaults and validation. */
export interface ResolvedClusterOptions {
  stateServerHost: string;
  stateServerPort: number;
  authKey: string | null;
  instanceId: string;
  instanceIp: string | null;
  instanceIpFamily: IpFamily;
  instancePort: number;
  mappingEngine: MappingEngineName | Mapper;
  clientPoolSize: number;
  pubSubBatchDuration: number | null;
  brokerRetryDelay: number;
  stateServerConnectTimeout: number;
  stateServerAckTimeout: number;
  stateServerReconnectRandomness: number;
  deliveryMode: DeliveryMode | ((channel: string) => DeliveryMode);
  pubSubBatchInterval: number;
  handoverDelay: number;
  handoverGrace: number;
  reorderWindow: number;
  publishRetryTimeout: number;
  version: string;
  logger: Logger;
}


const MAX_MS = 2_147_483_647;

/** Names a bad option value in an error message; never throws (NaN, Infinity, cycles, functions). */
function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || value === undefined) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function deliveryMode(value: ClusterOptions['deliveryMode'], problems: string[]): ResolvedClusterOptions['deliveryMode'] {
  if (value === undefined) return 'at-most-once';
  if (typeof value === 'function' || DELIVERY_MODES.includes(value)) return value;
  problems.push(`deliveryMode=${show(value)}: must be ${DELIVERY_MODES.map((m) => `'${m}'`).join(' or ')} or a function of the channel`);
  return 'at-most-once';
}

/** Applies defaults (with `??`: an explicit 0 stays 0) and throws one ConfigError listing every bad option. */
export function resolveClusterOptions(options: ClusterOptions): Readonly<ResolvedClusterOptions> {
  const problems: string[] = [];
  const int = (name: keyof ClusterOptions, value: number | undefined, fallback: number, min: number, max: number): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < min || v > max) {
      problems.push(`${name}=${show(value)}: must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return v;
  };
  if (typeof options.stateServerHost !== 'string' || options.stateServerHost.trim() === '') {
    problems.push('stateServerHost is required');
  }
  const engine = options.mappingEngine ?? 'skeletonRendezvous';
  if (engine !== 'skeletonRendezvous' && engine !== 'simple' && !isMapper(engine)) {
    problems.push(`mappingEngine=${show(engine)}: must be 'skeletonRendezvous', 'simple' or a Mapper`);
  }
  const family = options.instanceIpFamily ?? 'IPv4';
  if (family !== 'IPv4' && family !== 'IPv6') problems.push(`instanceIpFamily=${show(family)}: must be IPv4 or IPv6`);
  if (options.instanceId !== undefined && (typeof options.instanceId !== 'string' || options.instanceId === '')) {
    problems.push('instanceId must be a non-empty string');
  }
  if (options.version !== undefined && !isSemver(options.version)) {
    problems.push(`version=${show(options.version)}: must be a semver version such as 9.2.0`);
  }
  const resolved: ResolvedClusterOptions = {
    stateServerHost: options.stateServerHost,
    stateServerPort: int('stateServerPort', options.stateServerPort, DEFAULT_STATE_SERVER_PORT, 1, 65_535),
    authKey: options.authKey ?? null,
    instanceId: options.instanceId ?? uuidv4(),
    instanceIp: options.instanceIp ?? null,
    instanceIpFamily: family,
    instancePort: int('instancePort', options.instancePort, Number.NaN, 1, 65_535),
    mappingEngine: engine,
    clientPoolSize: int('clientPoolSize', options.clientPoolSize, DEFAULT_CLIENT_POOL_SIZE, 1, MAX_CLIENT_POOL_SIZE),
    // undefined: the default, 0 (combine what is published in one event-loop turn); null: no batching.
    pubSubBatchDuration:
      options.pubSubBatchDuration === null ? null : int('pubSubBatchDuration', options.pubSubBatchDuration, DEFAULT_PUB_SUB_BATCH_DURATION_MS, 0, MAX_MS),
    brokerRetryDelay: int('brokerRetryDelay', options.brokerRetryDelay, DEFAULT_RETRY_DELAY_MS, 1, MAX_MS),
    stateServerConnectTimeout: int('stateServerConnectTimeout', options.stateServerConnectTimeout, DEFAULT_STATE_CONNECT_TIMEOUT_MS, 1, MAX_MS),
    stateServerAckTimeout: int('stateServerAckTimeout', options.stateServerAckTimeout, DEFAULT_STATE_ACK_TIMEOUT_MS, 1, MAX_MS),
    stateServerReconnectRandomness: int(
      'stateServerReconnectRandomness',
      options.stateServerReconnectRandomness,
      DEFAULT_RECONNECT_RANDOMNESS_MS,
      0,
      MAX_MS,
    ),
    deliveryMode: deliveryMode(options.deliveryMode, problems),
    pubSubBatchInterval: int('pubSubBatchInterval', options.pubSubBatchInterval, DEFAULT_PUB_SUB_BATCH_INTERVAL_MS, 0, MAX_MS),
    handoverDelay: int('handoverDelay', options.handoverDelay, DEFAULT_HANDOVER_DELAY_MS, 0, MAX_MS),
    handoverGrace: int('handoverGrace', options.handoverGrace, DEFAULT_HANDOVER_GRACE_MS, 0, MAX_MS),
    reorderWindow: int('reorderWindow', options.reorderWindow, DEFAULT_REORDER_WINDOW_MS, 0, MAX_MS),
    publishRetryTimeout: int('publishRetryTimeout', options.publishRetryTimeout, DEFAULT_PUBLISH_RETRY_TIMEOUT_MS, 1, MAX_MS),
    version: options.version ?? DEFAULT_ANNOUNCED_VERSION,
    logger: options.logger ?? createLogger({ name: 'scc-worker', level: 2, format: 'json' }),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(resolved);
}
