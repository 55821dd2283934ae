/**
 * The receiving side of the data path, from a broker's relay to local subscribers: each packet
 * passes the guard (`parsePublishPacket`), this worker's own packets are skipped (the broker relays
 * to every subscriber, and we delivered ours locally already), numbered packets go through the
 * sequencer (order, duplicates, gaps), and local-delivery.ts publishes each message to local
 * subscribers. Each step holds the next: the sequencer hands ordered packets to local delivery itself.
 *
 * A history channel (docs/history.md) differs in two ways: our own packets are not skipped (the
 * worker did not deliver them at publish time, so that every subscriber sees the owner's order and
 * positions), and after the sequencer its packets pass positions.ts, which orders them by offset.
 */

/** A history channel's packet on its way through the sequencer. */
interface HistoryPayload {
  messages: unknown[];
  position: Position | null;
}
import { parsePublishPacket, positionOf, type Logger, type Position } from '@scc-ts/shared';
import { LocalDelivery, type LocalEngine } from './local-delivery.js';
import { PositionOrder } from './positions.js';
import { Sequencer } from './sequencer.js';
import { ThrottledWarnings, type ClusterStats } from './stats.js';

export type { LocalEngine } from './local-delivery.js';

/** What the inbound stage needs. */
export interface InboundOptions {
  /** This worker's instanceId: packets with it as `sender` are our own. */
  instanceId: string;
  /** Where messages are delivered to local subscribers. */
  engine: LocalEngine;
  /** How long a packet after a gap is held waiting for the gap to fill, ms. */
  reorderWindowMs: number;
  /** Whether a channel keeps history (SCC_HISTORY_CHANNELS); none when left out. */
  isHistory?: (channel: string) => boolean;
  stats: ClusterStats;
  logger: Logger;
}

/** Guards, sequences and delivers relayed packets locally (see above). */
export class Inbound {
  private readonly options: InboundOptions;
  private readonly local: LocalDelivery;
  private readonly sequencer: Sequencer<unknown[] | HistoryPayload>;
  private readonly positions: PositionOrder;
  private readonly isHistory: (channel: string) => boolean;
  private readonly warnings: ThrottledWarnings;
  private readonly stats: ClusterStats;

  constructor(options: InboundOptions) {
    this.options = options;
    this.stats = options.stats;
    this.local = new LocalDelivery(options.engine, options.stats);
    this.warnings = new ThrottledWarnings(options.logger);
    this.isHistory = options.isHistory ?? (() => false);
    this.positions = new PositionOrder({
      windowMs: options.reorderWindowMs,
      deliver: this.local.deliverPositioned,
      onGap: (channel, epoch, from, to) => {
        this.stats.packetsMissed += 1;
        this.warnings.warn('missed', `missed offsets ${from}..${to} of epoch ${epoch} on ${channel}`);
      },
    });
    this.sequencer = new Sequencer<unknown[] | HistoryPayload>({
      windowMs: options.reorderWindowMs,
      deliver: (channel, payload) => {
        if (Array.isArray(payload)) this.local.deliver(channel, payload);
        else this.deliverHistory(channel, payload);
      },
      onDuplicate: () => {
        this.stats.duplicatesDropped += 1;
      },
      onLoss: (channel, sender, from, to) => {
        this.stats.packetsMissed += to - from + 1;
        this.warnings.warn('missed', `missed ${to - from + 1} packets from worker ${sender} on ${channel} (seq ${from}..${to})`);
      },
    });
  }

  /** Takes one packet a broker relayed on `channel` (an arrow: each broker link holds it as its `onPacket`). */
  readonly receive = (channel: string, data: unknown): void => {
    this.stats.packetsIn += 1;
    let packet;
    try {
      packet = parsePublishPacket(data);
    } catch (error) {
      this.stats.malformedPackets += 1;
      this.warnings.warn('malformed', `dropped a packet on ${channel}: ${(error as Error).message}`);
      return;
    }
    const history = this.isHistory(channel);
    if (packet.sender === this.options.instanceId && !history) return;
    const payload: unknown[] | HistoryPayload = history ? { messages: packet.messages, position: positionOf(data) } : packet.messages;
    // Numbered packets (from our workers) go through the sequencer; an original worker's are delivered as they come.
    if (packet.seq !== undefined && packet.sender != null) this.sequencer.accept(channel, packet.sender, packet.seq, payload);
    else if (Array.isArray(payload)) this.local.deliver(channel, payload);
    else this.deliverHistory(channel, payload);
  };

  /** A history channel's packet in its sender's order: by offset when positioned, else as it comes. */
  private deliverHistory(channel: string, payload: HistoryPayload): void {
    if (payload.position === null) this.local.deliverPositioned(channel, { position: null, messages: payload.messages });
    else this.positions.accept(channel, payload.position, payload.messages);
  }

  /**
   * The channel's last local subscriber left: held packets are delivered and its streams forgotten,
   * so a resubscription later starts afresh instead of reporting the pause as a gap.
   */
  forgetChannel(channel: string): void {
    this.sequencer.forgetChannel(channel);
    this.positions.forgetChannel(channel);
  }

  /** Stops the sequencer's timers; held packets are dropped. Safe to call twice. */
  close(): void {
    this.sequencer.close();
    this.positions.close();
  }
}
