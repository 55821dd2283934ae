/**
 * The one table of settings: every environment variable of the three services and every option of
 * the worker plugin's `attach()`, with its type, default (a named constant, unit in the name), bounds
 * and a doc line. The env readers (state.ts, broker.ts, worker.ts) and the plugin's option resolver
 * both read their defaults and bounds from here and check values with the one validator (parse.ts);
 * a unit test holds the README's configuration tables to this table.
 *
 * Names and defaults are the originals' where one exists (docs/protocol.md, "Configuration names").
 */
import { IP_FAMILIES, type IpFamily } from '../payloads.js';
import { DEFAULT_ANNOUNCED_VERSION } from '../version.js';
import { DEFAULT_MAPPING_ENGINE, MAPPING_ENGINES, isMapper } from '../mapping/index.js';

/** Largest delay `setTimeout` honours, in milliseconds. */
export const MAX_TIMER_MS = 2_147_483_647;
/** Upper bound accepted for any byte limit (ws keeps a whole message in memory): 1 GiB. */
export const MAX_BYTES_LIMIT = 1024 * 1024 * 1024;
/** Smallest byte limit accepted: below it a SocketCluster handshake does not fit. */
export const MIN_BYTES_LIMIT = 1024;
/** Upper bound for counts of sockets or channels: past it the value is a typo, not a plan. */
export const MAX_COUNT_LIMIT = 10_000_000;
/** Highest TCP port. */
export const MAX_PORT = 65_535;

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
/** Broker and worker: state-server connect timeout, ms. */
export const DEFAULT_STATE_CONNECT_TIMEOUT_MS = 3000;
/** Broker and worker: state-server acknowledgement timeout, ms. */
export const DEFAULT_STATE_ACK_TIMEOUT_MS = 2000;
/** Broker: socketcluster-server ackTimeout for worker requests, ms. */
export const DEFAULT_BROKER_ACK_TIMEOUT_MS = 10_000;
/** Worker: client sockets per broker. */
export const DEFAULT_CLIENT_POOL_SIZE = 1;
/** Most client sockets per broker a worker may keep (`SCC_CLIENT_POOL_SIZE`). */
export const MAX_CLIENT_POOL_SIZE = 64;
/** Log levels on the originals' scale: 0 silent, 1 errors, 2 warnings, 3 info, 4 debug (ours). */
export const DEFAULT_STATE_LOG_LEVEL = 3;
export const DEFAULT_BROKER_LOG_LEVEL = 1;
export const DEFAULT_WORKER_LOG_LEVEL = 2;
/** Highest log level (debug). */
export const MAX_LOG_LEVEL = 4;
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
/** Worker: send what a client socket gets in one event-loop turn as one frame. */
export const DEFAULT_BATCH_CLIENT_FRAMES = true;
/** Plugin: hold a client's subscribe acknowledgement until the brokers confirmed the subscription. */
export const DEFAULT_HOLD_SUBSCRIBE_ACKS = true;

/** Delivery modes of a channel, the default first. */
export const DELIVERY_MODES = Object.freeze(['at-most-once', 'at-least-once'] as const);
export type DeliveryModeName = (typeof DELIVERY_MODES)[number];
export const DEFAULT_DELIVERY_MODE: DeliveryModeName = DELIVERY_MODES[0];
/** The address family assumed when a peer announces none. */
export const DEFAULT_IP_FAMILY: IpFamily = IP_FAMILIES[0];
/** `SCC_LOG_FORMAT` values. */
export const LOG_FORMATS = Object.freeze(['json', 'pretty'] as const);

/** What every setting has. */
interface SettingBase {
  /** Environment variable; null: a plugin option only. */
  readonly env: string | null;
  /** Name of the `attach()` option, where the plugin has one. */
  readonly option?: string;
  /** One line for the docs. */
  readonly doc: string;
  /** The env variable must be set (the hint says what it is). */
  readonly required?: string;
  /** The plugin option must be given. */
  readonly optionRequired?: boolean;
  /** What an explicit null means as a plugin option (absent: null is not accepted unless the default is null). */
  readonly optionNull?: string;
  /** What else the plugin option accepts besides the setting's type (a Mapper, a function). */
  readonly optionAlso?: { readonly accepts: (value: unknown) => boolean; readonly what: string };
  /** The default as the docs write it, where it is not a plain value (e.g. computed at start). */
  readonly defaultDoc?: string;
}

