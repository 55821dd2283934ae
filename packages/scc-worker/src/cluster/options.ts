/**
 * Options of `attach(agServer, options)`, named as scc-broker-client's so an existing SocketCluster
 * app can switch plugins by changing an import. Validated once, all problems reported together.
 */
import { v4 as uuidv4 } from 'uuid';
import {
  ConfigError,
  SETTINGS,
  createLogger,
  resolveOptionSettings,
  type IpFamily,
  type Logger,
  type Mapper,
  type MappingEngineName,
} from '@scc-ts/shared';
import type { DeliveryMode } from './outbound.js';

export interface ClusterOptions {
  /** Host of the scc-state server. Required. */
  stateServerHost: string;
  /** Port of the scc-state server; default `DEFAULT_STATE_SERVER_PORT`. */
  stateServerPort?: number;
  /** Shared secret sent to the state server and to brokers; default none. */
  authKey?: string | null;
  /** This worker's id in publish packets; must be unique per worker. Default: a random UUID. */
  instanceId?: string;
  /** IP other instances reach this worker at; default: the address the state server sees. */
  instanceIp?: string | null;
  /** Family of `instanceIp`, one of `IP_FAMILIES`; default `DEFAULT_IP_FAMILY`. */
  instanceIpFamily?: IpFamily;
  /** The port this worker's socketcluster-server listens on. Required. */
  instancePort: number;
  /** A name in `MAPPING_ENGINES` (default `DEFAULT_MAPPING_ENGINE`) or a custom Mapper. */
  mappingEngine?: MappingEngineName | Mapper;
  /** socketcluster-client connections per broker, 1 to `MAX_CLIENT_POOL_SIZE`; default `DEFAULT_CLIENT_POOL_SIZE`. */
  clientPoolSize?: number;
  /**
   * Per-channel publish batching window in ms; default `DEFAULT_PUB_SUB_BATCH_DURATION_MS` (0: the
   * messages published on a channel in one event-loop turn go out as one packet, with no added
   * delay). A window > 0 waits that long; null sends each message as its own packet (the original's default).
   */
  pubSubBatchDuration?: number | null;
  /** Delay between state-server reconnects and join retries, ms; default `DEFAULT_RETRY_DELAY_MS`. */
  brokerRetryDelay?: number;
  /** State-server connect timeout, ms; default `DEFAULT_STATE_CONNECT_TIMEOUT_MS`. */
  stateServerConnectTimeout?: number;
  /** State-server acknowledgement timeout, ms; default `DEFAULT_STATE_ACK_TIMEOUT_MS`. */
  stateServerAckTimeout?: number;
  /** Random extra per reconnect, ms; default `DEFAULT_RECONNECT_RANDOMNESS_MS`. */
  stateServerReconnectRandomness?: number;
  /**
   * A name in `DELIVERY_MODES` (default `DEFAULT_DELIVERY_MODE`), or a function choosing per channel. At-least-once
   * keeps each packet until a broker acknowledges it and re-sends it after a failure (a broker crash).
   */
  deliveryMode?: DeliveryMode | ((channel: string) => DeliveryMode);
  /**
   * With a 0 `pubSubBatchDuration`: under sustained load, flush batches at most once per this many
   * ms (a message after a quiet spell still goes at once); default `DEFAULT_PUB_SUB_BATCH_INTERVAL_MS`.
   * 0 flushes every event-loop turn.
   */
  pubSubBatchInterval?: number;
  /**
   * Without a coordinating state server: wait between subscribing moved channels on their new broker
   * and publishing there, ms; default `DEFAULT_HANDOVER_DELAY_MS`. 0 switches at once, as the original does.
   */
  handoverDelay?: number;
  /** Likewise, wait between publishing to the new broker and leaving the old one, ms; default `DEFAULT_HANDOVER_GRACE_MS`. */
  handoverGrace?: number;
  /** How long a packet that arrives after a gap is held for the gap to fill, ms; default `DEFAULT_REORDER_WINDOW_MS`. */
  reorderWindow?: number;
  /** At-least-once: how long a packet is re-sent before it is given up as lost, ms; default `DEFAULT_PUBLISH_RETRY_TIMEOUT_MS`. */
  publishRetryTimeout?: number;
  /**
   * Hold a client's subscribe acknowledgement until the brokers confirmed the subscription (an
   * inbound middleware the plugin sets), so a client that publishes after its `subscribe` resolved
   * is heard on every worker; default `DEFAULT_HOLD_SUBSCRIBE_ACKS` (true). false acknowledges at
   * once, as the original does; a server with inbound middleware of its own sets false and awaits
   * `cluster.subscriptionReady(channel)` in that middleware.
   */
  holdSubscribeAcks?: boolean;
  /**
   * Channel-name prefixes that keep history on their owner broker (`*`: every channel;
   * docs/history.md): clients may subscribe with positions and recover what they missed. Set the
   * same list as the brokers' `SCC_HISTORY_CHANNELS`; it needs the worker's own broker engine
   * (`WorkerBrokerEngine`). Default none.
   */
  historyChannels?: readonly string[];
  /**
   * Silence after which a broker link counts as dead, ms; heartbeats go every third of it. Default
   * `DEFAULT_LINK_TIMEOUT_MS` (3000): a silently partitioned broker is routed around within seconds.
   */
  linkTimeout?: number;
  /** Version announced to the state server; default `DEFAULT_ANNOUNCED_VERSION` (major 9, which scc-state 9.x requires). */
  version?: string;
  /**
   * Interval of the figures (`sccStats`: clients, channels, message totals, CPU, memory, broker links)
   * sent to the state server for its /cluster dashboard, ms; default `DEFAULT_STATS_INTERVAL_MS`; 0: none.
   */
  statsInterval?: number;
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
  holdSubscribeAcks: boolean;
  historyChannels: readonly string[];
  linkTimeout: number;
  version: string;
  statsInterval: number;
  logger: Logger;
}

