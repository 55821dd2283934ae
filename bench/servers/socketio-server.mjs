// One Socket.IO 4.8 server for the benchmark, clustered through @socket.io/redis-adapter on the redis at
// REDIS_PORT. WebSocket transport only; rooms are the channels: 'sub' joins a room (acknowledged),
// 'pub' is io.to(room).emit('m', room, data) — delivered locally and, through Redis, by every other
// server with members in the room. Without REDIS_PORT it runs alone (the in-memory adapter).
import http from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';

const log = (msg, extra = {}) => process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), msg, ...extra })}\n`);
// GET /health-check answers 200 OK, as SocketCluster's boilerplate does, so the bench polls every system
// alike (Socket.IO hands the requests outside /socket.io/ to this listener).
const httpServer = http.createServer((req, res) => {
  const ok = req.url === '/health-check';
  res.writeHead(ok ? 200 : 404, { 'Content-Type': 'text/plain' });
  res.end(ok ? 'OK' : 'Not found');
});
const io = new Server(httpServer, { transports: ['websocket'], perMessageDeflate: false });

const redisPort = process.env.REDIS_PORT;
if (redisPort) {
  const pubClient = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  const subClient = pubClient.duplicate();
  pubClient.on('error', (error) => log(`redis error: ${error.message}`));
  subClient.on('error', (error) => log(`redis error: ${error.message}`));
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
}

io.on('connection', (socket) => {
  socket.on('sub', (room, ack) => {
    void socket.join(room);
    if (typeof ack === 'function') ack();
  });
  socket.on('pub', (room, data) => {
    io.to(room).emit('m', room, data);
  });
});

httpServer.listen(0, '127.0.0.1', () => {
  const { port } = httpServer.address();
  // `event` as in our services' log lines (packages/shared/src/log-events.ts): the harness waits on it.
  log(`socket.io listening on port ${port}`, { event: 'listening', port });
});

const stop = () => {
  io.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
