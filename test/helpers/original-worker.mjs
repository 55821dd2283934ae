/**
 * An ORIGINAL SCC worker for mixed-cluster tests: socketcluster-server 20 with scc-broker-client
 * 9.2.0 attached to its broker engine, wired the way the SocketCluster boilerplate's server.js wires
 * it, and reading the same environment variables. Only the logging is ours: one JSON line per event
 * (`{"level":30,"msg":...}`) so test/helpers/processes.ts can wait on it.
 *
 *   SOCKETCLUSTER_PORT=0 SCC_STATE_SERVER_HOST=127.0.0.1 SCC_STATE_SERVER_PORT=7777 node test/helpers/original-worker.mjs
 *
 * Port 0 is allowed here (the boilerplate's `Number(x) || 8000` is not used) and the real port is
 * logged and announced as `instancePort`.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const socketClusterServer = require('socketcluster-server');
const sccBrokerClient = require('scc-broker-client');

const env = process.env;
const num = (name, fallback) => (env[name] === undefined || env[name] === '' ? fallback : Number(env[name]));

const log = (level, msg, extra = {}) => process.stdout.write(`${JSON.stringify({ level, msg, ...extra })}\n`);

const httpServer = http.createServer((req, res) => {
  res.writeHead(req.url === '/health-check' ? 200 : 404);
  res.end(req.url === '/health-check' ? 'OK' : 'Not found');
});
const agServer = socketClusterServer.attach(httpServer);

(async () => {
  for await (const { error } of agServer.listener('error')) log(50, `server error: ${error.name}: ${error.message}`);
})();

httpServer.listen(num('SOCKETCLUSTER_PORT', 8000), '127.0.0.1', () => {
  const port = httpServer.address().port;
  log(30, `original worker listening on port ${port}`);
  if (!env.SCC_STATE_SERVER_HOST) return;

  const instanceId = env.SCC_INSTANCE_ID || randomUUID();
  const batch = env.SCC_PUB_SUB_BATCH_DURATION;
  const sccClient = sccBrokerClient.attach(agServer.brokerEngine, {
    instanceId,
    instancePort: port,
    instanceIp: env.SCC_INSTANCE_IP,
    instanceIpFamily: env.SCC_INSTANCE_IP_FAMILY,
    pubSubBatchDuration: batch === undefined || batch === '' ? null : Number(batch),
    stateServerHost: env.SCC_STATE_SERVER_HOST,
    stateServerPort: num('SCC_STATE_SERVER_PORT', undefined),
    mappingEngine: env.SCC_MAPPING_ENGINE,
    clientPoolSize: num('SCC_CLIENT_POOL_SIZE', undefined),
    authKey: env.SCC_AUTH_KEY,
    stateServerConnectTimeout: num('SCC_STATE_SERVER_CONNECT_TIMEOUT', undefined),
    stateServerAckTimeout: num('SCC_STATE_SERVER_ACK_TIMEOUT', undefined),
    stateServerReconnectRandomness: num('SCC_STATE_SERVER_RECONNECT_RANDOMNESS', undefined),
    brokerRetryDelay: num('SCC_BROKER_RETRY_DELAY', undefined),
  });
  log(30, `original worker ${instanceId} attached scc-broker-client`);

  (async () => {
    for await (const { brokerURIs } of sccClient.listener('updateBrokers')) {
      // Same wording as our worker's log line, so one helper waits on both kinds.
      log(30, `broker list from update: ${brokerURIs.length} brokers`, { brokerURIs });
    }
  })();
  (async () => {
    for await (const { error } of sccClient.listener('error')) log(40, `SCCError: ${error.name}: ${error.message}`);
  })();
  (async () => {
    for await (const { channel, error } of sccClient.listener('subscribeFail')) log(40, `subscribeFail ${channel}: ${error.message}`);
  })();
  (async () => {
    for await (const { channel, error } of sccClient.listener('publishFail')) log(40, `publishFail ${channel}: ${error.message}`);
  })();
});

const stop = () => {
  agServer.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
