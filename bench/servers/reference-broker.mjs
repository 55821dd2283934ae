// The bare-ws reference relay's broker (bench only, never shipped): a LOWER BOUND on what a broker of
// this topology costs, not a product. Workers connect over `ws` and send records (reference-link.mjs):
// subscribe / unsubscribe a channel, or publish one. A publish record is forwarded, as the substring
// received, to every other worker subscribed to its channel, batched per turn. No auth, no limits, no
// backpressure, no recovery: everything a real broker needs beyond relaying is left out on purpose.
//
//   node reference-broker.mjs          (listens on a free port of 127.0.0.1, logs {event:'listening', port})
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { PUBLISH, SUBSCRIBE, TurnBatcher, UNSUBSCRIBE, healthCheck, log, parseRecords } from './reference-link.mjs';

/** channel → the worker links subscribed to it */
const subscribers = new Map();
const batcher = new TurnBatcher((records) => records.join(''));

const httpServer = http.createServer(healthCheck);
const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false });

wss.on('connection', (ws) => {
  const mine = new Set();
  ws.on('message', (data) => {
    parseRecords(data.toString(), (kind, channel, _body, whole) => {
      if (kind === PUBLISH) {
        const links = subscribers.get(channel);
        if (links === undefined) return;
        for (const link of links) if (link !== ws) batcher.push(link, whole);
      } else if (kind === SUBSCRIBE) {
        let links = subscribers.get(channel);
        if (links === undefined) subscribers.set(channel, (links = new Set()));
        links.add(ws);
        mine.add(channel);
      } else if (kind === UNSUBSCRIBE) {
        unsubscribe(ws, channel);
        mine.delete(channel);
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
