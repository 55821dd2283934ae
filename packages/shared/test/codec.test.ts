import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { internalCodec } from '../src/codec.js';

const formatter = createRequire(import.meta.url)('sc-formatter') as { encode(raw: unknown): string };

describe('internalCodec', () => {
  it('writes exactly what sc-formatter writes for JSON data', () => {
    const samples: unknown[] = [
      { event: '#publish', data: { channel: 'c', data: { sender: 'w', messages: [{ a: 1, s: 'é\u{1F680}' }, null, [1, 2]], seq: 3 } } },
      [{ event: '#publish', data: { channel: 'x', data: 1 } }, { rid: 2, data: 'ok' }],
      { event: '#handshake', data: { authToken: null }, cid: 1 },
      'plain',
      0,
    ];
    for (const sample of samples) expect(internalCodec.encode(sample)).toBe(formatter.encode(sample));
  });

  it('leaves ping and pong as they are', () => {
    expect(internalCodec.encode('#1')).toBe('#1');
    expect(internalCodec.encode('#2')).toBe('#2');
  });

  it('falls back to sc-formatter for a Buffer, keeping the base64 form peers expect', () => {
    const raw = { event: '#publish', data: { channel: 'b', data: { sender: 'w', messages: [Buffer.from('hi')] } } };
    const text = internalCodec.encode(raw) as string;
    expect(text).toBe(formatter.encode(raw));
    expect(text).toContain('"base64":true');
  });
});
