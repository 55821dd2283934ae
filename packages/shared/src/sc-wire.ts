/**
 * The SocketCluster protocol v2 subset that the cluster's internal links (worker ↔ broker) speak,
 * written by us on `ws` instead of borrowed from socketcluster-server / -client internals. The
 * contract as a whole (procedures, payloads, extensions) is docs/protocol.md ("Transport").
 *
 * The subset, in our words:
 * - A WebSocket at path `/socketcluster/`; every frame is UTF-8 text. Binary frames carry nothing
 *   on these links and are ignored.
 * - The empty text `''` is both ping and pong: the server sends it every ping interval, the client
 *   answers with the same; either side drops a peer it has heard nothing from for the ping
 *   timeout. (Protocol v1's `#1` / `#2` are understood on receipt but never sent.)
 * - Any other frame is JSON: one packet, or a batch, a JSON array of packets, which both
 *   socketcluster-client and socketcluster-server send and accept. Packets of a batch are
 *   handled in order, as if they had come one frame each.
 * - A packet is an event `{event, data?, cid?}` (with a numeric `cid` the sender wants an answer)
 *   or an answer `{rid, data?}` / `{rid, error}` to an earlier event's cid. Errors travel
 *   dehydrated as `{name, message}`; peers match on `name`.
 * - Events on these links: `#handshake` (must come first, with a cid; answered with
 *   `{id, pingTimeout, isAuthenticated}`), `#subscribe {channel}`, `#unsubscribe channel` (with
 *   or without a cid), `#publish {channel, data}` (with a cid: answered once relayed; without:
 *   relayed only). The broker relays a publish as `{event: '#publish', data: {channel, data}}`.
 * Everything a peer names (events, channels) is kept in Maps or compared as strings, never used
 * as a plain-object key, so `constructor` or `__proto__` are ordinary names here.
 */
import { InvalidFrameError } from './errors.js';

/** The event names of the subset. */
export const ScEvent = Object.freeze({
  Handshake: '#handshake',
  Subscribe: '#subscribe',
  Unsubscribe: '#unsubscribe',
  Publish: '#publish',
} as const);

/** Protocol v2 ping and pong: the empty text frame. */
export const SC_PING = '';
/** Protocol v1's ping (`#1`) and pong (`#2`): understood from old peers, never sent. */
export const SC_LEGACY_PING = '#1';
export const SC_LEGACY_PONG = '#2';

/** socketcluster-server's default interval between pings it sends, ms. */
export const DEFAULT_SC_PING_INTERVAL_MS = 8000;
/** socketcluster-server's default silence after which a peer is dropped (close 4001), ms. */
export const DEFAULT_SC_PING_TIMEOUT_MS = 30_000;

/** Close codes of the subset (socketcluster's numbers, which its clients act on). */
export const ScCloseCode = Object.freeze({
  /** No message for the ping timeout. */
  PingTimeout: 4001,
  /** The handshake did not come within the handshake timeout. */
  HandshakeTimeout: 4005,
  /** The handshake was refused (malformed, repeated). */
  HandshakeRejected: 4008,
  /** Something other than a handshake came first. */
  NotHandshaken: 4009,
} as const);

/** An event packet: `{event, data, cid}`; `cid` only when the sender expects an answer. */
export interface ScEventPacket {
  readonly kind: 'event';
  readonly event: string;
  readonly data: unknown;
  readonly cid: number | undefined;
}

/** An answer packet: `{rid, data}` or `{rid, error}`. */
export interface ScResponsePacket {
  readonly kind: 'response';
  readonly rid: number;
  readonly data: unknown;
  /** The dehydrated error, when the answer is a refusal. */
  readonly error: ScErrorPayload | undefined;
}

export type ScPacket = ScEventPacket | ScResponsePacket;

/** An error as it travels: socketcluster dehydrates errors to their name and message. */
export interface ScErrorPayload {
  name: string;
  message: string;
}

/**
 * Parses a non-ping text frame into its raw values: one value, or the elements of a batch. Throws
 * InvalidFrameError when the text is not JSON. Each value still has to pass `toPacket`.
 */
export function parseFrame(text: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidFrameError(`frame is not JSON (${text.length} characters)`, { cause: error });
  }
  return Array.isArray(value) ? value : [value];
}

