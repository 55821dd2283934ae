/**
 * The last step of the receiving side: each message of a relayed packet is published to this
 * worker's local subscribers through the broker engine's public `invokePublish`, with
 * `suppressEvent` so that it is not sent upstream again. The inbound stage hands unnumbered packets
 * (an original worker's) here directly, and the sequencer hands numbered ones once they are in order.
 */
import type { AGServer } from '@scc-ts/shared';
import type { ClusterStats } from './stats.js';

/** The local broker engine, as local delivery uses it. */
export type LocalEngine = Pick<AGServer['brokerEngine'], 'invokePublish'>;

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
}
