/**
 * Minimal raw-WebSocket clients for the load generator: the SocketCluster protocol (socketcluster-server
 * 20, protocol version 2) and Socket.IO 4 over engine.io v4 (websocket transport only). Both do only
 * what the bench needs — handshake, answer pings, subscribe with an acknowledgement, publish without
 * one, hand every delivery to one callback — so the generator costs about the same per message for
 * every system under test (no client library on either side).
 */
import WebSocket from 'ws';

export type Protocol = 'sc' | 'sio';

/** Called with the channel and the parsed message for every delivery. */
export type DeliveryHandler = (channel: string, data: unknown) => void;

/** Upper bound on a handshake or subscribe acknowledgement, ms. */
const ACK_TIMEOUT_MS = 20_000;

export interface WireClient {
  readonly ws: WebSocket;
  onDelivery: DeliveryHandler;
  /** Resolves once the server acknowledged the subscription. */
  subscribe(channel: string): Promise<void>;
  /** Sends one publish; `json` is the message already JSON-encoded. */
  publish(channel: string, json: string): void;
  close(): void;
}

/** Connects and completes the protocol handshake. */
export function connectWire(protocol: Protocol, port: number): Promise<WireClient> {
  return protocol === 'sc' ? ScClient.open(port) : SioClient.open(port);
}

abstract class BaseClient implements WireClient {
  onDelivery: DeliveryHandler = () => {};
  protected nextId = 1;
  protected readonly pending = new Map<number, { resolve: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();

  constructor(readonly ws: WebSocket) {
    ws.on('close', () => this.failAll(new Error('socket closed')));
    ws.on('error', (error) => this.failAll(error));
  }

  abstract subscribe(channel: string): Promise<void>;
  abstract publish(channel: string, json: string): void;

  protected expectAck(id: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no acknowledgement for ${what} within ${ACK_TIMEOUT_MS} ms`));
      }, ACK_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  protected settle(id: number, error?: unknown): void {
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    clearTimeout(waiter.timer);
    if (error === undefined || error === null) waiter.resolve();
    else waiter.reject(new Error(`server refused: ${JSON.stringify(error)}`));
  }

  private failAll(error: Error): void {
    for (const [id, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      this.pending.delete(id);
      waiter.reject(error);
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

interface ScPacket {
  event?: string;
  data?: { channel?: string; data?: unknown };
  rid?: number;
  error?: unknown;
}

/** SocketCluster protocol v2: ping is the empty string, answered with the empty string. */
class ScClient extends BaseClient {
  static open(port: number): Promise<ScClient> {
    // handshakeTimeout bounds the TCP connect and HTTP upgrade too (a full accept queue can hold a SYN for minutes).
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socketcluster/`, { perMessageDeflate: false, handshakeTimeout: ACK_TIMEOUT_MS });
    const client = new ScClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('error', reject);
      ws.once('open', () => {
        const id = client.nextId++;
        const acked = client.expectAck(id, 'handshake');
        ws.send(JSON.stringify({ event: '#handshake', data: { authToken: null }, cid: id }));
        acked.then(() => resolve(client), reject);
      });
    });
  }

  constructor(ws: WebSocket) {
    super(ws);
    ws.on('message', (raw: Buffer) => this.receive(raw.toString()));
  }

  private receive(text: string): void {
    // '' (protocol 2) and '#1' (protocol 1) are the server's pings.
    if (text === '') return void this.ws.send('');
    if (text === '#1') return void this.ws.send('#2');
    const parsed = JSON.parse(text) as ScPacket | ScPacket[];
    // With batching on, the server sends an array of packets in one frame.
    if (Array.isArray(parsed)) for (const packet of parsed) this.handle(packet);
    else this.handle(parsed);
  }

  private handle(packet: ScPacket): void {
    if (packet.event === '#publish' && packet.data) this.onDelivery(packet.data.channel ?? '', packet.data.data);
    else if (typeof packet.rid === 'number') this.settle(packet.rid, packet.error);
  }

  subscribe(channel: string): Promise<void> {
    const id = this.nextId++;
    const acked = this.expectAck(id, `#subscribe ${channel}`);
    this.ws.send(JSON.stringify({ event: '#subscribe', data: { channel }, cid: id }));
    return acked;
  }

  publish(channel: string, json: string): void {
    // No cid: socketcluster-client's transmitPublish, the cheapest form (no acknowledgement).
    this.ws.send(`{"event":"#publish","data":{"channel":${JSON.stringify(channel)},"data":${json}}}`);
  }
}

/**
 * Socket.IO 4 over engine.io 4: '0{…}' open → we send '40' (connect the main namespace) → '40{…}'.
 * Ping '2' is answered with '3'. Events are '42[…]', with an ack id '42<id>[…]' answered '43<id>[…]'.
 * The bench server (servers/socketio-server.mjs) handles 'sub' (join a room, ack) and 'pub'
 * (io.to(room).emit('m', room, data)).
 */
class SioClient extends BaseClient {
  private connected: (() => void) | undefined;

  static open(port: number): Promise<SioClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false, handshakeTimeout: ACK_TIMEOUT_MS });
    const client = new SioClient(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Socket.IO connect timed out after ${ACK_TIMEOUT_MS} ms`)), ACK_TIMEOUT_MS);
      ws.once('error', reject);
      client.connected = () => {
        clearTimeout(timer);
        resolve(client);
      };
    });
  }

  constructor(ws: WebSocket) {
    super(ws);
    ws.on('message', (raw: Buffer) => this.receive(raw.toString()));
  }

  private receive(text: string): void {
    if (text === '2') return void this.ws.send('3');
    if (text.startsWith('42')) {
      const [name, channel, data] = JSON.parse(text.slice(2)) as [string, string, unknown];
      if (name === 'm') this.onDelivery(channel, data);
    } else if (text.startsWith('43')) {
      const bracket = text.indexOf('[');
      this.settle(Number(text.slice(2, bracket)));
    } else if (text.startsWith('40')) {
      this.connected?.();
      this.connected = undefined;
    } else if (text.startsWith('0')) {
      this.ws.send('40');
    } else if (text.startsWith('44')) {
      throw new Error(`Socket.IO connect refused: ${text}`);
    }
  }

  subscribe(channel: string): Promise<void> {
    const id = this.nextId++;
    const acked = this.expectAck(id, `sub ${channel}`);
    this.ws.send(`42${id}${JSON.stringify(['sub', channel])}`);
    return acked;
  }

  publish(channel: string, json: string): void {
    this.ws.send(`42["pub",${JSON.stringify(channel)},${json}]`);
  }
}
