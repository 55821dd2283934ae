/**
 * A spy standing in for the ORIGINAL scc-state 9.x (which is not on npm): a plain socketcluster-server
 * 20 in the test process that applies the original's handshake rules — the auth key compared at the
 * WebSocket upgrade (`BadClusterAuthError`), and the announced version's major compared with its own
 * (9) at the SocketCluster handshake (`CompatibilityError`) — answers the join and leave procedures
 * the way the original does, and records everything a peer sends: the upgrade URL's query
 * parameters and every procedure call with its payload. A test can also push membership updates to a
 * connected worker, as the original state server does.
 *
 * It deliberately shares no code with our scc-state: it is the yardstick our peers are measured by.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import socketClusterServer from 'socketcluster-server';
import { waitUntil } from '../../harness/clients.js';

type AGServer = ReturnType<typeof socketClusterServer.attach>;
type ServerSocket = InstanceType<typeof socketClusterServer.AGServerSocket>;
type ProcedureRequest = { data: unknown; end(data?: unknown): void; error(error: Error): void };

/** The four procedure names of docs/protocol.md, used in both directions. */
export const PROCEDURES = ['sccBrokerJoinCluster', 'sccBrokerLeaveCluster', 'sccWorkerJoinCluster', 'sccWorkerLeaveCluster'] as const;
export type ProcedureName = (typeof PROCEDURES)[number];

/** One procedure call a peer made, with whether the request carried a `data` field at all. */
export interface RecordedCall {
  procedure: ProcedureName;
  hasData: boolean;
  data: unknown;
  at: number;
}

/** A peer that connected (or tried to). */
export interface SpyPeer {
  /** Every query parameter of the upgrade URL, as received. */
  query: Record<string, string>;
  /** Parameter names in the order they appear in the URL (repeats included). */
  queryNames: string[];
  /** Set when the spy refused the handshake. */
  refusedWith: string | null;
  calls: RecordedCall[];
  socket: ServerSocket | null;
}

export interface SpyStateOptions {
  /** Required `authKey`; null admits any. */
  authKey: string | null;
  /** The major version this "scc-state" has (the original is 9). */
  major?: number;
  /** Broker URIs the worker join reply lists. */
  brokerURIs?: () => string[];
}

function queryOf(url: string | undefined): { query: Record<string, string>; names: string[] } {
  const params = new URL(url ?? '/', 'http://spy').searchParams;
  return { query: Object.fromEntries(params), names: [...params.keys()] };
}

/** The original's version rule, restated: MAJOR.MINOR.PATCH must appear, the major is the text before the first dot. */
function majorOf(version: string | undefined): number {
  return typeof version === 'string' && /\d+\.\d+\.\d+/.test(version) ? Number.parseInt(version.split('.')[0] ?? '', 10) : Number.NaN;
}

export class SpyStateServer {
  readonly peers: SpyPeer[] = [];
  private readonly byUpgrade = new Map<unknown, SpyPeer>();
  private constructor(
    private readonly httpServer: Server,
    private readonly agServer: AGServer,
    readonly port: number,
    private readonly options: SpyStateOptions,
  ) {}

  static async start(options: SpyStateOptions): Promise<SpyStateServer> {
    const httpServer = createServer();
    const agServer = socketClusterServer.attach(httpServer);
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const spy = new SpyStateServer(httpServer, agServer, (httpServer.address() as AddressInfo).port, options);
    spy.install();
    return spy;
  }

