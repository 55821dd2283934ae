/**
 * The ORIGINAL SCC worker, the one script every launcher runs: socketcluster-server 20 with
 * scc-broker-client 9.2.0 attached to its broker engine the way SocketCluster's boilerplate server.js
 * wires it, configured from the same SCC_* / SOCKETCLUSTER_* variables as our scc-worker. Without
 * SCC_STATE_SERVER_HOST it is one plain socketcluster-server (the benchmark's single-process ceiling).
 *
 *   SOCKETCLUSTER_PORT=0 SCC_STATE_SERVER_HOST=127.0.0.1 SCC_STATE_SERVER_PORT=7777 node harness/original-worker.mjs
 *
 * Where it departs from the boilerplate, and why:
 *  - port 0 is allowed (the boilerplate's `Number(x) || 8000` would turn it into 8000); the port bound
 *    is logged and announced as `instancePort`;
 *  - it listens on 127.0.0.1 only, or on SCC_INSTANCE_IP where set (its host's address on the network
 *    test bed, harness/netns): the harness never talks to anything else;
 *  - unset variables are passed as `undefined`, so scc-broker-client applies its own defaults;
 *  - it logs JSON lines with a stable `event` field the harness waits on (the same names as our
 *    services' log events, packages/shared/src/log-events.ts): `listening` {port} and `brokerList`
 *    {brokers, source: 'update', brokerURIs}; errors are logged at most once a second per kind (a dead
 *    broker under load raises thousands a second).
 * Like the boilerplate it has no SIGTERM handler: the default action ends the process at once, which
 * is how the original behaves when a chaos run restarts it.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const socketClusterServer = require('socketcluster-server');
const sccBrokerClient = require('scc-broker-client');

/** Same strings as LogEvent in packages/shared/src/log-events.ts (this script runs without a build). */
const EVENT_LISTENING = 'listening';
const EVENT_BROKER_LIST = 'brokerList';
const DEFAULT_PORT = 8000;
const ERROR_LOG_INTERVAL_MS = 1000;

const env = process.env;
const num = (name, fallback) => (env[name] === undefined || env[name] === '' ? fallback : Number(env[name]));
const str = (name) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);

const log = (level, msg, extra = {}) => process.stdout.write(`${JSON.stringify({ level, time: Date.now(), msg, ...extra })}\n`);

/** Logs the first problem of a kind at once, then counts the rest and logs one summary a second. */
const problems = new Map();
function problem(kind, text) {
  const entry = problems.get(kind);
  if (entry === undefined) {
    problems.set(kind, { count: 0, last: text });
    log(50, `${kind}: ${text}`);
    return;
  }
  entry.count += 1;
  entry.last = text;
}
setInterval(() => {
  for (const [kind, entry] of problems) {
    if (entry.count > 0) log(50, `${kind}: ${entry.count} more, last: ${entry.last}`);
    // Drop the entry so the next problem after a quiet second is logged at once again.
    if (entry.count === 0) problems.delete(kind);
    else entry.count = 0;
  }
}, ERROR_LOG_INTERVAL_MS).unref();

const httpServer = http.createServer((req, res) => {
  res.writeHead(req.url === '/health-check' ? 200 : 404, { 'Content-Type': 'text/plain' });
  res.end(req.url === '/health-check' ? 'OK' : 'Not found');
});
const agServer = socketClusterServer.attach(httpServer, env.SOCKETCLUSTER_OPTIONS ? JSON.parse(env.SOCKETCLUSTER_OPTIONS) : {});

(async () => {
  for await (const { error } of agServer.listener('error')) problem('server error', `${error?.name}: ${error?.message}`);
})();

httpServer.listen(num('SOCKETCLUSTER_PORT', DEFAULT_PORT), str('SCC_INSTANCE_IP') ?? '127.0.0.1', () => {
  const { port } = httpServer.address();
  log(30, `original worker listening on port ${port}`, { event: EVENT_LISTENING, port });
  if (!env.SCC_STATE_SERVER_HOST) return;

  const instanceId = str('SCC_INSTANCE_ID') ?? randomUUID();
  const batch = num('SCC_PUB_SUB_BATCH_DURATION', undefined);
  const sccClient = sccBrokerClient.attach(agServer.brokerEngine, {
    instanceId,
    instancePort: port,
    instanceIp: str('SCC_INSTANCE_IP'),
    instanceIpFamily: str('SCC_INSTANCE_IP_FAMILY'),
    pubSubBatchDuration: batch ?? null,
    stateServerHost: env.SCC_STATE_SERVER_HOST,
    stateServerPort: num('SCC_STATE_SERVER_PORT', undefined),
    mappingEngine: str('SCC_MAPPING_ENGINE'),
    clientPoolSize: num('SCC_CLIENT_POOL_SIZE', undefined),
    authKey: str('SCC_AUTH_KEY'),
    stateServerConnectTimeout: num('SCC_STATE_SERVER_CONNECT_TIMEOUT', undefined),
    stateServerAckTimeout: num('SCC_STATE_SERVER_ACK_TIMEOUT', undefined),
    stateServerReconnectRandomness: num('SCC_STATE_SERVER_RECONNECT_RANDOMNESS', undefined),
    brokerRetryDelay: num('SCC_BROKER_RETRY_DELAY', undefined),
  });
  log(30, `original worker ${instanceId} attached scc-broker-client`);

  (async () => {
    for await (const { brokerURIs } of sccClient.listener('updateBrokers')) {
      // Same wording as our worker's line, so a reader of mixed logs sees one kind of line.
      log(30, `broker list from update: ${brokerURIs.length} brokers`, { event: EVENT_BROKER_LIST, brokers: brokerURIs.length, source: 'update', brokerURIs });
    }
  })();
  (async () => {
    for await (const { error } of sccClient.listener('error')) problem('SCCError', `${error?.name}: ${error?.message}`);
  })();
  (async () => {
    for await (const { channel, error } of sccClient.listener('subscribeFail')) problem('subscribeFail', `${channel}: ${error?.message}`);
  })();
  (async () => {
    for await (const { channel, error } of sccClient.listener('publishFail')) problem('publishFail', `${channel}: ${error?.message}`);
  })();
});
