// The original SCC worker, for side-by-side runs: socketcluster-server 20 with scc-broker-client@9.2.0
// attached exactly as SocketCluster's boilerplate server.js does, configured from the same SCC_*
// environment variables as our scc-worker (read the boilerplate's way: `Number(x) || default`).
// Like the boilerplate it has no SIGTERM handler: the default action ends the process at once.
// Logs JSON lines: "listening on port N" and "broker list from update: N brokers" on each updateBrokers.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import socketClusterServer from 'socketcluster-server';
import sccBrokerClient from 'scc-broker-client';

const env = process.env;
const PORT = Number(env.SOCKETCLUSTER_PORT) || 8000;
const ERROR_LOG_INTERVAL_MS = 1000;

const log = (msg) => process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), msg })}\n`);

const httpServer = http.createServer((req, res) => {
  if (req.url === '/health-check') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('OK');
    return;
  }
  res.writeHead(404);
  res.end();
});
const agServer = socketClusterServer.attach(httpServer, env.SOCKETCLUSTER_OPTIONS ? JSON.parse(env.SOCKETCLUSTER_OPTIONS) : {});

httpServer.listen(PORT, () => {
  log(`listening on port ${PORT}`);
  if (!env.SCC_STATE_SERVER_HOST) return;
  const sccClient = sccBrokerClient.attach(agServer.brokerEngine, {
    instanceId: randomUUID(),
    instancePort: PORT,
    instanceIp: env.SCC_INSTANCE_IP || null,
    instanceIpFamily: env.SCC_INSTANCE_IP_FAMILY || 'IPv4',
    pubSubBatchDuration: env.SCC_PUB_SUB_BATCH_DURATION ? Number(env.SCC_PUB_SUB_BATCH_DURATION) : null,
    stateServerHost: env.SCC_STATE_SERVER_HOST,
    stateServerPort: Number(env.SCC_STATE_SERVER_PORT) || null,
    mappingEngine: env.SCC_MAPPING_ENGINE || null,
    clientPoolSize: Number(env.SCC_CLIENT_POOL_SIZE) || null,
    authKey: env.SCC_AUTH_KEY || null,
    stateServerConnectTimeout: Number(env.SCC_STATE_SERVER_CONNECT_TIMEOUT) || null,
    stateServerAckTimeout: Number(env.SCC_STATE_SERVER_ACK_TIMEOUT) || null,
    stateServerReconnectRandomness: Number(env.SCC_STATE_SERVER_RECONNECT_RANDOMNESS) || null,
    brokerRetryDelay: Number(env.SCC_BROKER_RETRY_DELAY) || null,
  });
  (async () => {
    for await (const { brokerURIs } of sccClient.listener('updateBrokers')) {
      log(`broker list from update: ${brokerURIs.length} brokers`);
    }
  })();
  // Errors (e.g. publishes to a dead broker) can come thousands a second: log one line a second.
  let errors = 0;
  let lastError = '';
  (async () => {
    for await (const { error } of sccClient.listener('error')) {
      errors += 1;
      lastError = `${error?.name}: ${error?.message}`;
    }
  })();
  setInterval(() => {
    if (errors === 0) return;
    process.stdout.write(`${JSON.stringify({ level: 50, time: Date.now(), msg: `scc-broker-client: ${errors} errors, last: ${lastError}` })}\n`);
    errors = 0;
  }, ERROR_LOG_INTERVAL_MS).unref();
});
