// The bare-ws reference relay's worker (bench only, never shipped): a LOWER BOUND on what a front
// server of this topology costs — 2 of these and 2 reference-broker.mjs make the bench's `reference`
// system. It speaks the subset of the SocketCluster protocol (v2) the bench's load generator speaks
// (bench/lib/wire.ts): #handshake, #subscribe / #unsubscribe, #publish with or without a cid, and
// delivers `#publish` events; plus GET /health-check. Each channel belongs to one broker, chosen by a
// 32-bit FNV-1a hash of its name modulo the broker count (both workers list the brokers alike).
// A publish is encoded once into the client-bound frame; that one string goes to every local
// subscriber and, as a SocketCluster #publish, to the channel's broker (reference-link.mjs). A publish
// relayed by a broker is parsed and encoded once for every local subscriber. Frames bound for one socket during a
// turn of the event loop go out together at setImmediate (clients: a JSON array, as socketcluster's
// batching sends). No auth, middleware, limits, backpressure or recovery: a broker link that closes
// ends the process.
//
//   REF_BROKER_PORTS=9001,9002 node reference-worker.mjs   (a free port of 127.0.0.1; logs {event:'listening', port})
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { TurnBatcher, batchFrame, forEachPacket, healthCheck, log } from './reference-link.mjs';

/** Advertised in the handshake reply, as socketcluster-server does (ms); this relay never pings. */
const PING_TIMEOUT_MS = 20_000;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const brokerPorts = (process.env.REF_BROKER_PORTS ?? '').split(',').filter(Boolean).map(Number);
if (brokerPorts.length === 0 || brokerPorts.some((p) => !Number.isInteger(p) || p <= 0)) {
  log(`REF_BROKER_PORTS must list the brokers' ports, got '${process.env.REF_BROKER_PORTS ?? ''}'`, { level: 60 });
  process.exit(1);
}

/** channel → local client sockets subscribed to it */
const local = new Map();
const toClients = new TurnBatcher(batchFrame);
const toBrokers = new TurnBatcher(batchFrame);

function ownerOf(channel) {
  let hash = FNV_OFFSET;
  for (let i = 0; i < channel.length; i++) hash = Math.imul(hash ^ channel.charCodeAt(i), FNV_PRIME);
  return links[(hash >>> 0) % links.length];
}

function deliverLocally(channel, frame) {
  const sockets = local.get(channel);
  if (sockets === undefined) return;
  for (const ws of sockets) toClients.push(ws, frame);
}

const links = await Promise.all(
  brokerPorts.map(
    (port) =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
        ws.on('message', (data) =>
          forEachPacket(data.toString(), (packet) => {
            if (packet?.event !== '#publish' || typeof packet.data?.channel !== 'string') return;
            // Encoded once for every local subscriber.
            const channel = packet.data.channel;
            deliverLocally(channel, JSON.stringify({ event: '#publish', data: { channel, data: packet.data.data } }));
          }),
        );
        ws.on('close', () => {
          log(`reference worker: broker link to port ${port} closed; exiting (no recovery in the reference)`, { level: 50 });
          process.exit(1);
        });
      }),
  ),
);

function subscribe(ws, mine, channel) {
  if (mine.has(channel)) return;
  mine.add(channel);
  let sockets = local.get(channel);
  if (sockets === undefined) {
    local.set(channel, (sockets = new Set()));
    toBrokers.push(ownerOf(channel), JSON.stringify({ event: '#subscribe', data: { channel } }));
  }
  sockets.add(ws);
}

function unsubscribe(ws, channel) {
  const sockets = local.get(channel);
  if (sockets === undefined || !sockets.delete(ws)) return;
  if (sockets.size === 0) {
    local.delete(channel);
    toBrokers.push(ownerOf(channel), JSON.stringify({ event: '#unsubscribe', data: channel }));
  }
}

const httpServer = http.createServer(healthCheck);
const wss = new WebSocketServer({ server: httpServer, path: '/socketcluster/', perMessageDeflate: false });

wss.on('connection', (ws) => {
  const mine = new Set();
  const reply = (cid) => {
    if (typeof cid === 'number') toClients.push(ws, `{"rid":${cid}}`);
  };
  ws.on('message', (data) => {
    const text = data.toString();
    if (text === '') return; // a pong
    let packet;
    try {
      packet = JSON.parse(text);
    } catch {
      return void ws.close(4001, 'bad JSON');
    }
    const channel = packet?.data?.channel;
    switch (packet?.event) {
      case '#publish': {
        if (typeof channel !== 'string') return reply(packet.cid);
        const frame = `{"event":"#publish","data":{"channel":${JSON.stringify(channel)},"data":${JSON.stringify(packet.data.data ?? null)}}}`;
        deliverLocally(channel, frame);
        // The same text, once, to the channel's broker.
        toBrokers.push(ownerOf(channel), frame);
        return reply(packet.cid);
      }
      case '#subscribe':
        if (typeof channel === 'string') subscribe(ws, mine, channel);
        return reply(packet.cid);
      case '#unsubscribe':
        if (typeof packet.data === 'string') {
          unsubscribe(ws, packet.data);
          mine.delete(packet.data);
        }
        return reply(packet.cid);
      case '#handshake':
        // Straight away (not batched): the client waits for it before anything else.
        return void ws.send(`{"rid":${packet.cid},"data":{"id":"${randomUUID()}","pingTimeout":${PING_TIMEOUT_MS},"isAuthenticated":false}}`);
      default:
        return reply(packet?.cid);
    }
  });
  ws.on('close', () => {
    for (const channel of mine) unsubscribe(ws, channel);
  });
  ws.on('error', () => {});
});

httpServer.listen(Number(process.env.REF_PORT ?? 0), '127.0.0.1', () => {
  const { port } = httpServer.address();
  log(`reference worker listening on port ${port}`, { event: 'listening', port });
});

const stop = () => {
  for (const link of links) link.removeAllListeners('close');
  wss.close();
  httpServer.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
