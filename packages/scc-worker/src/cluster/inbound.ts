/**
 * The receiving side of the data path, from a broker's relay to local subscribers: each packet
 * passes the guard (`parsePublishPacket`), this worker's own packets are skipped (the broker relays
 * to every subscriber, and we delivered ours locally already), numbered packets go through the
 * sequencer (order, duplicates, gaps), and each message is published locally through the broker
 * engine's public `invokePublish`, without raising the event that would send it upstream again.
 */
import { parsePublishPacket, type AGServer, type Logger } from '@scc-ts/shared';
import { Sequencer } from './sequencer.js';
import { ThrottledWarnings, type ClusterStats } from './stats.js';

/** The local broker engine, as the inbound stage uses it. */
export type LocalEngine = Pick<AGServer['brokerEngine'], 'invokePublish'>;

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
  private readonly engine: LocalEngine;
  private readonly sequencer: Sequencer;
  private readonly warnings: ThrottledWarnings;
  private readonly stats: ClusterStats;

  constructor(options: InboundOptions) {
    this.options = options;
    this.engine = options.engine;
    this.stats = options.stats;
    this.warnings = new ThrottledWarnings(options.logger);
    this.sequencer = new Sequencer({
      windowMs: options.reorderWindowMs,
      deliver: (channel, messages) => this.deliver(channel, messages),
      onDuplicate: () => {
        this.stats.duplicatesDropped += 1;
      },
      onLoss: (channel, sender, from, to) => {
        this.stats.packetsMissed += to - from + 1;
        this.warnings.warn('missed', `missed ${to - from + 1} packets from worker ${sender} on ${channel} (seq ${from}..${to})`);
      },
    });
  }

  /** Takes one packet a broker relayed on `channel`. */
  receive(channel: string, data: unknown): void {
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
    else this.deliver(channel, packet.messages);
  }

  private deliver(channel: string, messages: unknown[]): void {
    for (const message of messages) {
      this.stats.messagesDelivered += 1;
      // suppressEvent: a relayed message must not be published upstream again.
      void this.engine.invokePublish(channel, message, true);
    }
  }

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
