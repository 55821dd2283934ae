/** @scc-ts/scc-state: the cluster coordinator. */
export { startStateServer } from './state-server.js';
export type { StateServer } from './state-server.js';
export { Registry } from './registry.js';
export type { Member, JoinResult } from './registry.js';
export { Notifier } from './notifier.js';
export type { NotifierOptions, ListKind, Direction, PushFn } from './notifier.js';
export { createStateMetrics } from './metrics.js';
export type { StateMetrics, StateMetricsSources, JoinRefusalReason } from './metrics.js';
export { ClusterView, CLUSTER_VIEW_PATH, CLUSTER_JSON_PATH } from './cluster-view.js';
export type { ClusterSnapshot, ChannelOwner, BroadcastRecord, ClusterViewOptions } from './cluster-view.js';