export interface IntegerSetting extends SettingBase {
  readonly type: 'integer';
  /** null: no default (required, or "none"). */
  readonly default: number | null;
  readonly min: number;
  readonly max: number;
  readonly unit: 'ms' | 'bytes' | 'count' | 'port' | 'level';
}
export interface BooleanSetting extends SettingBase {
  readonly type: 'boolean';
  readonly default: boolean;
}
export interface EnumSetting<T extends string = string> extends SettingBase {
  readonly type: 'enum';
  readonly values: readonly T[];
  readonly default: T;
}
/** Free text (a secret, a header name, an id). */
export interface TextSetting extends SettingBase {
  readonly type: 'text';
  readonly default: null;
  /** An empty string is refused. */
  readonly nonEmpty?: boolean;
}
/** A host name or IP address. */
export interface HostSetting extends SettingBase {
  readonly type: 'host';
  readonly default: null;
}
export interface SemverSetting extends SettingBase {
  readonly type: 'semver';
  readonly default: string;
}
/** A JSON object (env only). */
export interface JsonSetting extends SettingBase {
  readonly type: 'json';
  readonly default: null;
}
/** A comma-separated list (env only). */
export interface ListSetting extends SettingBase {
  readonly type: 'list';
  readonly default: readonly string[];
}

export type Setting =
  | IntegerSetting
  | BooleanSetting
  | EnumSetting
  | TextSetting
  | HostSetting
  | SemverSetting
  | JsonSetting
  | ListSetting;

/** The type of a setting's value once read. */
export type ValueOf<S extends Setting> = S extends IntegerSetting
  ? number
  : S extends BooleanSetting
    ? boolean
    : S extends EnumSetting<infer T>
      ? T
      : S extends TextSetting | HostSetting
        ? string | null
        : S extends SemverSetting
          ? string
          : S extends JsonSetting
            ? Readonly<Record<string, unknown>> | null
            : S extends ListSetting
              ? readonly string[]
              : never;

const ms = (min: number) => ({ type: 'integer', min, max: MAX_TIMER_MS, unit: 'ms' }) as const;
const LISTEN_PORT = { type: 'integer', min: 0, max: MAX_PORT, unit: 'port' } as const;
const CONNECT_PORT = { type: 'integer', min: 1, max: MAX_PORT, unit: 'port' } as const;
const LOG_LEVEL = { type: 'integer', min: 0, max: MAX_LOG_LEVEL, unit: 'level' } as const;
const BYTES = { type: 'integer', min: MIN_BYTES_LIMIT, max: MAX_BYTES_LIMIT, unit: 'bytes' } as const;
const COUNT = { type: 'integer', min: 1, max: MAX_COUNT_LIMIT, unit: 'count' } as const;

/** Keeps each entry's literal types (enum values) while checking it is a Setting. */
function table<const T extends Record<string, Setting>>(settings: T): Readonly<T> {
  return Object.freeze(settings);
}

