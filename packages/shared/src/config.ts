/**
 * Environment → frozen, typed configuration for each service. One table of settings
 * (config/definitions.ts), one validator (config/parse.ts), one module per service
 * (config/state.ts, broker.ts, worker.ts). This module names the public entry points.
 */
export { SETTINGS, defaultText } from './config/definitions.js';
export {
  DELIVERY_MODES,
  DEFAULT_DELIVERY_MODE,
  DEFAULT_IP_FAMILY,
  DEFAULT_STATE_SERVER_PORT,
  DEFAULT_BROKER_SERVER_PORT,
  DEFAULT_WORKER_PORT,
  DEFAULT_STATE_RETRY_DELAY_MS,
  DEFAULT_SCALE_OUT_DELAY_MS,
  DEFAULT_SCALE_BACK_DELAY_MS,
  DEFAULT_HANDOVER_TIMEOUT_MS,
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
  DEFAULT_HOLD_SUBSCRIBE_ACKS,
  DEFAULT_LINK_TIMEOUT_MS,
  DEFAULT_LINK_RESTORE_DELAY_MS,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_REJOIN_TIMEOUT_MS,
  DEFAULT_ETCD_PREFIX,
  HEARTBEATS_PER_LINK_TIMEOUT,
  MIN_LINK_TIMEOUT_MS,
  DEFAULT_STATS_INTERVAL_MS,
  DEFAULT_DASHBOARD_INTERVAL_MS,
  MIN_DASHBOARD_INTERVAL_MS,
  DEFAULT_DASHBOARD_MAX_CLIENTS,
  MAX_DASHBOARD_CLIENTS,
} from './config/defaults.js';
export type { DeliveryModeName } from './config/defaults.js';
export type {
  Setting,
  SettingName,
  ValueOf,
  IntegerSetting,
  BooleanSetting,
  EnumSetting,
  TextSetting,
  HostSetting,
  SemverSetting,
  JsonSetting,
  ListSetting,
} from './config/definitions.js';
export { EnvSettings, validate, resolveOptionSettings } from './config/parse.js';
export type { Env } from './config/parse.js';
export type { CommonConfig, StateLinkConfig } from './config/common.js';
export { readStateConfig, STATE_SETTINGS } from './config/state.js';
export type { StateConfig, ElectionConfig, ElectionStore } from './config/state.js';
export { readBrokerConfig, BROKER_SETTINGS } from './config/broker.js';
export type { BrokerConfig, HistoryConfig } from './config/broker.js';
export { readWorkerConfig, WORKER_SETTINGS, WORKER_LIMIT_SETTINGS } from './config/worker.js';
export type { WorkerConfig, WorkerClusterConfig } from './config/worker.js';
