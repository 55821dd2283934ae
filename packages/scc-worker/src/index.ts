/** @scc-ts/scc-worker: the worker server and the cluster plugin `attach(agServer, options)`. */
export { attach, ClusterClient, UNHARDENED_SERVER_WARNING } from './cluster/index.js';
export { workerServerOptions } from './server-options.js';
export type { WorkerServerChoices } from './server-options.js';
export type { ClusterOptions, ResolvedClusterOptions, ReshardSummary, ClusterStats, ClusterClientEvents, DeliveryMode } from './cluster/index.js';
export { startWorkerServer, SHUTDOWN_CLOSE_CODE } from './worker-server.js';
export type { WorkerServer } from './worker-server.js';
export { WorkerBrokerEngine, FAN_OUT_SLICE_SOCKETS } from './broker-engine.js';
export type { WorkerBrokerEngineOptions, SubscriptionReady, PublishHooks, PublishListener } from './broker-engine.js';
export { createWorkerMetrics } from './metrics.js';
export type { WorkerMetrics, WorkerMetricsSources } from './metrics.js';