/** The plugin's own logger, when none is given, logs warnings and errors (level 2). */
const PLUGIN_LOG_LEVEL = 2;

/** The logger the plugin (and `workerServerOptions`) use when none is given: JSON lines, warnings and errors. */
export function createPluginLogger(): Logger {
  return createLogger({ name: 'scc-worker', level: PLUGIN_LOG_LEVEL, format: 'json' });
}

/**
 * Each option backed by a setting of the shared table: its default, bounds and check come from
 * there (the worker's env variables use the same entries). The key is the option's name, equal to
 * the setting's `option` (a unit test holds them together).
 */
export const OPTION_SETTINGS = Object.freeze({
  stateServerHost: SETTINGS.stateServerHost,
  stateServerPort: SETTINGS.stateServerPort,
  authKey: SETTINGS.authKey,
  instanceId: SETTINGS.instanceId,
  instanceIp: SETTINGS.instanceIp,
  instanceIpFamily: SETTINGS.instanceIpFamily,
  instancePort: SETTINGS.instancePort,
  mappingEngine: SETTINGS.mappingEngine,
  clientPoolSize: SETTINGS.clientPoolSize,
  pubSubBatchDuration: SETTINGS.pubSubBatchDuration,
  brokerRetryDelay: SETTINGS.brokerRetryDelay,
  stateServerConnectTimeout: SETTINGS.stateServerConnectTimeout,
  stateServerAckTimeout: SETTINGS.stateServerAckTimeout,
  stateServerReconnectRandomness: SETTINGS.reconnectRandomness,
  deliveryMode: SETTINGS.deliveryMode,
  pubSubBatchInterval: SETTINGS.pubSubBatchInterval,
  handoverDelay: SETTINGS.handoverDelay,
  handoverGrace: SETTINGS.handoverGrace,
  reorderWindow: SETTINGS.reorderWindow,
  publishRetryTimeout: SETTINGS.publishRetryTimeout,
  holdSubscribeAcks: SETTINGS.holdSubscribeAcks,
  historyChannels: SETTINGS.historyChannels,
  linkTimeout: SETTINGS.linkTimeout,
  version: SETTINGS.announceVersion,
  statsInterval: SETTINGS.statsInterval,
} satisfies Partial<Record<keyof ClusterOptions, unknown>>);

/**
 * The options no setting of the shared table stands behind, with their defaults as the docs write
 * them. With OPTION_SETTINGS they name every option of ClusterOptions (the compiler checks it), so
 * the README's generated options table (`pnpm docs`) lists them all.
 */
export const OTHER_OPTIONS = Object.freeze({
  logger: { default: 'JSON lines at warn level', doc: "a pino logger for the plugin's own lines" },
} satisfies Record<Exclude<keyof ClusterOptions, keyof typeof OPTION_SETTINGS>, { default: string; doc: string }>);

/** Applies defaults (an explicit 0 stays 0) and throws one ConfigError listing every bad option. */
export function resolveClusterOptions(options: ClusterOptions): Readonly<ResolvedClusterOptions> {
  const { values, problems } = resolveOptionSettings(OPTION_SETTINGS, options as unknown as Readonly<Record<string, unknown>>);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    ...values,
    // Checked above: a required option is never left at its null default past this point.
    stateServerHost: values.stateServerHost as string,
    instancePort: values.instancePort,
    instanceId: values.instanceId ?? uuidv4(),
    mappingEngine: values.mappingEngine as MappingEngineName | Mapper,
    deliveryMode: values.deliveryMode as ResolvedClusterOptions['deliveryMode'],
    logger: options.logger ?? createPluginLogger(),
  });
}
