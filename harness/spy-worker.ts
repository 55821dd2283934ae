/**
 * A spy that joins a state server as an original worker would (socketcluster-client, the original
 * handshake query, `sccWorkerJoinCluster` without our extensions) and records every broker list it
 * is handed: the join reply on every (re)connect and every push. Tests hold those lists against the
 * brokers that were alive, to prove no list handed out was partial. A refused join (e.g. during the
 * state server's startup delay) is retried after a delay, as scc-broker-client 9.2.0 does.
 */
import socketClusterClient from 'socketcluster-client';

export interface SeenList {
  /** Local ms when it arrived. */
  at: number;
  source: 'join' | 'push';
  brokers: string[];
  time: number;
  term: number | null;
}

type Request = { data: unknown; end(data?: unknown): void };

/** Delay before a refused join is tried again, ms (scc-broker-client's is its retryDelay). */
const JOIN_RETRY_MS = 500;

export class SpyWorker {
  readonly lists: SeenList[] = [];
  private readonly socket: ReturnType<typeof socketClusterClient.create>;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(statePort: number, options: { instancePort?: number; authKey?: string | null } = {}) {
    const socket = socketClusterClient.create({
      hostname: '127.0.0.1',
      port: statePort,
      autoReconnectOptions: { initialDelay: 200, randomness: 100, multiplier: 1, maxDelay: 300 },
      query: { authKey: String(options.authKey ?? null), instancePort: String(options.instancePort ?? 1), instanceType: 'scc-worker', version: '9.2.0' },
    });
    this.socket = socket;
    for (const procedure of ['sccBrokerJoinCluster', 'sccBrokerLeaveCluster']) {
      void (async () => {
        for await (const request of socket.procedure(procedure) as AsyncIterable<Request>) {
          this.record('push', request.data);
          request.end();
        }
      })();
    }
    for (const procedure of ['sccWorkerJoinCluster', 'sccWorkerLeaveCluster']) {
      void (async () => {
        for await (const request of socket.procedure(procedure) as AsyncIterable<Request>) request.end();
      })();
    }
    void (async () => {
      for await (const _ of socket.listener('connect')) this.join();
    })();
  }

  /** Joins; a refusal (or a timeout) is retried after JOIN_RETRY_MS while the socket stays open. */
  private join(): void {
    clearTimeout(this.retry);
    this.socket.invoke('sccWorkerJoinCluster', { instanceId: 'spy', instanceIp: '127.0.0.9' }).then(
      (reply) => this.record('join', reply),
      () => {
        if (this.closed || this.socket.state !== this.socket.OPEN) return;
        this.retry = setTimeout(() => this.join(), JOIN_RETRY_MS);
      },
    );
  }

  private record(source: 'join' | 'push', data: unknown): void {
    const d = data as { sccBrokerURIs?: string[]; time?: number; sccTerm?: number } | null;
    if (!d || !Array.isArray(d.sccBrokerURIs)) return;
    this.lists.push({ at: Date.now(), source, brokers: [...d.sccBrokerURIs].sort(), time: d.time ?? -1, term: d.sccTerm ?? null });
  }

  /** The newest list seen, or null. */
  get latest(): SeenList | null {
    return this.lists.at(-1) ?? null;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.socket.disconnect();
    this.socket.closeAllListeners();
  }
}