  private install(): void {
    const { agServer, options } = this;
    const major = options.major ?? 9;
    agServer.setMiddleware(agServer.MIDDLEWARE_HANDSHAKE, async (stream) => {
      for await (const action of stream) {
        if (action.type === action.HANDSHAKE_WS) {
          const request = (action as unknown as { request: { url?: string } }).request;
          const { query, names } = queryOf(request.url);
          const peer: SpyPeer = { query, queryNames: names, refusedWith: null, calls: [], socket: null };
          this.peers.push(peer);
          this.byUpgrade.set(request, peer);
          if (options.authKey !== null && query['authKey'] !== options.authKey) {
            peer.refusedWith = 'BadClusterAuthError';
            const error = new Error('Cannot connect to the scc-state instance without providing a valid authKey as a URL query argument.');
            error.name = 'BadClusterAuthError';
            action.block(error);
            continue;
          }
        } else if (action.type === action.HANDSHAKE_SC) {
          const peer = this.byUpgrade.get(action.socket.request);
          const { query } = queryOf(action.socket.request.url);
          if (majorOf(query['version']) !== major || !query['instanceType']) {
            if (peer) peer.refusedWith = 'CompatibilityError';
            const error = new Error(`The ${query['instanceType'] ?? 'SCC component'}@${query['version']} is incompatible with the scc-state@${major}.0.0`);
            error.name = 'CompatibilityError';
            action.block(error);
            continue;
          }
        }
        action.allow(undefined);
      }
    });
    void (async () => {
      for await (const { socket } of agServer.listener('connection')) this.serve(socket as ServerSocket);
    })();
  }

  private serve(socket: ServerSocket): void {
    const peer = this.byUpgrade.get(socket.request);
    if (!peer) return;
    peer.socket = socket;
    for (const procedure of PROCEDURES) {
      void (async () => {
        for await (const request of socket.procedure(procedure) as AsyncIterable<ProcedureRequest>) {
          // socketcluster-client leaves `data` out of the frame when it is undefined.
          peer.calls.push({ procedure, hasData: request.data !== undefined, data: request.data, at: Date.now() });
          if (procedure === 'sccWorkerJoinCluster') {
            const self = `ws://127.0.0.1:${peer.query['instancePort']}`;
            request.end({ sccWorkerURIs: [self], sccBrokerURIs: this.options.brokerURIs?.() ?? [], time: Date.now(), sccSourceWorkerURI: self });
          } else {
            request.end();
          }
        }
      })();
    }
  }

  /** Waits for the first peer matching `predicate` (by query) that made a call to `procedure`. */
  async waitForCall(predicate: (peer: SpyPeer) => boolean, procedure: ProcedureName, timeoutMs = 10_000): Promise<{ peer: SpyPeer; call: RecordedCall }> {
    let found: { peer: SpyPeer; call: RecordedCall } | undefined;
    await waitUntil(
      () => {
        for (const peer of this.peers) {
          const call = predicate(peer) ? peer.calls.find((c) => c.procedure === procedure) : undefined;
          if (call) found = { peer, call };
        }
        return found !== undefined;
      },
      timeoutMs,
      `a ${procedure} call`,
    );
    return found!;
  }

  /** Waits for a peer matching `predicate` whose handshake was refused. */
  async waitForRefusal(predicate: (peer: SpyPeer) => boolean, timeoutMs = 10_000): Promise<SpyPeer> {
    await waitUntil(() => this.peers.some((p) => predicate(p) && p.refusedWith !== null), timeoutMs, 'a refused handshake');
    return this.peers.find((p) => predicate(p) && p.refusedWith !== null)!;
  }

  /** Invokes a procedure on a connected peer, as the state server pushes membership; resolves with its acknowledgement. */
  async push(peer: SpyPeer, procedure: ProcedureName, data: Record<string, unknown>): Promise<unknown> {
    if (!peer.socket) throw new Error('peer is not connected');
    return peer.socket.invoke(procedure, data, {});
  }

  /** Stops serving; safe to call twice. */
  async close(): Promise<void> {
    for (const peer of this.peers) peer.socket?.disconnect(1001, 'spy closing');
    this.agServer.close();
    this.agServer.closeAllListeners();
    this.httpServer.closeAllConnections();
    await new Promise<void>((resolve) => (this.httpServer.listening ? this.httpServer.close(() => resolve()) : resolve()));
  }
}
