/** Replicated scc-state for tests: re-exports the harness helpers (etcd, the spy worker). */
export { startEtcd, EtcdUnavailableError, type Etcd } from '../../harness/etcd.js';
export { SpyWorker, type SeenList } from '../../harness/spy-worker.js';
export { leaders, leadingTerm, waitForLeader, SplitBrainError, type Leading } from '../../harness/leader.js';
