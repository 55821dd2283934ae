/**
 * The front-facing servers' codec: sc-formatter's decode and encode exactly, plus named refusals at
 * decode of Object.prototype names (single packets and batches) and of nesting past MAX_PACKET_DEPTH.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { InvalidChannelError, InvalidEventError, PacketTooDeepError } from '../src/errors.js';
import { MAX_PACKET_DEPTH, isSafeChannelName, safeCodec, safeCodecFor, type CodecEngine } from '../src/safe-codec.js';

const formatter = createRequire(import.meta.url)('sc-formatter') as CodecEngine;
const PROTOTYPE_NAMES = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];

/** `levels` arrays, one inside the other. */
function nested(levels: number): string {
  return `${'['.repeat(levels)}1${']'.repeat(levels)}`;
}

function refusal(codec: CodecEngine, message: unknown): string | null {
  try {
    codec.decode(message);
    return null;
  } catch (error) {
    return (error as Error).name;
  }
}

describe('safeCodec decode', () => {
  it('decodes what sc-formatter decodes, to the same value', () => {
    const messages: unknown[] = [
      '{"event":"#handshake","data":{"authToken":null},"cid":1}',
      '[{"event":"#publish","data":{"channel":"a","data":1}},{"rid":2,"data":"x"}]',
      '  \n{"event":"x","data":{"base64":true,"data":"AAEC/w=="}}',
      '{"event":"x","data":{"channel":"ok","__proto__x":1}}',
      'not json',
      '{broken',
      '',
      '#1',
      '#2',
      '123',
      null,
      undefined,
      Buffer.from('{"event":"bin","data":[1,2]}'),
    ];
    for (const message of messages) expect(safeCodec.decode(message), String(message)).toEqual(formatter.decode(message));
  });

  it('round-trips binary exactly as sc-formatter does ({base64, data})', () => {
    const packet = { event: '#publish', data: { channel: 'bin', data: { buf: Buffer.from([0, 1, 2, 255]), ab: new Uint8Array([9, 8]).buffer } } };
    const text = safeCodec.encode(packet);
    expect(text).toBe(formatter.encode(packet));
    expect(safeCodec.decode(text)).toEqual(formatter.decode(text));
    expect((safeCodec.decode(text) as { data: { data: { buf: unknown } } }).data.data.buf).toEqual({ base64: true, data: 'AAEC/w==' });
  });

  it('encodes every kind of value to the same text as sc-formatter', () => {
    class WithToJson {
      toJSON() {
        return { as: 'json' };
      }
    }
    const values: unknown[] = [
      '#1',
      '#2',
      'text',
      7,
      null,
      undefined,
      true,
      { event: '#publish', data: { channel: 'c', data: { s: 1, t: 2.5, p: 'x'.repeat(40), nested: [{ a: [] }, {}] } } },
      { event: 'x', data: { deep: { er: { buf: Buffer.from('hi') } } } },
      { event: 'x', data: [1, { ab: new ArrayBuffer(3) }] },
      { event: 'x', data: new Uint8Array([1, 2, 3]) },
      { event: 'x', data: { when: new Date(0), custom: new WithToJson(), skipped: undefined, fn: () => 1 } },
      { event: 'x', data: { type: 'Buffer', data: [1, 2] } },
      [{ event: 'a', data: 1 }, { event: 'b', data: Buffer.alloc(0) }],
    ];
    for (const value of values) expect(safeCodec.encode(value), JSON.stringify(value) ?? String(value)).toBe(formatter.encode(value));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => safeCodec.encode(cyclic)).toThrow(TypeError);
    expect(() => formatter.encode(cyclic)).toThrow(TypeError);
  });

  it('refuses events named after Object.prototype members with InvalidEventError', () => {
    for (const name of PROTOTYPE_NAMES) {
      expect(refusal(safeCodec, JSON.stringify({ event: name, data: 1 })), name).toBe('InvalidEventError');
      expect(refusal(safeCodec, JSON.stringify({ event: name, data: 1, cid: 3 })), name).toBe('InvalidEventError');
    }
    expect(() => safeCodec.decode('{"event":"constructor"}')).toThrow(InvalidEventError);
  });

  it('refuses channels named after Object.prototype members with InvalidChannelError: publish, subscribe, unsubscribe, any event', () => {
    for (const name of PROTOTYPE_NAMES) {
      expect(refusal(safeCodec, JSON.stringify({ event: '#publish', data: { channel: name, data: 1 } })), name).toBe('InvalidChannelError');
      expect(refusal(safeCodec, JSON.stringify({ event: '#subscribe', data: { channel: name }, cid: 2 })), name).toBe('InvalidChannelError');
      expect(refusal(safeCodec, JSON.stringify({ event: '#unsubscribe', data: name, cid: 2 })), name).toBe('InvalidChannelError');
      expect(refusal(safeCodec, JSON.stringify({ event: 'custom', data: { channel: name } })), name).toBe('InvalidChannelError');
    }
    // A JSON escape spells the same name: refused all the same (the check reads the parsed value).
    expect(refusal(safeCodec, '{"event":"#subscribe","data":{"channel":"\\u0063onstructor"},"cid":1}')).toBe('InvalidChannelError');
    expect(() => safeCodec.decode('{"event":"#publish","data":{"channel":"toString"}}')).toThrow(InvalidChannelError);
  });

  it('leaves ordinary names, non-string channels and replies to socketcluster-server', () => {
    expect(refusal(safeCodec, '{"event":"#subscribe","data":{"channel":"constructors"},"cid":1}')).toBeNull();
    expect(refusal(safeCodec, '{"event":"#publish","data":{"channel":7}}')).toBeNull();
    expect(refusal(safeCodec, '{"event":"#unsubscribe","data":{"channel":"constructor"}}')).toBeNull();
    expect(refusal(safeCodec, '{"rid":1,"data":{"channel":"x"}}')).toBeNull();
    expect(refusal(safeCodec, '{"event":"chat","data":"constructor"}')).toBeNull();
  });

  it('refuses a batch array holding one bad packet anywhere', () => {
    const good = { event: '#publish', data: { channel: 'a', data: 1 } };
    expect(refusal(safeCodec, JSON.stringify([good, good]))).toBeNull();
    expect(refusal(safeCodec, JSON.stringify([good, { event: '__proto__', data: 1 }]))).toBe('InvalidEventError');
    expect(refusal(safeCodec, JSON.stringify([{ event: '#subscribe', data: { channel: 'valueOf' }, cid: 4 }, good]))).toBe('InvalidChannelError');
  });

  it(`refuses nesting deeper than ${MAX_PACKET_DEPTH} levels with PacketTooDeepError, and accepts ${MAX_PACKET_DEPTH}`, () => {
    expect(refusal(safeCodec, nested(MAX_PACKET_DEPTH))).toBeNull();
    expect(refusal(safeCodec, nested(MAX_PACKET_DEPTH + 1))).toBe('PacketTooDeepError');
    // The packet and its data object are two levels of their own.
    const deepPublish = `{"event":"#publish","data":{"channel":"deep","data":${nested(MAX_PACKET_DEPTH - 1)}}}`;
    expect(refusal(safeCodec, deepPublish)).toBe('PacketTooDeepError');
    expect(() => safeCodec.decode(`{"a":${'{"b":'.repeat(200_000)}1${'}'.repeat(200_000)}}`)).toThrow(PacketTooDeepError);
    // Why: sc-formatter decodes any depth, and the next recursive step (encode for subscribers) overflows.
    const deep = formatter.decode(nested(100_000));
    expect(() => formatter.encode(deep)).toThrow(RangeError);
  });
});

describe('safeCodecFor', () => {
  it('puts the same refusals in front of another codec and keeps its encoding', () => {
    // Another wire format: plain JSON with a marker, so keeping its encoding is visible.
    const other: CodecEngine = { encode: (v) => `!${JSON.stringify(v)}`, decode: (m) => JSON.parse(String(m)) as unknown };
    const codec = safeCodecFor(other);
    expect(codec.encode({ event: 'x', data: 1 })).toBe('!{"event":"x","data":1}');
    expect(codec.decode('{"event":"x","data":1}')).toEqual({ event: 'x', data: 1 });
    expect(refusal(codec, '{"event":"#publish","data":{"channel":"constructor"}}')).toBe('InvalidChannelError');
    expect(refusal(codec, nested(MAX_PACKET_DEPTH + 1))).toBe('PacketTooDeepError');
    expect(safeCodecFor(formatter)).toBe(safeCodec);
  });
});

describe('isSafeChannelName', () => {
  it('admits strings that are not Object.prototype members', () => {
    expect(isSafeChannelName('room')).toBe(true);
    for (const name of PROTOTYPE_NAMES) expect(isSafeChannelName(name)).toBe(false);
    expect(isSafeChannelName(3)).toBe(false);
  });
});
