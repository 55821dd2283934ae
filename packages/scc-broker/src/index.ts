/** @scc-ts/scc-broker: the pub/sub relay between workers. */
export { startBrokerServer } from './broker-server.js';
export type { BrokerServer } from './broker-server.js';
export { Relay, CLOSE_GRACE_MS } from './relay.js';
export { MAX_PEER_WARNINGS_PER_SECOND } from './warning-budget.js';
export type { RelayOptions, RelayedPacket } from './relay.js';
export { HistoryStore, MAX_PENDING_ITEMS, HISTORY_SWEEP_INTERVAL_MS, newEpoch, encodedLengths } from './history.js';
export type { HistoryLimits, HistoryCounts, EvictionReason, HistoryStoreOptions } from './history.js';
export { readRelaySettings } from './relay-settings.js';
export type { RelaySettings } from './relay-settings.js';
export { createBrokerStateLink } from './state-link.js';
export type { BrokerStateLinkOptions } from './state-link.js';
export { createBrokerMetrics, subscriptionCount } from './metrics.js';
export type { BrokerMetrics, BrokerMetricsSources, RelayTotals } from './metrics.js';
export { drainBroker } from './drain.js';
export type { DrainOptions, DrainResult } from './drain.js';
