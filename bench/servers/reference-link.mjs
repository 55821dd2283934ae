// The bare-ws reference relay's worker ↔ broker link format (bench only, never shipped; see
// reference-worker.mjs). One WebSocket text frame carries every record queued during one turn of the
// event loop, concatenated. A record is `<kind><channel length>:<channel><body length>:<body>`, lengths
// in UTF-16 code units, so any channel name and any body frame unambiguously, and a relay forwards a
// publish record as the very substring it received (no re-encoding per subscriber).
//   kind 's': subscribe channel (body empty); 'u': unsubscribe; 'p': publish, body = the client-bound
//   SocketCluster frame `{"event":"#publish","data":{"channel":…,"data":…}}`, encoded once by the
//   publishing worker.

export const SUBSCRIBE = 's';
export const UNSUBSCRIBE = 'u';
export const PUBLISH = 'p';

/** One record, ready to concatenate into a frame. */
export function record(kind, channel, body = '') {
  return `${kind}${channel.length}:${channel}${body.length}:${body}`;
}

/**
 * Calls `onRecord(kind, channel, body, whole)` for each record of a frame; `whole` is the record's own
 * text (to forward as is). Throws on a malformed frame (only our own processes write these).
 */
export function parseRecords(frame, onRecord) {
  let at = 0;
  while (at < frame.length) {
    const start = at;
    const kind = frame[at];
    const colon = frame.indexOf(':', at + 1);
    const channelLength = Number(frame.slice(at + 1, colon));
    const channel = frame.substr(colon + 1, channelLength);
    at = colon + 1 + channelLength;
    const bodyColon = frame.indexOf(':', at);
    const bodyLength = Number(frame.slice(at, bodyColon));
    if (colon < 0 || bodyColon < 0 || !Number.isInteger(channelLength) || !Number.isInteger(bodyLength)) throw new Error(`reference link: malformed record at ${start}`);
    const body = frame.substr(bodyColon + 1, bodyLength);
    at = bodyColon + 1 + bodyLength;
    onRecord(kind, channel, body, frame.slice(start, at));
  }
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
