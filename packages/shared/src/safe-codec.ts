/**
 * The codec of the front-facing servers (`codecEngine`, a documented socketcluster-server option).
 * It decodes exactly as sc-formatter, socketcluster's default, does (one JSON.parse; text that is
 * not JSON passes through; the `{base64: true, data}` form of binary stays as that object) and
 * encodes with sc-formatter itself, so the wire is unchanged for every peer.
 *
 * What it adds is refusing, at decode, the two kinds of packet that broke socketcluster-server 20
 * (found by `pnpm fuzz`). A refusal throws a named error: socketcluster-server turns it into an
 * `error` event on the socket (a `warning` on the server) and drops the message, changing nothing.
 *
 * - Names a peer chooses that are Object.prototype members (`constructor`, `toString`,
 *   `__proto__`, …). socketcluster-server and its helpers key plain objects by them: an event name
 *   finds an inherited property in the socket's receiver and procedure demultiplexers (stream-demux
 *   calls `.write` on it and the process dies of an unhandled rejection); a channel name does the
 *   same in the socket's `channelSubscriptions`, in ag-simple-broker's subscriber tables (which then
 *   write the socket into Object.prototype) and in a worker's broker links (socketcluster-client has
 *   the same hole). Every such lookup is keyed by a packet's `event`, by `data.channel` (`#publish`,
 *   `#subscribe`) or by `data` itself (`#unsubscribe`), so refusing those three here covers them all.
 * - Nesting deeper than `MAX_PACKET_DEPTH`. JSON.parse accepts any depth, but the next step that
 *   walks the value recursively (sc-formatter's encode for every subscriber, the cluster plugin's
 *   encode upstream, socketcluster-server's `cloneData`) overflows the stack past about 5,000 levels.
 *
 * Cost: one walk over the parsed value, bounded by its node count (not its bytes: a 64 KB string is
 * one node). Packets no deeper than `DEPTH_CHECK_FREE_BYTES` bytes allow cannot be too deep and skip
 * the walk for depth; the name checks are a few property reads.
 */
import { createRequire } from 'node:module';
import { InvalidChannelError, InvalidEventError, PacketTooDeepError } from './errors.js';

/** A socketcluster codec engine: what `codecEngine` and `setCodecEngine` take. */
export interface CodecEngine {
  encode(raw: unknown): unknown;
  decode(message: unknown): unknown;
}

const formatter = createRequire(import.meta.url)('sc-formatter') as CodecEngine;

/**
 * Most levels of arrays and objects an inbound message may nest (the packet itself is level 1;
 * a batch array adds one). Ten times what socketcluster's own packets use, far below the depth at
 * which a recursive encode overflows.
 */
export const MAX_PACKET_DEPTH = 100;

/** A message shorter than this many bytes cannot nest `MAX_PACKET_DEPTH` levels (each costs a byte at least). */
const DEPTH_CHECK_FREE_BYTES = MAX_PACKET_DEPTH;

/** sc-formatter's test for text worth parsing. */
const VALID_JSON_START = /^[ \n\r\t]*[{[]/;

/** Whether a channel name is safe to use as a key anywhere: a string that is not an Object.prototype member. */
export function isSafeChannelName(name: unknown): name is string {
  return typeof name === 'string' && !(name in Object.prototype);
}

function channelError(name: unknown): InvalidChannelError {
  const shown = typeof name === 'string' ? JSON.stringify(name) : `a ${name === null ? 'null' : typeof name}`;
  return new InvalidChannelError(`channel name ${shown} is refused: it must be a string that is not an Object.prototype member`);
}

/**
 * Whether the object or array `value` nests more than `levels` levels of arrays and objects
 * (itself included). Recursion is bounded by `levels`; primitives are skipped without a call.
 */
function deeperThan(value: object, levels: number): boolean {
  if (levels === 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item !== null && typeof item === 'object' && deeperThan(item, levels - 1)) return true;
    }
    return false;
  }
  for (const key in value) {
    const item: unknown = (value as Record<string, unknown>)[key];
    if (item !== null && typeof item === 'object' && deeperThan(item, levels - 1)) return true;
  }
  return false;
}

