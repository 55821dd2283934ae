/** The SocketCluster v2 subset of internal links, without a network: frames in, texts out. */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  BrokerError,
  InvalidFrameError,
  encodeBatch,
  encodeErrorResponse,
  encodeEvent,
  encodePublishText,
  encodeResponse,
  encodeValue,
  parseFrame,
  toPacket,
} from '@scc-ts/shared';

// sc-formatter is what socketcluster-client and -server decode and encode with: our texts must agree.
const formatter = createRequire(import.meta.url)('sc-formatter') as { encode(v: unknown): string; decode(t: string): unknown };

describe('parseFrame and toPacket', () => {
  it('reads one packet or a batch, in order', () => {
    expect(parseFrame('{"event":"#subscribe","data":{"channel":"a"},"cid":3}').map(toPacket)).toEqual([
      { kind: 'event', event: '#subscribe', data: { channel: 'a' }, cid: 3 },
    ]);
    expect(parseFrame('[{"rid":1},{"rid":2,"error":{"name":"BrokerError","message":"no"}},{"event":"#publish","data":{"channel":"c","data":1}}]').map(toPacket)).toEqual([
      { kind: 'response', rid: 1, data: undefined, error: undefined },
      { kind: 'response', rid: 2, data: undefined, error: { name: 'BrokerError', message: 'no' } },
      { kind: 'event', event: '#publish', data: { channel: 'c', data: 1 }, cid: undefined },
    ]);
  });

  it('refuses what is not JSON or not a packet with InvalidFrameError', () => {
    expect(() => parseFrame('not json')).toThrow(InvalidFrameError);
    for (const value of [null, 5, 'x', [1], {}, { event: 7 }, { event: 'e', cid: -1 }, { event: 'e', cid: 1.5 }, { event: 'e', cid: '1' }, { rid: 'x' }]) {
      expect(() => toPacket(value), JSON.stringify(value)).toThrow(InvalidFrameError);
    }
  });

  it('keeps prototype-named events as ordinary strings and reads a hostile error payload safely', () => {
    const [packet] = parseFrame('{"event":"__proto__","data":{"__proto__":{"polluted":true}}}').map(toPacket);
    expect(packet).toMatchObject({ kind: 'event', event: '__proto__' });
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(toPacket({ rid: 1, error: { name: 5, message: {} } })).toMatchObject({ error: { name: 'Error', message: '' } });
    expect(toPacket({ rid: 1, error: 'boom' })).toMatchObject({ error: { name: 'Error', message: 'boom' } });
  });
});

describe('encoders', () => {
  it('write what socketcluster decodes to the same packets', () => {
    const cases: Array<[string, unknown]> = [
      [encodeEvent('#publish', { channel: 'c', data: { sender: 'w', messages: [1, 'a'] } }, 7), { event: '#publish', data: { channel: 'c', data: { sender: 'w', messages: [1, 'a'] } }, cid: 7 }],
      [encodeEvent('#unsubscribe', 'c'), { event: '#unsubscribe', data: 'c' }],
      [encodeEvent('#handshake', undefined, 1), { event: '#handshake', cid: 1 }],
      [encodeResponse(4), { rid: 4 }],
      [encodeResponse(5, { id: 'x', pingTimeout: 30000, isAuthenticated: false }), { rid: 5, data: { id: 'x', pingTimeout: 30000, isAuthenticated: false } }],
      [encodeErrorResponse(6, new BrokerError('Failed to subscribe')), { rid: 6, error: { name: 'BrokerError', message: 'Failed to subscribe' } }],
      [encodePublishText('ch "q"', encodeValue([1, { a: null }])), { event: '#publish', data: { channel: 'ch "q"', data: [1, { a: null }] } }],
    ];
    for (const [text, packet] of cases) expect(formatter.decode(text), text).toEqual(packet);
  });

  it('encodes Buffers as socketcluster does ({base64, data}) and plain JSON as JSON.stringify', () => {
    const value = { messages: [Buffer.from('hi'), 'x'] };
    expect(encodeValue(value)).toBe(formatter.encode(value));
    expect(JSON.parse(encodeValue(value))).toEqual({ messages: [{ base64: true, data: 'aGk=' }, 'x'] });
    expect(encodeValue({ a: [1, 'b'] })).toBe('{"a":[1,"b"]}');
  });

  it('joins texts into one batch frame, and sends a single text as it is', () => {
    const a = encodeResponse(1);
    const b = encodeEvent('#publish', { channel: 'c', data: 2 });
    expect(encodeBatch([a])).toBe(a);
    expect(JSON.parse(encodeBatch([a, b]))).toEqual([{ rid: 1 }, { event: '#publish', data: { channel: 'c', data: 2 } }]);
  });
});
