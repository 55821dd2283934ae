/**
 * The one table of settings: every environment variable of the three services and every option of
 * the worker plugin's `attach()`, with its type, default (a named constant, unit in the name), bounds
 * and a doc line. The env readers (state.ts, broker.ts, worker.ts) and the plugin's option resolver
 * both read their defaults and bounds from here and check values with the one validator (parse.ts);
 * a unit test holds the README's configuration tables to this table.
 *
 * Names and defaults are the originals' where one exists (docs/protocol.md, "Configuration names").
 */
import { DEFAULT_ANNOUNCED_VERSION } from '../version.js';
import { DEFAULT_MAPPING_ENGINE, MAPPING_ENGINES, isMapper } from '../mapping/index.js';
import {
  MAX_TIMER_MS,
  MAX_BYTES_LIMIT,
  MIN_BYTES_LIMIT,
  MAX_COUNT_LIMIT,
  MAX_PORT,
  DEFAULT_STATE_SERVER_PORT,
  DEFAULT_BROKER_SERVER_PORT,
  DEFAULT_WORKER_PORT,
  DEFAULT_STATE_RETRY_DELAY_MS,
  DEFAULT_SCALE_OUT_DELAY_MS,
  DEFAULT_SCALE_BACK_DELAY_MS,
  DEFAULT_HANDOVER_TIMEOUT_MS,
  DEFAULT_LINK_RESTORE_DELAY_MS,
  DEFAULT_LEASE_TTL_MS,
  MIN_LEASE_TTL_MS,
  DEFAULT_REJOIN_TIMEOUT_MS,
  DEFAULT_ETCD_PREFIX,
  DEFAULT_LINK_TIMEOUT_MS,
  MIN_LINK_TIMEOUT_MS,
  DEFAULT_STARTUP_DELAY_MS,
  DEFAULT_RETRY_DELAY_MS,
  DEFAULT_RECONNECT_RANDOMNESS_MS,
  DEFAULT_STATE_CONNECT_TIMEOUT_MS,
  DEFAULT_STATE_ACK_TIMEOUT_MS,
  DEFAULT_BROKER_ACK_TIMEOUT_MS,
  DEFAULT_CLIENT_POOL_SIZE,
  MAX_CLIENT_POOL_SIZE,
  DEFAULT_STATE_LOG_LEVEL,
  DEFAULT_BROKER_LOG_LEVEL,
  DEFAULT_WORKER_LOG_LEVEL,
  MAX_LOG_LEVEL,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_STATE_MAX_PAYLOAD_BYTES,
  DEFAULT_BROKER_MAX_PAYLOAD_BYTES,
  DEFAULT_WORKER_MAX_PAYLOAD_BYTES,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_WORKER_SOCKET_CHANNEL_LIMIT,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_STATE_MAX_OUTBOUND_BUFFER_BYTES,
  DEFAULT_BROKER_MAX_OUTBOUND_BUFFER_BYTES,
  DEFAULT_WORKER_MAX_OUTBOUND_BUFFER_BYTES,
  DEFAULT_PUB_SUB_BATCH_DURATION_MS,
  DEFAULT_PUB_SUB_BATCH_INTERVAL_MS,
  DEFAULT_HANDOVER_DELAY_MS,
  DEFAULT_HANDOVER_GRACE_MS,
  DEFAULT_REORDER_WINDOW_MS,
  DEFAULT_PUBLISH_RETRY_TIMEOUT_MS,
  DEFAULT_BATCH_CLIENT_FRAMES,
  DEFAULT_HISTORY_SIZE,
  DEFAULT_HISTORY_TTL_MS,
  DEFAULT_HISTORY_CHANNEL_MAX_BYTES,
  DEFAULT_HISTORY_MAX_BYTES,
  DEFAULT_HOLD_SUBSCRIBE_ACKS,
  DELIVERY_MODES,
  DEFAULT_DELIVERY_MODE,
  DEFAULT_IP_FAMILY,
  LOG_FORMATS,
  DEFAULT_STATS_INTERVAL_MS,
  DEFAULT_DASHBOARD_INTERVAL_MS,
  MIN_DASHBOARD_INTERVAL_MS,
  DEFAULT_DASHBOARD_MAX_CLIENTS,
  MAX_DASHBOARD_CLIENTS,
} from './defaults.js';
import { IP_FAMILIES } from '../payloads.js';

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
  bindHost: {
    type: 'host',
    default: null,
    defaultDoc: 'every interface',
    env: 'SCC_BIND_HOST',
    doc: 'address the HTTP port is bound to, e.g. 127.0.0.1 for this host only',
  },
  healthPort: {
    ...LISTEN_PORT,
    default: null,
    env: 'SCC_HEALTH_PORT',
    doc: 'second port serving /health-check and /ready from a thread of their own (health.ts); none: the main port only',
  },

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
  linkRestoreDelay: {
    ...ms(0),
    default: DEFAULT_LINK_RESTORE_DELAY_MS,
    env: 'SCC_STATE_SERVER_LINK_RESTORE_DELAY',
    doc: 'how long every worker must reach a withdrawn broker before it is listed again',
  },
  // Replicated scc-state (leader election through etcd or a Kubernetes Lease).
  etcdEndpoints: {
    type: 'list',
    default: [],
    env: 'SCC_STATE_SERVER_ETCD_ENDPOINTS',
    doc: 'etcd URLs (http://host:2379, comma-separated): run as one of several replicas, the leader elected through etcd',
  },
  etcdPrefix: {
    type: 'text',
    default: null,
    nonEmpty: true,
    defaultDoc: DEFAULT_ETCD_PREFIX,
    env: 'SCC_STATE_SERVER_ETCD_PREFIX',
    doc: "etcd key prefix of this cluster's election and membership record",
  },
  kubernetesLease: {
    type: 'text',
    default: null,
    nonEmpty: true,
    env: 'SCC_STATE_SERVER_KUBERNETES_LEASE',
    doc: 'name of a coordination.k8s.io/v1 Lease: run as one of several replicas, the leader elected through it',
  },
  kubernetesNamespace: {
    type: 'text',
    default: null,
    nonEmpty: true,
    defaultDoc: "the service account's namespace",
    env: 'SCC_STATE_SERVER_KUBERNETES_NAMESPACE',
    doc: "namespace of the Lease",
  },
  leaseTtl: {
    ...ms(MIN_LEASE_TTL_MS),
    default: DEFAULT_LEASE_TTL_MS,
    env: 'SCC_STATE_SERVER_LEASE_TTL',
    doc: "the leader's lease: a leader that cannot renew steps down, and another takes over, within this",
  },
  rejoinTimeout: {
    ...ms(0),
    default: DEFAULT_REJOIN_TIMEOUT_MS,
    env: 'SCC_STATE_SERVER_REJOIN_TIMEOUT',
    doc: 'how long a new leader keeps listing a member of the last record that has not re-joined',
  },
  stateInstanceId: {
    type: 'text',
    default: null,
    nonEmpty: true,
    defaultDoc: 'host name and process id',
    env: 'SCC_INSTANCE_ID',
    doc: "this replica's id in the election",
  },
  stateInstanceIp: {
    type: 'host',
    default: null,
    defaultDoc: "the host's first external IPv4 address",
    env: 'SCC_INSTANCE_IP',
    doc: 'address other replicas pass connections through to, when this one leads',
  },
  linkTimeout: {
    ...ms(MIN_LINK_TIMEOUT_MS),
    default: DEFAULT_LINK_TIMEOUT_MS,
    env: 'SCC_LINK_TIMEOUT',
    option: 'linkTimeout',
    doc: 'silence after which an internal link (worker → broker, any → state) is dead; heartbeats every third',
  },
  dashboardInterval: {
    ...ms(MIN_DASHBOARD_INTERVAL_MS),
    default: DEFAULT_DASHBOARD_INTERVAL_MS,
    env: 'SCC_STATE_DASHBOARD_INTERVAL',
    doc: 'time between two live updates of the /cluster dashboard',
  },
  dashboardMaxClients: {
    type: 'integer',
    min: 1,
    max: MAX_DASHBOARD_CLIENTS,
    unit: 'count',
    default: DEFAULT_DASHBOARD_MAX_CLIENTS,
    env: 'SCC_STATE_DASHBOARD_MAX_CLIENTS',
    doc: 'most browsers watching the live dashboard at once (more get 503)',
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
  statsInterval: {
    ...ms(0),
    default: DEFAULT_STATS_INTERVAL_MS,
    env: 'SCC_STATS_INTERVAL',
    option: 'statsInterval',
    doc: "interval of the figures sent to the state server's dashboard; 0: none",
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
  historyChannels: {
    type: 'list',
    default: [],
    env: 'SCC_HISTORY_CHANNELS',
    option: 'historyChannels',
    doc: 'channel prefixes that keep history on their broker (`*`: every channel); the same list on brokers and workers',
  },
  historySize: { ...COUNT, default: DEFAULT_HISTORY_SIZE, env: 'SCC_HISTORY_SIZE', doc: 'most history messages kept per channel' },
  historyTtl: { ...ms(0), default: DEFAULT_HISTORY_TTL_MS, env: 'SCC_HISTORY_TTL', doc: 'how long a history message is kept (0: no time limit)' },
  historyChannelMaxBytes: { ...BYTES, default: DEFAULT_HISTORY_CHANNEL_MAX_BYTES, env: 'SCC_HISTORY_CHANNEL_MAX_BYTES', doc: 'most bytes of history kept per channel' },
  historyMaxBytes: { ...BYTES, default: DEFAULT_HISTORY_MAX_BYTES, env: 'SCC_HISTORY_MAX_BYTES', doc: 'most bytes of history kept over all channels (oldest evicted first)' },
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
