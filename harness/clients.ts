/** Real socketcluster-client connections for tests, and a collector of what they receive. */
import socketClusterClient from 'socketcluster-client';
import { Waiters } from './waiters.js';

export type Client = ReturnType<typeof socketClusterClient.create>;

const clients = new Set<Client>();

/** Connects to 127.0.0.1:port and resolves once the handshake is done. */
export async function connect(port: number, query?: Record<string, string>): Promise<Client> {
  const client = socketClusterClient.create({
    hostname: '127.0.0.1',
    port,
    ...(query ? { query } : {}),
    autoReconnectOptions: { initialDelay: 100, randomness: 50, multiplier: 1, maxDelay: 200 },
  });
  clients.add(client);
  await client.listener('connect').once(5000);
  return client;
}

/** Disconnects every client these helpers created. */
export function disconnectAll(): void {
  for (const client of clients) {
    client.disconnect();
    client.closeAllChannels();
    client.closeAllListeners();
  }
  clients.clear();
}

/** What a test message looks like on the wire. */
export interface TestMessage {
  id: string;
  probe?: boolean;
  [key: string]: unknown;
}

/** Polls `predicate` every 10 ms until it holds; rejects after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Records every message each subscription receives, and waits on counts. */
export class Collector {
  /** key `${label}|${channel}` → messages in arrival order */
  readonly received = new Map<string, TestMessage[]>();
  /** message id → arrival times (Date.now()), over every subscription */
  readonly arrivals = new Map<string, number[]>();
  private readonly waiters = new Waiters();

  /** Subscribes `client` to `channel` under `label`; resolves once the worker confirmed the subscription. */
  async subscribe(label: string, client: Client, channel: string): Promise<void> {
    const key = `${label}|${channel}`;
    this.received.set(key, []);
    const stream = client.subscribe(channel);
    void (async () => {
      for await (const data of stream) {
        const message = data as TestMessage;
        this.received.get(key)!.push(message);
        const times = this.arrivals.get(message.id);
        if (times) times.push(Date.now());
        else this.arrivals.set(message.id, [Date.now()]);
        this.waiters.notify();
      }
    })();
    await stream.listener('subscribe').once(5000);
  }

  /** Messages (probes excluded) received by `label` on `channel`. */
  messages(label: string, channel: string): TestMessage[] {
    return (this.received.get(`${label}|${channel}`) ?? []).filter((m) => !m.probe);
  }

  /** Waits until `predicate()` holds, re-checking on every delivery. */
  async until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (!(await this.waiters.until(predicate, timeoutMs))) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }

  /** Forgets everything received so far. */
  clear(): void {
    for (const list of this.received.values()) list.length = 0;
    this.arrivals.clear();
  }
}

/**
 * Publishes probes on each channel from `publisher` until every subscription of `collector` has
 * heard one: the upstream subscribe from worker to broker is asynchronous, and this is the only
 * observable sign that it is in place. Bounded by `timeoutMs`.
 */
export async function primeChannels(publisher: Client, collector: Collector, labels: string[], channels: string[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const heard = (label: string, channel: string): boolean => (collector.received.get(`${label}|${channel}`) ?? []).some((m) => m.probe);
  let round = 0;
  while (Date.now() < deadline) {
    const pending = channels.filter((c) => labels.some((l) => !heard(l, c)));
    if (pending.length === 0) return;
    round += 1;
    await Promise.all(pending.map((c) => publisher.invokePublish(c, { id: `probe-${round}`, probe: true })));
    await collector.until(() => pending.every((c) => labels.every((l) => heard(l, c))), 300, 'probes').catch(() => undefined);
  }
  throw new Error(`channels not primed within ${timeoutMs} ms`);
}
