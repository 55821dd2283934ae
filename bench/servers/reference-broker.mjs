// The bare-ws reference relay's broker (bench only, never shipped): a LOWER BOUND on what a broker of
// this topology costs, not a product. Workers connect over `ws` and speak the SocketCluster protocol
// (reference-link.mjs): #subscribe / #unsubscribe a channel, #publish on one. A publish is encoded once
// and that text goes to every other worker subscribed to its channel, batched per turn. No auth, no
// limits, no backpressure, no recovery: everything a real broker needs beyond relaying is left out on purpose.
//
//   node reference-broker.mjs          (listens on a free port of 127.0.0.1, logs {event:'listening', port})
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { TurnBatcher, batchFrame, forEachPacket, healthCheck, log } from './reference-link.mjs';

/** channel → the worker links subscribed to it */
const subscribers = new Map();
const batcher = new TurnBatcher(batchFrame);

const httpServer = http.createServer(healthCheck);
const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false });

wss.on('connection', (ws) => {
  const mine = new Set();
  ws.on('message', (data) => {
    forEachPacket(data.toString(), (packet) => {
      const event = packet?.event;
      if (event === '#publish') {
        const channel = packet.data?.channel;
        const links = subscribers.get(channel);
        if (links === undefined) return;
        const frame = JSON.stringify({ event: '#publish', data: { channel, data: packet.data.data } });
        for (const link of links) if (link !== ws) batcher.push(link, frame);
      } else if (event === '#subscribe') {
        const channel = packet.data?.channel;
        if (typeof channel !== 'string') return;
        let links = subscribers.get(channel);
        if (links === undefined) subscribers.set(channel, (links = new Set()));
        links.add(ws);
        mine.add(channel);
      } else if (event === '#unsubscribe' && typeof packet.data === 'string') {
        unsubscribe(ws, packet.data);
        mine.delete(packet.data);
      }
    });
  });
  ws.on('close', () => {
    for (const channel of mine) unsubscribe(ws, channel);
  });
  ws.on('error', () => {});
});

function unsubscribe(ws, channel) {
  const links = subscribers.get(channel);
  if (links === undefined) return;
  links.delete(ws);
  if (links.size === 0) subscribers.delete(channel);
}

httpServer.listen(0, '127.0.0.1', () => {
  const { port } = httpServer.address();
  log(`reference broker listening on port ${port}`, { event: 'listening', port });
});

const stop = () => {
  wss.close();
  httpServer.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
