/**
 * The codec of internal links (worker ↔ broker). socketcluster's default, sc-formatter, encodes
 * with a JSON.stringify replacer that looks for binary at every key and value: on these links
 * that replacer was the single largest cost after the writes themselves. The data there comes off
 * the wire as parsed JSON or is built by us, so plain JSON.stringify writes the same text; a
 * Buffer (a server-side publish of binary) still goes through sc-formatter, so peers see the
 * `{base64, data}` form they expect. Decoding is sc-formatter's. The text on the wire is the same
 * either way, so an original peer at the other end notices nothing.
 */
import { createRequire } from 'node:module';

interface Codec {
  encode(raw: unknown): unknown;
  decode(message: unknown): unknown;
}

const formatter = createRequire(import.meta.url)('sc-formatter') as Codec;

/** JSON.stringify's form of a Node Buffer; seeing it means the value held binary. */
const BUFFER_MARK = '"type":"Buffer"';

export const internalCodec: Codec = Object.freeze({
  decode: formatter.decode,
  encode(raw: unknown): unknown {
    // socketcluster's ping and pong pass through as they are.
    if (raw === '#1' || raw === '#2') return raw;
    const text = JSON.stringify(raw);
    return text !== undefined && text.includes(BUFFER_MARK) ? formatter.encode(raw) : text;
  },
});
