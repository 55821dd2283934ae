/**
 * A broker spy: a socketcluster-client connected straight to a broker (as a worker would be) and
 * subscribed to channels. It records which message ids each broker relays on which channel, so a
 * test can see where the workers really route a channel.
 */
import { connect, type Client } from './clients.js';

export class BrokerSpy {
  /** channel → message ids relayed by this broker */
  readonly seen = new Map<string, Set<string>>();
  /** Largest number of messages seen in one packet (batching evidence). */
  maxBatch = 0;
  private constructor(
    readonly uri: string,
    private readonly client: Client,
  ) {}

  static async attach(port: number, channels: readonly string[], authKey = 'null'): Promise<BrokerSpy> {
    const client = await connect(port, { authKey, poolIndex: '0' });
    const spy = new BrokerSpy(`ws://127.0.0.1:${port}`, client);
    await Promise.all(
      channels.map(async (channel) => {
        spy.seen.set(channel, new Set());
        const stream = client.subscribe(channel);
        void (async () => {
          for await (const packet of stream) {
            spy.maxBatch = Math.max(spy.maxBatch, (packet as { messages: unknown[] }).messages.length);
            for (const m of (packet as { messages: Array<{ id: string }> }).messages) spy.seen.get(channel)!.add(m.id);
          }
        })();
        await stream.listener('subscribe').once(5000);
      }),
    );
    return spy;
  }

  /** Disconnects the spy (a broker that drains waits for its subscriptions as for a worker's). */
  close(): void {
    this.client.disconnect();
  }

  /** Whether this broker relayed message `id` on `channel`. */
  relayed(channel: string, id: string): boolean {
    return this.seen.get(channel)?.has(id) ?? false;
  }
}
