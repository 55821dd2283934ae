// An app's own socketcluster-server made one worker of an SCC cluster. PORT=0 takes any free port.
import http from 'node:http';
import socketClusterServer from 'socketcluster-server';
import { attach, workerServerOptions } from '@scc-ts/scc-worker';

const httpServer = http.createServer();
// The hardening and limits of `node server`: refusing codec, payload, connection and buffer limits.
const agServer = socketClusterServer.attach(httpServer, workerServerOptions());
(async () => {
  for await (const { warning } of agServer.listener('warning')) console.warn(`warning: ${warning.name}: ${warning.message}`);
})();
httpServer.listen(Number(process.env.PORT ?? 8000), () => {
  const instancePort = httpServer.address().port;
  const cluster = attach(agServer, {
    stateServerHost: process.env.SCC_STATE_SERVER_HOST ?? '127.0.0.1',
    stateServerPort: Number(process.env.SCC_STATE_SERVER_PORT ?? 7777),
    instancePort,
  });
  cluster.on('updateBrokers', ({ brokerURIs }) => console.log(`port ${instancePort}, brokers: ${brokerURIs.join(' ')}`));
  process.once('SIGTERM', () => cluster.close().then(() => process.exit(0)));
});