/** Throws the named refusal for one packet, if it has one. */
function checkPacket(packet: unknown): void {
  if (packet === null || typeof packet !== 'object') return;
  const { event, data } = packet as { event?: unknown; data?: unknown };
  if (typeof event !== 'string') return;
  if (event in Object.prototype) throw new InvalidEventError(`event name ${JSON.stringify(event)} is refused: it is an Object.prototype member`);
  if (event === '#unsubscribe') {
    if (typeof data === 'string' && !isSafeChannelName(data)) throw channelError(data);
    return;
  }
  if (data !== null && typeof data === 'object') {
    const channel = (data as { channel?: unknown }).channel;
    // Only strings: any other channel value is socketcluster-server's to refuse (it answers a malformed one).
    if (typeof channel === 'string' && !isSafeChannelName(channel)) throw channelError(channel);
  }
}

/** Checks a decoded message: names in it and in every packet of a batch, and its depth. */
function check(decoded: unknown, length: number): void {
  if (Array.isArray(decoded)) {
    for (let i = 0; i < decoded.length; i++) checkPacket(decoded[i]);
  } else {
    checkPacket(decoded);
  }
  if (length >= DEPTH_CHECK_FREE_BYTES && decoded !== null && typeof decoded === 'object' && deeperThan(decoded, MAX_PACKET_DEPTH)) {
    throw new PacketTooDeepError(`message refused: it nests deeper than ${MAX_PACKET_DEPTH} levels`);
  }
}

/** sc-formatter's decode, in one parse, with the refusals above. */
function decode(message: unknown): unknown {
  if (message == null) return null;
  // socketcluster's protocol-1 ping and pong pass through as they are.
  if (message === '#1' || message === '#2') return message;
  const text = typeof message === 'string' ? message : String(message);
  if (!VALID_JSON_START.test(text)) return text;
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch {
    // Not JSON after all: sc-formatter hands the text on as it is.
    return text;
  }
  check(decoded, text.length);
  return decoded;
}

/** JSON.stringify's form of a Node Buffer (its toJSON): seeing it in a text means the value may hold one. */
const BUFFER_MARK = '"type":"Buffer"';

/** Whether an ArrayBuffer is anywhere in `value` (JSON.stringify writes one as `{}`, sc-formatter as base64). */
function holdsArrayBuffer(value: object): boolean {
  if (value instanceof ArrayBuffer) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item !== null && typeof item === 'object' && holdsArrayBuffer(item)) return true;
    }
    return false;
  }
  for (const key in value) {
    const item: unknown = (value as Record<string, unknown>)[key];
    if (item !== null && typeof item === 'object' && holdsArrayBuffer(item)) return true;
  }
  return false;
}

/**
 * sc-formatter's encode, to the byte, without its replacer at every key when there is no binary:
 * a plain JSON.stringify first (it throws where sc-formatter's would: a cycle, a BigInt), then
 * sc-formatter itself only for a value that holds a Buffer or an ArrayBuffer. Between two and three
 * times faster on typical publishes (the worker encodes every publish it delivers).
 */
function encode(raw: unknown): unknown {
  if (raw === '#1' || raw === '#2') return raw;
  const text = JSON.stringify(raw);
  if (text === undefined || text.includes(BUFFER_MARK) || (raw !== null && typeof raw === 'object' && holdsArrayBuffer(raw))) return formatter.encode(raw);
  return text;
}

/** The front-facing servers' codec: sc-formatter's wire format, refusing prototype names and deep nesting at decode. */
export const safeCodec: CodecEngine = Object.freeze({ decode, encode });

/**
 * The same refusals in front of another codec (a server that already has a `codecEngine` of its
 * own keeps its wire format). Its decode runs first; the checks read what it returns.
 */
export function safeCodecFor(base: CodecEngine): CodecEngine {
  if (base === safeCodec || base === formatter) return safeCodec;
  return Object.freeze({
    encode: (raw: unknown) => base.encode(raw),
    decode(message: unknown): unknown {
      const decoded = base.decode(message);
      const length = typeof message === 'string' ? message.length : Buffer.isBuffer(message) ? message.length : DEPTH_CHECK_FREE_BYTES;
      check(decoded, length);
      return decoded;
    },
  });
}
