// A plain socketcluster-server 20 process for the benchmark. With SCC_STATE_SERVER_HOST set it is the
// ORIGINAL worker: scc-broker-client 9.2.0 attached to its broker engine, as in SocketCluster's sample
// server. Without it, it is the single-process CEILING (no cluster hop). Listens on port 0 and prints
// one JSON line per event on stdout (the bench reads "listening on port N" and "broker list: N brokers").
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import socketClusterServer from 'socketcluster-server';
import sccBrokerClient from 'scc-broker-client';

const log = (msg) => process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), msg })}\n`);
const httpServer = http.createServer();
const agServer = socketClusterServer.attach(httpServer, JSON.parse(process.env.SOCKETCLUSTER_OPTIONS ?? '{}'));

(async () => {
  for await (const { error } of agServer.listener('error')) log(`error: ${error?.message ?? error}`);
})();

httpServer.listen(0, '127.0.0.1', () => {
  const { port } = httpServer.address();
  log(`sc-worker listening on port ${port}`);
  const host = process.env.SCC_STATE_SERVER_HOST;
  if (!host) return;
  const cluster = sccBrokerClient.attach(agServer.brokerEngine, {
    instanceId: randomUUID(),
    instancePort: port,
    instanceIp: '127.0.0.1',
    stateServerHost: host,
    stateServerPort: Number(process.env.SCC_STATE_SERVER_PORT),
    brokerRetryDelay: 200,
    stateServerReconnectRandomness: 100,
  });
  (async () => {
    for await (const { brokerURIs } of cluster.listener('updateBrokers')) log(`broker list: ${brokerURIs.length} brokers`);
  })();
  (async () => {
    for await (const { error } of cluster.listener('error')) log(`cluster error: ${error?.message ?? error}`);
  })();
});

// Open client sockets keep close() waiting; the bench stops by pid, so exit soon regardless.
const stop = () => {
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
