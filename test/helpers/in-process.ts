/**
 * An app's own socketcluster-server in the test process, made a worker with `attach()`: the plain
 * server on a free loopback port, and the plugin options such a test worker joins with (the fast
 * retry timings of the test cluster, a silent logger).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import socketClusterServer from 'socketcluster-server';
import { createLogger, type AGServer } from '@scc-ts/shared';
import type { ClusterOptions } from '@scc-ts/scc-worker';

/** A plain socketcluster-server (nothing of ours applied) listening on 127.0.0.1, any free port. */
export async function plainServer(options: Parameters<typeof socketClusterServer.attach>[1] = {}): Promise<{ agServer: AGServer; httpServer: Server; port: number }> {
  const httpServer = createServer();
  const agServer = socketClusterServer.attach(httpServer, options);
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return { agServer, httpServer, port: (httpServer.address() as AddressInfo).port };
}

/** Plugin options for an in-process worker on `port` joining the state server on `statePort`. */
export function inProcessOptions(statePort: number, port: number, extra: Partial<ClusterOptions> = {}): ClusterOptions {
  return {
    stateServerHost: '127.0.0.1',
    stateServerPort: statePort,
    instancePort: port,
    instanceIp: '127.0.0.1',
    brokerRetryDelay: 200,
    stateServerReconnectRandomness: 50,
    logger: createLogger({ name: 'in-process-worker', level: 0, format: 'json' }),
    ...extra,
  };
}
