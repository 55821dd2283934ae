/**
 * Subscribe acknowledgements held until the cluster hears the channel: a subscription a client sees
 * confirmed then already receives what any other worker publishes. Done with socketcluster-server's
 * public seam, an `MIDDLEWARE_INBOUND` middleware: a SUBSCRIBE action is allowed once the brokers
 * have acknowledged the channel upstream; every other action is allowed at once. The user's server
 * is otherwise left as it was (no method of it or of its broker engine is replaced).
 *
 * A server that already has inbound middleware keeps it: `SubscribeGate.install` refuses with a
 * ConfigError, and the user's middleware awaits `ClusterClient.subscriptionReady(channel)` itself.
 */
import { ConfigError, InvalidChannelError, isSafeChannelName, type AGServer } from '@scc-ts/shared';

/** The part of an inbound middleware action the gate reads (socketcluster-server's AGAction). */
interface InboundAction {
  type: string;
  SUBSCRIBE: string;
  channel?: string;
  allow(packet?: unknown): void;
  block(error?: Error): void;
}

/** writable-consumable-stream's documented consumer API (what a middleware stream offers). */
interface ActionConsumer {
  next(): Promise<IteratorResult<InboundAction>>;
}
interface ActionStream {
  createConsumer(): ActionConsumer;
}

export interface SubscribeGateOptions {
  /** Resolves once `channel` is subscribed upstream (never rejects). */
  ready(channel: string): Promise<void>;
  /**
   * Called a turn after a gated subscription was allowed, if no local socket then holds the channel
   * (its local subscription failed, e.g. past `socketChannelLimit`): the channel must not stay
   * subscribed upstream.
   */
  abandoned(channel: string): void;
}

/** The plugin option that turns the gate off (for the ConfigError's message). */
const OPTION_NAME = 'holdSubscribeAcks';

export class SubscribeGate {
  private installed = false;
  private readonly checks = new Set<NodeJS.Immediate>();

  constructor(
    private readonly agServer: AGServer,
    private readonly options: SubscribeGateOptions,
  ) {}

  /** Sets the inbound middleware. Throws ConfigError if the server has one already. */
  install(): void {
    const server = this.agServer;
    if (server.hasMiddleware(server.MIDDLEWARE_INBOUND)) {
      throw new ConfigError([
        `${OPTION_NAME}: the server already has MIDDLEWARE_INBOUND middleware; set ${OPTION_NAME}: false and await cluster.subscriptionReady(action.channel) before allowing SUBSCRIBE actions in yours`,
      ]);
    }
    // socketcluster-server hands the middleware one stream per socket. Its consumer is read with a
    // `.then` chain rather than `for await`: no async function state per socket (idle connections
    // are counted in bytes) and fewer promise steps per action. The handling itself is shared.
    server.setMiddleware(server.MIDDLEWARE_INBOUND, (stream) => {
      this.consume((stream as unknown as ActionStream).createConsumer());
    });
    this.installed = true;
  }

  private consume(consumer: ActionConsumer): void {
    const step = (packet: IteratorResult<InboundAction>): void => {
      if (packet.done) return;
      this.handle(packet.value);
      void consumer.next().then(step);
    };
    void consumer.next().then(step);
  }

  private handle(action: InboundAction): void {
    const channel = action.channel;
    if (action.type !== action.SUBSCRIBE || typeof channel !== 'string') {
      action.allow();
      return;
    }
    // A server not built with the hardening options can still hand us `constructor` & co.: they
    // must not reach the broker links (socketcluster-client keys plain objects by channel name).
    if (!isSafeChannelName(channel)) {
      action.block(new InvalidChannelError(`channel name ${JSON.stringify(channel)} is refused: it is an Object.prototype member`));
      return;
    }
    void this.options.ready(channel).then(() => {
      action.allow();
      // socketcluster-server subscribes the socket locally in the microtasks after allow().
      const check = setImmediate(() => {
        this.checks.delete(check);
        if (!this.agServer.brokerEngine.isSubscribed(channel)) this.options.abandoned(channel);
      });
      this.checks.add(check);
    });
  }

  /** Removes the middleware (sockets connected before keep theirs, which then allows everything). Safe to call twice. */
  close(): void {
    for (const check of this.checks) clearImmediate(check);
    this.checks.clear();
    if (!this.installed) return;
    this.installed = false;
    this.agServer.removeMiddleware(this.agServer.MIDDLEWARE_INBOUND);
  }
}
