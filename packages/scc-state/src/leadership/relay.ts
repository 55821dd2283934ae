/**
 * A follower replica's pass-through: every peer connection that reaches a follower goes on to the
 * leader, so original brokers and workers, which know one state server address, work whichever
 * replica that address names. A WebSocket upgrade is relayed as raw bytes (the request head it came
 * with, plus the peer's address and a proof that a replica relays it); other HTTP requests (the
 * cluster view, the dashboard) are proxied. Health, readiness and metrics are the follower's own
 * (state-server.ts answers them before anything reaches here).
 *
 * While no leader is known (an election under way) an upgrade is held, up to `holdMs`, and goes on
 * as soon as one is. A relayed connection ends with the leader's: a dead one's TCP connection, one
 * that stepped down closes its own, one cut off is dropped at the peer's ping timeout; the replica
 * drops the ones it relays when it is elected itself (replica.ts).
 */
import { connect, type Socket } from 'node:net';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '@scc-ts/shared';
import { RELAYED_FOR_HEADER, RELAY_PROOF_HEADER, relayProof } from '../coordinator.js';
import type { LeaderInfo } from './store.js';

export interface RelayOptions {
  /** The leader to relay to now, or null (none known, or this replica leads). */
  target: () => LeaderInfo | null;
  /** The key relay proofs are made with. */
  relayKey: string;
  /** Longest hold of an upgrade while no leader is known, ms. */
  holdMs: number;
  /** How the state server serves an upgrade (again, for one held until a leader is known). */
  dispatch: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  logger: Logger;
}

/** `host:port` (IPv6 in brackets) → its parts. */
export function splitAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!match) throw new Error(`not a host:port address: ${address}`);
  return { host: match[1] as string, port: Number(match[2]) };
}

/** Headers a relay sets itself; a peer's own copies are dropped. */
const OWN_HEADERS = new Set([RELAYED_FOR_HEADER, RELAY_PROOF_HEADER]);

interface Held {
  request: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  timer: NodeJS.Timeout;
}

export class Relay {
  private readonly relayed = new Set<Duplex>();
  private readonly held = new Set<Held>();
  private closed = false;

  constructor(private readonly options: RelayOptions) {}

  /** Relayed connections open now. */
  get open(): number {
    return this.relayed.size;
  }

  /** Relays an upgrade to the leader, or holds it while none is known. */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const leader = this.options.target();
    if (leader) {
      this.pipe(leader, request, socket, head);
      return;
    }
    const held: Held = {
      request,
      socket,
      head,
      timer: setTimeout(() => {
        this.held.delete(held);
        refuse(socket, 'no state server leader is elected');
      }, this.options.holdMs),
    };
    socket.once('close', () => {
      clearTimeout(held.timer);
      this.held.delete(held);
    });
    this.held.add(held);
  }

  /** Drops every relayed connection (this replica was elected): their peers reconnect, to it. */
  dropRelayed(): void {
    for (const socket of this.relayed) socket.destroy();
    this.relayed.clear();
  }

  /** Serves every held upgrade again through `dispatch` (a leader is known now, maybe this replica). */
  release(): void {
    const held = [...this.held];
    this.held.clear();
    for (const h of held) {
      clearTimeout(h.timer);
      if (!h.socket.destroyed) this.options.dispatch(h.request, h.socket, h.head);
    }
  }

  private pipe(leader: LeaderInfo, request: IncomingMessage, socket: Duplex, head: Buffer): void {
    let target: { host: string; port: number };
    try {
      target = splitAddress(leader.address);
    } catch (error) {
      this.options.logger.warn(`cannot relay to the leader ${leader.id}: ${(error as Error).message}`);
      refuse(socket, 'the leader address is unusable');
      return;
    }
    const peer = request.socket.remoteAddress ?? '';
    const upstream: Socket = connect({ host: target.host, port: target.port });
    upstream.setNoDelay(true);
    this.relayed.add(socket);
    const drop = (): void => {
      this.relayed.delete(socket);
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.once('connect', () => {
      const lines = [`${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/${request.httpVersion}`];
      const raw = request.rawHeaders;
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = raw[i] as string;
        if (!OWN_HEADERS.has(name.toLowerCase())) lines.push(`${name}: ${raw[i + 1]}`);
      }
      lines.push(`${RELAYED_FOR_HEADER}: ${peer}`, `${RELAY_PROOF_HEADER}: ${relayProof(this.options.relayKey, peer)}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
  }

  /** Proxies a plain HTTP request (the cluster view, the dashboard) to the leader; false without one. */
  request(req: IncomingMessage, res: ServerResponse): boolean {
    const leader = this.options.target();
    if (!leader || this.closed) return false;
    let target: { host: string; port: number };
    try {
      target = splitAddress(leader.address);
    } catch {
      return false;
    }
    const upstream = httpRequest({ host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end('the state server leader did not answer');
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
    return true;
  }

  /** Drops everything relayed and held. */
  close(): void {
    this.closed = true;
    for (const socket of this.relayed) socket.destroy();
    this.relayed.clear();
    for (const h of this.held) {
      clearTimeout(h.timer);
      h.socket.destroy();
    }
    this.held.clear();
  }
}

/** Answers an upgrade that cannot be served with a 503 and closes it. */
function refuse(socket: Duplex, why: string): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${why}`);
  setTimeout(() => socket.destroy(), 1000).unref();
}
