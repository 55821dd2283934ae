// What the bare-ws reference relay's workers and brokers share (bench only, never shipped; see
// reference-worker.mjs). The worker ↔ broker links speak the SocketCluster protocol, as SCC's do:
// `{"event":"#subscribe","data":{"channel":…}}`, `{"event":"#unsubscribe","data":…}` and
// `{"event":"#publish","data":{"channel":…,"data":…}}`, the packets of one turn batched as a JSON array.
// Every receiver parses what it receives (as any SocketCluster peer must) and encodes each relayed
// publish once for all its subscribers. An earlier version framed the links with length-prefixed records
// that brokers and workers forwarded unparsed; bench/RESULTS.md keeps its figures: it bounded a different
// wire, not an implementation of this one.

/** The packets of one received frame (a batch is an array), each handed to `onPacket`. */
export function forEachPacket(text, onPacket) {
  const parsed = JSON.parse(text);
  if (Array.isArray(parsed)) for (const packet of parsed) onPacket(packet);
  else onPacket(parsed);
}

/** A batch of encoded packets as one frame (one packet goes as it is). */
export function batchFrame(frames) {
  return frames.length === 1 ? frames[0] : `[${frames.join(',')}]`;
}

/**
 * Per-turn batching: strings queued for one socket during a turn go out as one frame when the turn
 * ends (setImmediate), joined by `join` (the link: concatenation; a client: a JSON array).
 */
export class TurnBatcher {
  constructor(join) {
    this.join = join;
    this.queues = new Map();
    this.scheduled = false;
    this.flush = this.flush.bind(this);
  }

  push(ws, text) {
    let queue = this.queues.get(ws);
    if (queue === undefined) {
      queue = [];
      this.queues.set(ws, queue);
    }
    queue.push(text);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  flush() {
    this.scheduled = false;
    const queues = this.queues;
    this.queues = new Map();
    for (const [ws, queue] of queues) {
      // A socket that closed during the turn drops what was queued for it (as a real relay would).
      if (ws.readyState === 1) ws.send(this.join(queue));
    }
  }
}

/** JSON log line with the `event` field the harness waits on (same names as our services' log events). */
export function log(msg, extra = {}) {
  process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), msg, ...extra })}\n`);
}

/** Answers GET /health-check with 200 OK (as SocketCluster's boilerplate does) and 404 otherwise. */
export function healthCheck(req, res) {
  const ok = req.url === '/health-check';
  res.writeHead(ok ? 200 : 404, { 'Content-Type': 'text/plain' });
  res.end(ok ? 'OK' : 'Not found');
}