/** Every setting, by the name the code uses for it. Several may share an env name with per-service defaults. */
export const SETTINGS = table({
  // All services.
  authKey: { type: 'text', default: null, env: 'SCC_AUTH_KEY', option: 'authKey', doc: 'shared secret peers must present' },
  logFormat: {
    type: 'enum',
    values: LOG_FORMATS,
    default: 'json',
    defaultDoc: 'pretty on a terminal, else json',
    env: 'SCC_LOG_FORMAT',
    doc: 'pino JSON lines, or one readable line per event',
  },
  stateLogLevel: { ...LOG_LEVEL, default: DEFAULT_STATE_LOG_LEVEL, env: 'SCC_STATE_LOG_LEVEL', doc: 'scc-state log level' },
  brokerLogLevel: { ...LOG_LEVEL, default: DEFAULT_BROKER_LOG_LEVEL, env: 'SCC_BROKER_SERVER_LOG_LEVEL', doc: 'scc-broker log level' },
  workerLogLevel: { ...LOG_LEVEL, default: DEFAULT_WORKER_LOG_LEVEL, env: 'SOCKETCLUSTER_LOG_LEVEL', doc: 'scc-worker log level' },
  socketClusterOptions: { type: 'json', default: null, env: 'SOCKETCLUSTER_OPTIONS', doc: 'JSON object merged into the socketcluster-server options' },
  drainTimeout: { ...ms(0), default: DEFAULT_DRAIN_TIMEOUT_MS, env: 'SCC_DRAIN_TIMEOUT', doc: 'longest SIGTERM drain before exiting anyway' },

  // Limits (limits.ts), per service where the defaults differ.
  stateMaxPayload: { ...BYTES, default: DEFAULT_STATE_MAX_PAYLOAD_BYTES, env: 'SCC_MAX_PAYLOAD', doc: 'largest inbound message' },
  brokerMaxPayload: { ...BYTES, default: DEFAULT_BROKER_MAX_PAYLOAD_BYTES, env: 'SCC_MAX_PAYLOAD', doc: 'largest inbound message' },
  workerMaxPayload: { ...BYTES, default: DEFAULT_WORKER_MAX_PAYLOAD_BYTES, env: 'SCC_MAX_PAYLOAD', doc: 'largest inbound message' },
  handshakeTimeout: { ...ms(1), default: DEFAULT_HANDSHAKE_TIMEOUT_MS, env: 'SCC_HANDSHAKE_TIMEOUT', doc: 'time to finish the SocketCluster handshake' },
  workerSocketChannelLimit: {
    ...COUNT,
    default: DEFAULT_WORKER_SOCKET_CHANNEL_LIMIT,
    env: 'SCC_SOCKET_CHANNEL_LIMIT',
    doc: 'most channels one client socket may subscribe to',
  },
  maxConnections: { ...COUNT, default: DEFAULT_MAX_CONNECTIONS, env: 'SCC_MAX_CONNECTIONS', doc: 'most pending and open sockets' },
  stateMaxOutboundBuffer: {
    ...BYTES,
    default: DEFAULT_STATE_MAX_OUTBOUND_BUFFER_BYTES,
    env: 'SCC_MAX_OUTBOUND_BUFFER',
    doc: 'unsent bytes past which a socket is closed as a slow consumer',
  },
  brokerMaxOutboundBuffer: {
    ...BYTES,
    default: DEFAULT_BROKER_MAX_OUTBOUND_BUFFER_BYTES,
    env: 'SCC_MAX_OUTBOUND_BUFFER',
    doc: 'unsent bytes past which a socket is closed as a slow consumer',
  },
  workerMaxOutboundBuffer: {
    ...BYTES,
    default: DEFAULT_WORKER_MAX_OUTBOUND_BUFFER_BYTES,
    env: 'SCC_MAX_OUTBOUND_BUFFER',
    doc: 'unsent bytes past which a socket is closed as a slow consumer',
  },

  // scc-state.
  statePort: { ...LISTEN_PORT, default: DEFAULT_STATE_SERVER_PORT, env: 'SCC_STATE_SERVER_PORT', doc: 'port to listen on' },
  forwardedForHeader: { type: 'text', default: null, env: 'FORWARDED_FOR_HEADER', doc: "header whose first value is a peer's IP" },
  stateRetryDelay: { ...ms(1), default: DEFAULT_STATE_RETRY_DELAY_MS, env: 'SCC_STATE_SERVER_RETRY_DELAY', doc: 'retry interval of a failed push' },
  scaleOutDelay: { ...ms(0), default: DEFAULT_SCALE_OUT_DELAY_MS, env: 'SCC_STATE_SERVER_SCALE_OUT_DELAY', doc: 'debounce of a grown list' },
  scaleBackDelay: { ...ms(0), default: DEFAULT_SCALE_BACK_DELAY_MS, env: 'SCC_STATE_SERVER_SCALE_BACK_DELAY', doc: 'debounce of a shrunk list' },
  startupDelay: { ...ms(0), default: DEFAULT_STARTUP_DELAY_MS, env: 'SCC_STATE_SERVER_STARTUP_DELAY', doc: 'worker joins refused after boot' },
  handoverTimeout: {
    ...ms(1),
    default: DEFAULT_HANDOVER_TIMEOUT_MS,
    env: 'SCC_STATE_SERVER_HANDOVER_TIMEOUT',
    doc: 'longest wait for one handover phase',
  },

  // A broker's or worker's link to the state server.
  brokerStateServerHost: {
    type: 'host',
    default: null,
    env: 'SCC_STATE_SERVER_HOST',
    required: 'the host name or IP of the scc-state server',
    doc: 'state server host',
  },
  stateServerHost: {
    type: 'host',
    default: null,
    env: 'SCC_STATE_SERVER_HOST',
    option: 'stateServerHost',
    optionRequired: true,
    doc: 'state server host; the worker runs standalone without it',
  },
  stateServerPort: { ...CONNECT_PORT, default: DEFAULT_STATE_SERVER_PORT, env: 'SCC_STATE_SERVER_PORT', option: 'stateServerPort', doc: 'state server port' },
  instanceIp: { type: 'host', default: null, env: 'SCC_INSTANCE_IP', option: 'instanceIp', doc: 'IP other instances dial; default: the address the state server sees' },
  instanceIpFamily: {
    type: 'enum',
    values: IP_FAMILIES,
    default: DEFAULT_IP_FAMILY,
    env: 'SCC_INSTANCE_IP_FAMILY',
    option: 'instanceIpFamily',
    doc: 'family of the instance IP',
  },
  stateServerConnectTimeout: {
    ...ms(1),
    default: DEFAULT_STATE_CONNECT_TIMEOUT_MS,
    env: 'SCC_STATE_SERVER_CONNECT_TIMEOUT',
    option: 'stateServerConnectTimeout',
    doc: 'state-server connect timeout',
  },
  stateServerAckTimeout: {
    ...ms(1),
    default: DEFAULT_STATE_ACK_TIMEOUT_MS,
    env: 'SCC_STATE_SERVER_ACK_TIMEOUT',
    option: 'stateServerAckTimeout',
    doc: 'state-server acknowledgement timeout',
  },
  announceVersion: {
    type: 'semver',
    default: DEFAULT_ANNOUNCED_VERSION,
    env: 'SCC_ANNOUNCE_VERSION',
    option: 'version',
    doc: '`version` announced to the state server',
  },

  // scc-broker.
  brokerPort: { ...LISTEN_PORT, default: DEFAULT_BROKER_SERVER_PORT, env: 'SCC_BROKER_SERVER_PORT', doc: 'port to listen on' },
  brokerServerRetryDelay: {
    ...ms(1),
    default: DEFAULT_RETRY_DELAY_MS,
    env: 'SCC_BROKER_SERVER_RETRY_DELAY',
    doc: 'interval between state-server reconnects and join retries',
  },
  brokerAckTimeout: { ...ms(1), default: DEFAULT_BROKER_ACK_TIMEOUT_MS, env: 'SCC_BROKER_SERVER_ACK_TIMEOUT', doc: 'socketcluster-server ackTimeout' },
  brokerSecure: { type: 'boolean', default: false, env: 'SCC_BROKER_SERVER_SECURE', doc: 'advertise wss:// (TLS terminated in front)' },

  // scc-worker and its cluster plugin.
  workerPort: { ...LISTEN_PORT, default: DEFAULT_WORKER_PORT, env: 'SOCKETCLUSTER_PORT', doc: 'port to listen on' },
  instancePort: {
    ...CONNECT_PORT,
    default: null,
    env: null,
    option: 'instancePort',
    optionRequired: true,
    doc: "the port this worker's socketcluster-server listens on",
  },
  instanceId: {
    type: 'text',
    default: null,
    nonEmpty: true,
    defaultDoc: 'a random UUID',
    env: null,
    option: 'instanceId',
    doc: "this worker's id in publish packets; unique per worker",
  },
  mappingEngine: {
    type: 'enum',
    values: MAPPING_ENGINES,
    default: DEFAULT_MAPPING_ENGINE,
    env: 'SCC_MAPPING_ENGINE',
    option: 'mappingEngine',
    optionAlso: { accepts: isMapper, what: 'a Mapper' },
    doc: 'channel → broker mapping engine (the same on every worker)',
  },
  clientPoolSize: {
    type: 'integer',
    min: 1,
    max: MAX_CLIENT_POOL_SIZE,
    unit: 'count',
    default: DEFAULT_CLIENT_POOL_SIZE,
    env: 'SCC_CLIENT_POOL_SIZE',
    option: 'clientPoolSize',
    doc: 'connections per broker',
  },
  reconnectRandomness: {
    ...ms(0),
    default: DEFAULT_RECONNECT_RANDOMNESS_MS,
    env: 'SCC_STATE_SERVER_RECONNECT_RANDOMNESS',
    option: 'stateServerReconnectRandomness',
    doc: 'random extra per reconnect',
  },
  pubSubBatchDuration: {
    ...ms(0),
    default: DEFAULT_PUB_SUB_BATCH_DURATION_MS,
    env: 'SCC_PUB_SUB_BATCH_DURATION',
    option: 'pubSubBatchDuration',
    optionNull: 'each message goes as its own packet (the original default)',
    doc: 'per-channel publish batching window; 0: one event-loop turn',
  },
  pubSubBatchInterval: {
    ...ms(0),
    default: DEFAULT_PUB_SUB_BATCH_INTERVAL_MS,
    env: 'SCC_PUB_SUB_BATCH_INTERVAL',
    option: 'pubSubBatchInterval',
    doc: 'with the 0 window, least time between flushes under load',
  },
  brokerRetryDelay: {
    ...ms(1),
    default: DEFAULT_RETRY_DELAY_MS,
    env: 'SCC_BROKER_RETRY_DELAY',
    option: 'brokerRetryDelay',
    doc: 'interval between reconnects to the state server and to brokers',
  },
  batchClientFrames: {
    type: 'boolean',
    default: DEFAULT_BATCH_CLIENT_FRAMES,
    env: 'SCC_BATCH_CLIENT_FRAMES',
    doc: 'one WebSocket frame per client socket per event-loop turn',
  },
  deliveryMode: {
    type: 'enum',
    values: DELIVERY_MODES,
    default: DEFAULT_DELIVERY_MODE,
    env: 'SCC_DELIVERY_MODE',
    option: 'deliveryMode',
    optionAlso: { accepts: (value: unknown) => typeof value === 'function', what: 'a function of the channel' },
    doc: 'delivery mode of channels',
  },
  atLeastOnceChannels: {
    type: 'list',
    default: [],
    env: 'SCC_AT_LEAST_ONCE_CHANNELS',
    doc: 'channel prefixes that are at-least-once whatever the mode',
  },
  publishRetryTimeout: {
    ...ms(1),
    default: DEFAULT_PUBLISH_RETRY_TIMEOUT_MS,
    env: 'SCC_PUBLISH_RETRY_TIMEOUT',
    option: 'publishRetryTimeout',
    doc: 'how long an at-least-once packet is re-sent',
  },
  handoverDelay: {
    ...ms(0),
    default: DEFAULT_HANDOVER_DELAY_MS,
    env: 'SCC_HANDOVER_DELAY',
    option: 'handoverDelay',
    doc: 'uncoordinated handover: subscribe → publish on the new broker',
  },
  handoverGrace: {
    ...ms(0),
    default: DEFAULT_HANDOVER_GRACE_MS,
    env: 'SCC_HANDOVER_GRACE',
    option: 'handoverGrace',
    doc: 'uncoordinated handover: switch → leave the old broker',
  },
  reorderWindow: {
    ...ms(0),
    default: DEFAULT_REORDER_WINDOW_MS,
    env: 'SCC_REORDER_WINDOW',
    option: 'reorderWindow',
    doc: 'how long a packet after a gap waits for the gap to fill',
  },
  holdSubscribeAcks: {
    type: 'boolean',
    default: DEFAULT_HOLD_SUBSCRIBE_ACKS,
    env: null,
    option: 'holdSubscribeAcks',
    doc: "hold a client's subscribe ack until the brokers confirmed the subscription",
  },
});

export type SettingName = keyof typeof SETTINGS;

/** A setting's default as the docs write it: `none`, `required`, a number, a word. */
export function defaultText(setting: Setting): string {
  if (setting.defaultDoc !== undefined) return setting.defaultDoc;
  if (setting.required !== undefined) return 'required';
  if (setting.type === 'list') return setting.default.length === 0 ? 'none' : setting.default.join(',');
  return setting.default === null ? 'none' : String(setting.default);
}
