/**
 * The seam between the router and the brokers: one `Transport` per broker URI. The broker link
 * (`BrokerPool`, broker-pool.ts: socketcluster connections to one broker) is the implementation in
 * use; the router's unit tests use an in-memory one. How sends are framed on the wire (several
 * packets of one event-loop turn in one frame) is the transport's business, not the router's.
 */

/** The connections to one broker. */
export interface Transport {
  /** The broker's URI. */
  readonly uri: string;
  /** Whether every connection to the broker is up. */
  readonly connected: boolean;
  /** Whether `channel` is subscribed (or its subscribe pending) on this broker. */
  isSubscribed(channel: string): boolean;
  /**
   * Subscribes `channel` (a no-op when it is). Resolves once the broker acknowledged, or after the
   * transport's own wait; never rejects: callers use it to know when packets sent there reach us.
   */
  subscribe(channel: string): Promise<void>;
  /** Unsubscribes `channel`. */
  unsubscribe(channel: string): void;
  /** Channels subscribed or pending on this broker. */
  subscriptions(): string[];
  /** Sends a packet; resolves once the broker acknowledged it (it has relayed the packet). */
  publish(channel: string, packet: unknown): Promise<void>;
  /** Sends a packet without asking for an acknowledgement. */
  transmit(channel: string, packet: unknown): Promise<void>;
  /** Whether the broker keeps channel history (its handshake said so on the connection of `channel`). */
  keepsHistory(channel: string): boolean;
  /** Calls one of the broker's procedures on the connection of `channel`; resolves with the answer. */
  request(channel: string, procedure: string, data: unknown): Promise<unknown>;
  /** Resolves once the broker has processed everything sent before on every connection; never rejects. */
  barrier(): Promise<void>;
  /** How long the connections have heard nothing, ms (the longest of them), at clock time `now`. */
  silentMs(now: number): number;
  /** Disconnects. Safe to call twice. */
  close(): void;
}

/**
 * Makes the transport to the broker at `uri`. It reports its connection through `onStatus`: false
 * when a connection dropped, true when all are up again. Packets the broker relays are the
 * factory's business (the worker hands them to the inbound stage).
 */
export type CreateTransport = (uri: string, onStatus: (up: boolean) => void) => Transport;
