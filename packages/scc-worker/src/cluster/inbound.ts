/**
 * The receiving side of the data path, from a broker's relay to local subscribers: each packet
 * passes the guard (`parsePublishPacket`), this worker's own packets are skipped (the broker relays
 * to every subscriber, and we delivered ours locally already), numbered packets go through the
 * sequencer (order, duplicates, gaps), and local-delivery.ts publishes each message to local
 * subscribers. Each step holds the next: the sequencer hands ordered packets to local delivery itself.
 */
import { parsePublishPacket, type Logger } from '@scc-ts/shared';
import { LocalDelivery, type LocalEngine } from './local-delivery.js';
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
  stats: ClusterStats;
  logger: Logger;
}

/** Guards, sequences and delivers relayed packets locally (see above). */
export class Inbound {
  private readonly options: InboundOptions;
  private readonly local: LocalDelivery;
  private readonly sequencer: Sequencer;
  private readonly warnings: ThrottledWarnings;
  private readonly stats: ClusterStats;

  constructor(options: InboundOptions) {
    this.options = options;
    this.stats = options.stats;
    this.local = new LocalDelivery(options.engine, options.stats);
    this.warnings = new ThrottledWarnings(options.logger);
    this.sequencer = new Sequencer({
      windowMs: options.reorderWindowMs,
      deliver: this.local.deliver,
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
    if (packet.sender === this.options.instanceId) return;
    // Numbered packets (from our workers) go through the sequencer; an original worker's are delivered as they come.
    if (packet.seq !== undefined && packet.sender != null) this.sequencer.accept(channel, packet.sender, packet.seq, packet.messages);
    else this.local.deliver(channel, packet.messages);
  };

  /**
   * The channel's last local subscriber left: held packets are delivered and its streams forgotten,
   * so a resubscription later starts afresh instead of reporting the pause as a gap.
   */
  forgetChannel(channel: string): void {
    this.sequencer.forgetChannel(channel);
  }

  /** Stops the sequencer's timers; held packets are dropped. Safe to call twice. */
  close(): void {
    this.sequencer.close();
  }
}
