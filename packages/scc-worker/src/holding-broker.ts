/**
 * The worker server's own broker engine (socketcluster-server's documented `brokerEngine` option):
 * ag-simple-broker, whose `subscribeSocket` also awaits the cluster's upstream subscription, so a
 * subscription a client sees acknowledged already hears every other worker. It is a subclass on
 * a server we build ourselves, not a patch: no other server or broker engine changes.
 *
 * The cluster plugin's default for this (holdSubscribeAcks: an inbound middleware) costs every
 * socket a middleware stream consumer (about 1.3 KB idle) and every inbound action a round through
 * it; here the hold costs nothing until a subscribe. The worker attaches the plugin with
 * `holdSubscribeAcks: false` and hands this engine `cluster.subscriptionReady`.
 */
import AGSimpleBroker from 'ag-simple-broker';

/** Resolves once a channel is subscribed upstream (never rejects). */
export type SubscriptionReady = (channel: string) => Promise<void>;

export class HoldingBroker extends AGSimpleBroker {
  /** Set once the cluster plugin is attached; null in standalone mode (nothing to wait for). */
  ready: SubscriptionReady | null = null;

  override async subscribeSocket(client: { id: string }, channelName: string): Promise<void> {
    // Locally first (socketcluster-server counts the subscription only once this resolves), then
    // upstream: a local refusal never reaches the brokers.
    await super.subscribeSocket(client, channelName);
    if (this.ready !== null) await this.ready(channelName);
  }
}
