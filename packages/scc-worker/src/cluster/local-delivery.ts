/**
 * The last step of the receiving side: each message of a relayed packet is published to this
 * worker's local subscribers through the broker engine's public `invokePublish`, with
 * `suppressEvent` so that it is not sent upstream again. The inbound stage hands unnumbered packets
 * (an original worker's) here directly, and the sequencer hands numbered ones once they are in order.
 * A history channel's messages come with their positions (positions.ts put them in order) and go to
 * our engine's `publishPositioned`, which gives subscribers that asked for positions an envelope.
 */
import type { AGServer, Position } from '@scc-ts/shared';
import type { PositionedBatch } from './positions.js';
import type { ClusterStats } from './stats.js';

/** Our broker engine's entry for a history channel's messages (broker-engine.ts). */
export interface PositionedPublisher {
  /** Publishes `data` to local subscribers (never upstream); `position` null when its broker gave none. */
  publishPositioned(channel: string, data: unknown, position: Position | null): void;
}

/** The local broker engine, as local delivery uses it. */
export type LocalEngine = Pick<AGServer['brokerEngine'], 'invokePublish'> & Partial<PositionedPublisher>;

export class LocalDelivery {
  constructor(
    private readonly engine: LocalEngine,
    private readonly stats: ClusterStats,
  ) {}

  /** Publishes `messages` on `channel` to local subscribers (an arrow: the sequencer holds it as its `deliver`). */
  readonly deliver = (channel: string, messages: unknown[]): void => {
    for (const message of messages) {
      this.stats.messagesDelivered += 1;
      // suppressEvent: a relayed message must not be published upstream again.
      void this.engine.invokePublish(channel, message, true);
    }
  };

  /** Publishes a history channel's messages, in order, with their positions (null: none given). */
  readonly deliverPositioned = (channel: string, batch: PositionedBatch | { position: null; messages: unknown[] }): void => {
    const publish = this.engine.publishPositioned;
    if (publish === undefined) {
      this.deliver(channel, batch.messages);
      return;
    }
    const { position, messages } = batch;
    for (let i = 0; i < messages.length; i++) {
      this.stats.messagesDelivered += 1;
      publish.call(this.engine, channel, messages[i], position === null ? null : { epoch: position.epoch, offset: position.offset + i });
    }
  };
}
