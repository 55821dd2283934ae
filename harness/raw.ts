/**
 * Raw WebSocket peers for hostile-input tests: they speak (or abuse) the SocketCluster v2 framing by
 * hand with the `ws` package, so a test controls every byte a service receives.
 */
import WebSocket from 'ws';
import { Waiters } from './waiters.js';

/** The SocketCluster endpoint of a service on 127.0.0.1. */
export function scUrl(port: number, query: Record<string, string> = {}, path = '/socketcluster/'): string {
  const q = new URLSearchParams(query).toString();
  return `ws://127.0.0.1:${port}${path}${q ? `?${q}` : ''}`;
}

/** One reply frame `{rid, data}` or `{rid, error}`. */
export interface Reply {
  rid: number;
  data?: unknown;
  error?: { name?: string; message?: string };
}

/** How a raw exchange ended. */
export type Outcome =
  | { kind: 'http'; status: number; body: string }
  | { kind: 'closed'; code: number; reason: string }
  | { kind: 'error'; name: string }
  | { kind: 'replied' }
  | { kind: 'ignored' }
  | { kind: 'timeout' }
  | { kind: 'failed'; message: string };

/** A hand-driven SocketCluster socket: records replies and the close. */
export class RawSocket {
  readonly ws: WebSocket;
  readonly replies = new Map<number, Reply>();
  closed: { code: number; reason: string } | null = null;
  private cid = 1;
  private readonly waiters = new Waiters();
  readonly opened: Promise<Outcome | null>;

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, { handshakeTimeout: 5000, ...options });
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString();
      if (text === '') {
        // SocketCluster v2 ping: answer with a pong so idle sockets stay open.
        if (this.ws.readyState === WebSocket.OPEN) this.ws.send('');
        return;
      }
      try {
        // A frame may hold a batch: a JSON array of packets (our broker batches per event-loop turn).
        const parsed = JSON.parse(text) as Partial<Reply> | Array<Partial<Reply>>;
        for (const frame of Array.isArray(parsed) ? parsed : [parsed]) {
          if (frame !== null && typeof frame === 'object' && typeof frame.rid === 'number') this.replies.set(frame.rid, frame as Reply);
        }
      } catch {
        // Not ours to judge: a server only sends JSON, anything else is ignored here.
      }
      this.notify();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.notify();
    });
    this.ws.on('error', () => this.notify());
    this.opened = new Promise((resolve) => {
      this.ws.once('open', () => resolve(null));
      this.ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ kind: 'http', status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ kind: 'http', status: res.statusCode ?? 0, body }));
      });
      this.ws.once('error', (error) => resolve({ kind: 'failed', message: error.message }));
      this.ws.once('close', (code, reason) => resolve({ kind: 'closed', code, reason: reason.toString() }));
    });
  }

  private notify(): void {
    this.waiters.notify();
  }

  /** Resolves when `predicate` holds (re-checked on every frame and the close), or false after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    return this.waiters.until(predicate, timeoutMs);
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a frame as is (string: text frame, Buffer: binary frame); false if the socket is not open. */
  send(frame: string | Buffer): boolean {
    if (!this.open) return false;
    this.ws.send(frame, { binary: Buffer.isBuffer(frame) });
    return true;
  }

  /** Sends `{event, data, cid}` and returns the cid. */
  invoke(event: string, data: unknown): number {
    const cid = this.cid++;
    this.send(JSON.stringify({ event, data, cid }));
    return cid;
  }

  /** Waits for the reply to `cid` or the close: the outcome of that call. */
  async outcome(cid: number, timeoutMs: number): Promise<Outcome> {
    await this.until(() => this.replies.has(cid) || this.closed !== null, timeoutMs);
    const reply = this.replies.get(cid);
    if (reply) return reply.error ? { kind: 'error', name: reply.error.name ?? 'Error' } : { kind: 'replied' };
    if (this.closed) return { kind: 'closed', ...this.closed };
    return { kind: 'timeout' };
  }

  /** Completes the SocketCluster handshake; resolves with its outcome. */
  async handshake(timeoutMs = 5000): Promise<Outcome> {
    const early = await this.opened;
    if (early) return early;
    return this.outcome(this.invoke('#handshake', {}), timeoutMs);
  }

  /**
   * Sends a probe (`#unsubscribe` of a channel never subscribed, which every service answers with an
   * error) and waits for it: frames are handled in order per socket, so its answer means everything
   * sent before it has been processed. Returns the probe's outcome.
   */
  async probe(timeoutMs: number): Promise<Outcome> {
    return this.outcome(this.invoke('#unsubscribe', 'raw-probe'), timeoutMs);
  }

  /** Waits for the close up to `timeoutMs`; the close, or null if still open. */
  async closedWithin(timeoutMs: number): Promise<{ code: number; reason: string } | null> {
    await this.until(() => this.closed !== null, timeoutMs);
    return this.closed;
  }

  /** Drops the TCP connection without a close frame. */
  terminate(): void {
    this.ws.terminate();
  }

  close(): void {
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else this.ws.close();
  }
}

/** A short, stable label for an outcome: `closed:4008`, `http:401`, `error:InvalidPayloadError`. */
export function outcomeLabel(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'http':
      return `http:${outcome.status}`;
    case 'closed':
      return `closed:${outcome.code}`;
    case 'error':
      return `error:${outcome.name}`;
    default:
      return outcome.kind;
  }
}
