/**
 * The tests' names for the ORIGINAL SCC services in the harness: scc-broker 10.0.1 (its own
 * server.js) and the original worker (harness/original-worker.mjs: socketcluster-server 20 +
 * scc-broker-client 9.2.0). `stopAll()` stops them too.
 */
import { waitForMembers } from '../../harness/ready.js';
import { startOriginalBroker as startBroker, startOriginalWorker as startWorker } from '../../harness/services.js';
import type { ServiceProcess } from '../../harness/service-process.js';

export { ORIGINAL_VERSIONS, uriOf, waitForBrokers } from '../../harness/services.js';

/** scc-broker 10.0.1 on a free port, joined to 127.0.0.1:statePort; resolves once it serves /health-check (see `waitForJoin`). */
export function startOriginalBroker(statePort: number, env: Record<string, string> = {}): Promise<ServiceProcess> {
  return startBroker(statePort, { env });
}

/** An original worker on port 0 joined to 127.0.0.1:statePort; resolves once it listens. */
export function startOriginalWorker(statePort: number, env: Record<string, string> = {}): Promise<ServiceProcess> {
  return startWorker(statePort, { env });
}

/**
 * Waits until the state server's cluster view lists `uri` as a joined broker or worker (after
 * `since`, ms since the epoch, for a re-join).
 */
export async function waitForJoin(state: ServiceProcess, type: 'scc-broker' | 'scc-worker', uri: string, since?: number): Promise<void> {
  const uris = [uri];
  await waitForMembers(state.port, { ...(type === 'scc-broker' ? { brokers: uris } : { workers: uris }), ...(since !== undefined && { since }) });
}
