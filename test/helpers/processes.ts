/**
 * The tests' names for the harness launcher (harness/): start our services one by one or as a
 * cluster, on free ports, stopped by `stopAll()` in afterAll. Environment objects passed here are
 * applied last, over the fast test timings.
 */
import { join } from 'node:path';
import { startCluster as startHarnessCluster, type Cluster, type ClusterOptions } from '../../harness/cluster.js';
import { startSubscribedCluster as startHarnessSubscribed, type SubscribedCluster as HarnessSubscribedCluster } from '../../harness/subscribed.js';
import { spawnProcess, type ServiceProcess } from '../../harness/service-process.js';
import { REPO_ROOT, awaitListening, startBroker as startOurBroker, startState as startOurState, startWorker as startOurWorker, type OurPackage } from '../../harness/services.js';

export { FAST_PEER_ENV, FAST_STATE_ENV, waitForBrokerCount, waitForBrokers, uriOf } from '../../harness/services.js';
export { ServiceProcess, stopAll } from '../../harness/service-process.js';
export type { LogLine } from '../../harness/service-process.js';
export { waitReady, waitForMembers } from '../../harness/ready.js';

/**
 * Spawns `node server` in `packages/<pkg>` (or in `cwd`, e.g. an unpacked image) with JSON logs and
 * exactly `env`; await `started()` for its port.
 */
export function spawnService(name: string, pkg: OurPackage, env: Record<string, string>, cwd = join(REPO_ROOT, 'packages', pkg)): ServiceProcess {
  return spawnProcess({ name, args: ['server'], cwd, env: { SCC_LOG_FORMAT: 'json', ...env } });
}

/** Waits for the service's `listening` event and records its port. */
export function started(service: ServiceProcess): Promise<ServiceProcess> {
  return awaitListening(service);
}

export function startState(env: Record<string, string> = {}): Promise<ServiceProcess> {
  return startOurState({ env });
}

export function startBroker(statePort: number, env: Record<string, string> = {}): Promise<ServiceProcess> {
  return startOurBroker(statePort, { env });
}

export function startWorker(statePort: number | null, env: Record<string, string> = {}): Promise<ServiceProcess> {
  return startOurWorker(statePort, { env });
}

/** A running cluster of our services. */
export type TestCluster = Cluster;

/** Starts state, brokers and workers, and waits until every worker publishes through every broker and knows every worker. */
export function startCluster(options: Pick<ClusterOptions, 'brokers' | 'workers' | 'workerEnv' | 'stateEnv' | 'brokerEnv'>): Promise<TestCluster> {
  return startHarnessCluster(options);
}

/** A cluster with one subscriber client on worker B on every channel and a publisher client on worker A. */
export type SubscribedCluster = HarnessSubscribedCluster;

/** Starts a cluster, subscribes worker B's client to `channels` and primes them from worker A. */
export function startSubscribedCluster(channels: string[], options: Parameters<typeof startCluster>[0]): Promise<SubscribedCluster> {
  return startHarnessSubscribed(channels, options);
}
