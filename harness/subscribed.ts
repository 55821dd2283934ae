/** A cluster with real clients already subscribed: the start of the delivery tests and the failover bench. */
import { Collector, connect, primeChannels, type Client } from './clients.js';
import { startCluster, type Cluster, type ClusterOptions } from './cluster.js';

/** A cluster with one subscriber client on worker B on every channel and a publisher client on worker A. */
export interface SubscribedCluster {
  cluster: Cluster;
  /** Publishes on worker A. */
  publisher: Client;
  /** Records what worker B's subscriber receives, under label 'B'. */
  collector: Collector;
}

/**
 * Starts a cluster, subscribes worker B's client to `channels`, and primes them from worker A so the
 * upstream subscriptions are in place before the caller publishes.
 */
export async function startSubscribedCluster(channels: string[], options: ClusterOptions): Promise<SubscribedCluster> {
  const cluster = await startCluster(options);
  const collector = new Collector();
  const subscriber = await connect(cluster.workers[1]!.port);
  for (const c of channels) await collector.subscribe('B', subscriber, c);
  const publisher = await connect(cluster.workers[0]!.port);
  await primeChannels(publisher, collector, ['B'], channels);
  return { cluster, publisher, collector };
}
