/**
 * The broker's relay without socketcluster-server's per-packet machinery. A worker's `#publish`
 * sent without a cid (our workers' at-most-once packets) normally goes through an inbound action,
 * the middleware stream, the exchange, then for each subscriber an outbound stream step and another
 * middleware action: a dozen promises per packet, the bulk of a broker's CPU. A broker runs no
 * middleware, so the relay can be what it means: encode the packet once and write it to every
 * socket subscribed to the channel. Packets with a cid (at-least-once publishes, barriers) and every
 * other event keep the normal path, which acknowledges after the same relay. The wire is unchanged.
 */
import { isSafeChannelName, type AGServer, type Logger } from '@scc-ts/shared';

const FAST_RELAY = Symbol('scc.fastRelay');
const PATCHED = Symbol('scc.fastRelayPatched');

interface Relay {
  relay(channel: string, data: unknown): void;
}

interface SocketInternals {
  server: Record<symbol, Relay | undefined>;
  state: string;
  OPEN: string;
  _processInboundPacket(packet: unknown, message: unknown): Promise<void>;
  [PATCHED]?: boolean;
}

interface PublishPacket {
  event?: unknown;
  cid?: unknown;
  data?: { channel?: unknown; data?: unknown };
}

interface Subscriber {
  state: string;
  OPEN: string;
  send(text: string): void;
}

/** Installs the fast relay on `agServer`'s sockets. Call once, after hardening and limits. */
export function installFastRelay(agServer: AGServer, logger: Logger): void {
  const engine = agServer.brokerEngine as unknown as {
    _clientSubscribers: Record<string, Record<string, Subscriber> | undefined>;
    emit(event: string, data: unknown): void;
  };
  const codec = (agServer as unknown as { codec: { encode(raw: unknown): string } }).codec;
  const relay: Relay = {
    relay(channel, data) {
      const subscribers = engine._clientSubscribers[channel];
      if (subscribers) {
        let text: string;
        try {
          text = codec.encode({ event: '#publish', data: { channel, data } });
        } catch (error) {
          logger.warn(`could not encode a packet on ${channel}: ${(error as Error).message}`);
          return;
        }
        for (const id in subscribers) {
          const socket = subscribers[id];
          if (socket?.state === socket?.OPEN) socket?.send(text);
        }
      }
      // What the exchange would emit (the broker's metrics count packets from it).
      engine.emit('publish', { channel, data });
    },
  };
  (agServer as unknown as Record<symbol, Relay>)[FAST_RELAY] = relay;
  void (async () => {
    for await (const { socket } of agServer.listener('handshake')) patchPrototype(Object.getPrototypeOf(socket) as SocketInternals);
  })();
}

function patchPrototype(proto: SocketInternals): void {
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;
  const inbound = proto._processInboundPacket;
  proto._processInboundPacket = function (this: SocketInternals, packet: unknown, message: unknown) {
    const relay = this.server[FAST_RELAY];
    const p = packet as PublishPacket | null;
    if (relay && p !== null && typeof p === 'object' && p.event === '#publish' && p.cid === undefined && this.state === this.OPEN) {
      const channel = p.data?.channel;
      // Anything odd (a missing or unsafe channel name) takes the normal path and its named refusals.
      if (typeof channel === 'string' && isSafeChannelName(channel)) {
        relay.relay(channel, p.data?.data);
        return Promise.resolve();
      }
    }
    return inbound.call(this, packet, message);
  };
}
