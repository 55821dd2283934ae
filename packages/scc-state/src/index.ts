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
export type { MemberView, FiguresView, LinkView, HandoverView, PartitionView } from './cluster-view.js';
export { Dashboard, DASHBOARD_EVENTS_PATH } from './dashboard.js';
export type { DashboardOptions } from './dashboard.js';
export { PeerStats, FIGURE_HISTORY_POINTS } from './peer-stats.js';
export type { PeerFigures, Rates } from './peer-stats.js';
export { EventLog, MAX_RECENT_EVENTS } from './event-log.js';
export type { MembershipEvent, MembershipEventKind } from './event-log.js';
export type { HandoverProgress } from './handover.js';
