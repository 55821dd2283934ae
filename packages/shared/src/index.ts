/** @scc-ts/shared: everything the three services share. Exports are listed one by one. */
export {
  Procedure,
  InstanceType,
  SOCKETCLUSTER_PATH,
  HEALTH_CHECK_PATH,
  READY_PATH,
  STARTUP_DELAY_REFUSAL_MESSAGE,
  HANDSHAKE_REJECTION_CLOSE_CODE,
  UPGRADE_REJECTION_HTTP_STATUS,
  NO_AUTH_KEY_QUERY_VALUE,
  STATE_SHUTDOWN_CLOSE_CODE,
  StateQuery,
  BrokerQuery,
  COMPATIBLE_ORIGINAL_MAJORS,
  HandoverProcedure,
  LinkProcedure,
  BARRIER_CHANNEL,
  STATS_EVENT,
} from './protocol.js';
export type { ProcedureName, InstanceTypeName, HandoverPhase } from './protocol.js';
export {
  SccError,
  BadClusterAuthError,
  CompatibilityError,
  InvalidHandshakeError,
  InvalidPayloadError,
  InstanceTypeMismatchError,
  ClusterNotReadyError,
  StaleTermError,
  ConfigError,
  NoMatchingBrokerError,
  BrokerUnavailableError,
  ConnectionLimitError,
  SlowConsumerError,
  AlreadyJoinedError,
  UnsupportedActionError,
  InvalidChannelError,
  InvalidEventError,
  PacketTooDeepError,
  InvalidFrameError,
  BrokerError,
  AckTimeoutError,
  BrokerPublishError,
} from './errors.js';
export type { SccErrorOptions } from './errors.js';
export * from './history.js';
export {
  parseBrokerJoin,
  parseWorkerJoin,
  parseBrokerListPush,
  parseWorkerListPush,
  parseWorkerJoinReply,
  parsePublishPacket,
  parseHandoverAck,
  parseHandoverSignal,
  parseLinkReport,
  parseStatsReport,
  MAX_STATS_LINKS,
  IP_FAMILIES,
  MAX_INSTANCE_ID_LENGTH,
  MAX_INSTANCE_IP_LENGTH,
  MAX_URI_LENGTH,
  MAX_URI_LIST_LENGTH,
} from './payloads.js';
export type {
  IpFamily,
  BrokerJoinPayload,
  WorkerJoinPayload,
  BrokerListPush,
  WorkerListPush,
  WorkerJoinReply,
  PublishPacket,
  HandoverAck,
  HandoverSignal,
  StatsReport,
  LinkReport,
  StatsLinkReport,
} from './payloads.js';
export { formatInstanceUri, hostPort, parseInstanceUri, isHostOrIp } from './uri.js';
export type { InstanceAddress, UriTarget } from './uri.js';
export {
  SETTINGS,
  STATE_SETTINGS,
  BROKER_SETTINGS,
  WORKER_SETTINGS,
  validate,
  resolveOptionSettings,
  defaultText,
  readStateConfig,
  readBrokerConfig,
  readWorkerConfig,
  WORKER_LIMIT_SETTINGS,
  DELIVERY_MODES,
  DEFAULT_DELIVERY_MODE,
  DEFAULT_IP_FAMILY,
  DEFAULT_STATE_SERVER_PORT,
  DEFAULT_BROKER_SERVER_PORT,
  DEFAULT_WORKER_PORT,
  DEFAULT_STATE_RETRY_DELAY_MS,
  DEFAULT_SCALE_OUT_DELAY_MS,
  DEFAULT_SCALE_BACK_DELAY_MS,
  DEFAULT_STARTUP_DELAY_MS,
  DEFAULT_RETRY_DELAY_MS,
  DEFAULT_RECONNECT_RANDOMNESS_MS,
  DEFAULT_STATE_CONNECT_TIMEOUT_MS,
  DEFAULT_STATE_ACK_TIMEOUT_MS,
  DEFAULT_BROKER_ACK_TIMEOUT_MS,
  DEFAULT_CLIENT_POOL_SIZE,
  DEFAULT_HANDOVER_DELAY_MS,
  DEFAULT_PUB_SUB_BATCH_DURATION_MS,
  DEFAULT_PUB_SUB_BATCH_INTERVAL_MS,
  DEFAULT_HANDOVER_TIMEOUT_MS,
  DEFAULT_HANDOVER_GRACE_MS,
  DEFAULT_REORDER_WINDOW_MS,
  DEFAULT_PUBLISH_RETRY_TIMEOUT_MS,
  DEFAULT_BATCH_CLIENT_FRAMES,
  DEFAULT_HOLD_SUBSCRIBE_ACKS,
  DEFAULT_STATS_INTERVAL_MS,
  DEFAULT_DASHBOARD_INTERVAL_MS,
  MIN_DASHBOARD_INTERVAL_MS,
  DEFAULT_DASHBOARD_MAX_CLIENTS,
  MAX_DASHBOARD_CLIENTS,
  MAX_CLIENT_POOL_SIZE,
  DEFAULT_STATE_LOG_LEVEL,
  DEFAULT_BROKER_LOG_LEVEL,
  DEFAULT_WORKER_LOG_LEVEL,
  DEFAULT_STATE_MAX_PAYLOAD_BYTES,
  DEFAULT_BROKER_MAX_PAYLOAD_BYTES,
  DEFAULT_WORKER_MAX_PAYLOAD_BYTES,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_WORKER_SOCKET_CHANNEL_LIMIT,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_STATE_MAX_OUTBOUND_BUFFER_BYTES,
  DEFAULT_BROKER_MAX_OUTBOUND_BUFFER_BYTES,
  DEFAULT_WORKER_MAX_OUTBOUND_BUFFER_BYTES,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_LINK_TIMEOUT_MS,
  DEFAULT_LINK_RESTORE_DELAY_MS,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_REJOIN_TIMEOUT_MS,
  DEFAULT_ETCD_PREFIX,
  HEARTBEATS_PER_LINK_TIMEOUT,
  MIN_LINK_TIMEOUT_MS,
} from './config.js';
export type {
  Env,
  Setting,
  SettingName,
  ValueOf,
  DeliveryModeName,
  StateConfig,
  ElectionConfig,
  ElectionStore,
  BrokerConfig,
  HistoryConfig,
  WorkerConfig,
  WorkerClusterConfig,
  StateLinkConfig,
  CommonConfig,
} from './config.js';
export { createLogger, lifecycleLogger } from './logger.js';
export { LogEvent } from './log-events.js';
export type { LogEventName } from './log-events.js';
export type { Logger, LoggerOptions, LogFormat, SccLogLevel } from './logger.js';
export { handleHealthRequest, notFound } from './http.js';
export { startHealthResponder, HealthPortError, HEARTBEAT_INTERVAL_MS, BUSY_AFTER_MS, STALLED_AFTER_MS } from './health.js';
export type { HealthResponder, HealthResponderOptions } from './health.js';
export type { Readiness } from './http.js';
export { StateLink } from './state-link.js';
export type { StateLinkOptions, StatsSource, ClientSocket } from './state-link.js';
export { processFigures } from './process-figures.js';
export { SCC_TS_VERSION, DEFAULT_ANNOUNCED_VERSION, majorOf, isSemver, sccTsVersionOf, isCompatibleVersion, ACCEPTED_MAJORS } from './version.js';
export {
  SkeletonRendezvousMapper,
  SimpleMapper,
  createMapper,
  isMapper,
  isMappingEngineName,
  MAPPING_ENGINES,
  DEFAULT_MAPPING_ENGINE,
  hashToIndex,
  md5Hex,
} from './mapping/index.js';
export type { Mapper, MappingEngineName } from './mapping/index.js';
export { runService, setProcessTitle, CLOSE_MARGIN_MS } from './service.js';
export type { Service } from './service.js';
export { CLOSE_HANDSHAKE_GRACE_MS, trackConnections, closedWithin, activeResourcesSummary } from './shutdown.js';
export type { ConnectionTracker } from './shutdown.js';
export { authKeyMatches, queryOf } from './auth.js';
export { installHandshakeChecks, logServerEvents, listen, warnIfUnauthenticated, SERVICE_RESTART_CLOSE_CODE } from './sc-server.js';
export { limitServerOptions } from './limits.js';
export type { ServerLimits } from './limits.js';
export { hardenedServerOptions, harden } from './hardening.js';
export type { HardenedServerOptions, HardeningChoices, HeartbeatSettings } from './hardening.js';
export { safeCodec, safeCodecFor, isSafeChannelName, MAX_PACKET_DEPTH } from './safe-codec.js';
export type { CodecEngine } from './safe-codec.js';
export { createWsEngine, isServedByWsEngine, SLOW_CONSUMER_CLOSE_CODE, CONNECTION_LIMIT_HTTP_STATUS } from './ws-engine.js';
export type { WsEngine, WsEngineOptions, WsEngineCounters } from './ws-engine.js';
export type { HandshakeChecks, ServerSocket, AGServer } from './sc-server.js';
export {
  METRICS_PATH,
  createMetricsRegistry,
  gaugeFrom,
  counterFrom,
  limitCounters,
  handshakeRefusalCounter,
  drainingGauge,
} from './metrics.js';
export type { MetricsRegistry, LimitCounts } from './metrics.js';
export { endConsumer, consume } from './consumer.js';
export type { ListenerConsumer } from './consumer.js';
export {
  ScEvent,
  ScCloseCode,
  SC_PING,
  SC_LEGACY_PING,
  SC_LEGACY_PONG,
  DEFAULT_SC_PING_INTERVAL_MS,
  DEFAULT_SC_PING_TIMEOUT_MS,
  parseFrame,
  toPacket,
  shortName,
  dehydrateError,
  encodeValue,
  encodeEvent,
  encodePublishText,
  encodeResponse,
  encodeErrorResponse,
  encodeBatch,
} from './sc-wire.js';
export type { ScEventPacket, ScResponsePacket, ScPacket, ScErrorPayload } from './sc-wire.js';