/** Guards one raw value of a frame: an event or an answer packet, or InvalidFrameError. */
export function toPacket(value: unknown): ScPacket {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidFrameError(`a packet must be an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const raw = value as { event?: unknown; data?: unknown; cid?: unknown; rid?: unknown; error?: unknown };
  if (typeof raw.event === 'string') {
    if (raw.cid !== undefined && !isCallId(raw.cid)) throw new InvalidFrameError(`event ${shortName(raw.event)} has a cid that is not a non-negative integer`);
    return { kind: 'event', event: raw.event, data: raw.data, cid: raw.cid as number | undefined };
  }
  if (raw.event !== undefined) throw new InvalidFrameError(`a packet's event must be a string, got ${typeof raw.event}`);
  if (isCallId(raw.rid)) {
    return { kind: 'response', rid: raw.rid, data: raw.data, error: raw.error === undefined || raw.error === null ? undefined : toErrorPayload(raw.error) };
  }
  throw new InvalidFrameError('a packet needs a string event or a numeric rid');
}

function isCallId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** An error payload from a peer, made safe to show: name and message are strings. */
function toErrorPayload(value: unknown): ScErrorPayload {
  if (value !== null && typeof value === 'object') {
    const { name, message } = value as { name?: unknown; message?: unknown };
    return { name: typeof name === 'string' ? name : 'Error', message: typeof message === 'string' ? message : '' };
  }
  return { name: 'Error', message: typeof value === 'string' ? value : String(value) };
}

/** A peer-chosen name, cut short for a message or a log line. */
export function shortName(name: string, max = 100): string {
  return JSON.stringify(name.length > max ? `${name.slice(0, max)}…` : name);
}

/** Dehydrates an error as socketcluster does: `{name, message}`. */
export function dehydrateError(error: Error): ScErrorPayload {
  return { name: error.name, message: error.message };
}

/** JSON.stringify's form of a Node Buffer: seeing it in a text means the value held binary. */
const BUFFER_MARK = '"type":"Buffer"';

/**
 * socketcluster's binary rule: a Buffer travels as `{base64: true, data}`. Only applied when the
 * plain text shows a Buffer, so ordinary JSON pays for no replacer at every key.
 */
function binaryReplacer(this: unknown, _key: string, value: unknown): unknown {
  const v = value as { type?: unknown; data?: unknown } | null;
  if (v !== null && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) {
    return { base64: true, data: Buffer.from(v.data as number[]).toString('base64') };
  }
  return value;
}

/** Encodes a value as socketcluster peers expect it (JSON; Buffers as base64 objects). */
export function encodeValue(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return 'null';
  return text.includes(BUFFER_MARK) ? (JSON.stringify(value, binaryReplacer) as string) : text;
}

/** Encodes an event `{event, data, cid}`; `cid` is left out when undefined. */
export function encodeEvent(event: string, data: unknown, cid?: number): string {
  const head = `{"event":${JSON.stringify(event)}`;
  const body = data === undefined ? '' : `,"data":${encodeValue(data)}`;
  return cid === undefined ? `${head}${body}}` : `${head}${body},"cid":${cid}}`;
}

/**
 * Encodes a relayed publish `{event: '#publish', data: {channel, data}}` from the already-encoded
 * text of its data, so a relay that received `data` as text can pass it on without re-encoding.
 */
export function encodePublishText(channel: string, encodedData: string): string {
  return `{"event":"#publish","data":{"channel":${JSON.stringify(channel)},"data":${encodedData}}}`;
}

/** Encodes an answer `{rid, data}` (no `data` key when undefined, as socketcluster's `end()`). */
export function encodeResponse(rid: number, data?: unknown): string {
  return data === undefined ? `{"rid":${rid}}` : `{"rid":${rid},"data":${encodeValue(data)}}`;
}

/** Encodes a refusal `{rid, error: {name, message}}`. */
export function encodeErrorResponse(rid: number, error: Error): string {
  return `{"rid":${rid},"error":${JSON.stringify(dehydrateError(error))}}`;
}

/** Joins already-encoded packet texts into one batch frame; a single text is sent as it is. */
export function encodeBatch(texts: readonly string[]): string {
  return texts.length === 1 ? (texts[0] as string) : `[${texts.join(',')}]`;
}
