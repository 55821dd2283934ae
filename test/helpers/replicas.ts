/** Replicated scc-state for tests: re-exports the harness helpers (etcd, the spy worker, who leads). */
export { startEtcd, EtcdUnavailableError, type Etcd } from '../../harness/etcd.js';
export { SpyWorker, type SeenList } from '../../harness/spy-worker.js';
export { leadersAmong, leadsWith, replicaEnv, replicaId, waitForLeaderAmong, SplitBrainError, NoLeaderError, type Leading } from '../../harness/state-replicas.js';
