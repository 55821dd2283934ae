/**
 * Generators of hostile input for the SCC services: garbage frames, wrong-shape JSON, unknown events,
 * huge and deeply nested frames, bad joins, bad upgrades. Deterministic for a given seed, so a
 * failure found by `pnpm fuzz --seed N` can be replayed.
 */

/** A small seeded PRNG (mulberry32). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  bool(): boolean {
    return this.next() < 0.5;
  }
}

const ODD_STRINGS = ['', ' ', '\u0000', '__proto__', 'constructor', 'prototype', '#handshake', '#publish', '💥', '\ud800', 'null', 'undefined', '{}', '[]', 'a'.repeat(300)];

/** A random string: printable, control characters, lone surrogates, or one of a few classic troublemakers. */
export function randomString(rng: Rng, maxLength = 64): string {
  if (rng.next() < 0.3) return rng.pick(ODD_STRINGS);
  const length = rng.int(0, maxLength);
  let s = '';
  for (let i = 0; i < length; i++) {
    const r = rng.next();
    s += String.fromCharCode(r < 0.7 ? rng.int(32, 126) : r < 0.85 ? rng.int(0, 31) : rng.int(0x80, 0xffff));
  }
  return s;
}

/** A random JSON-able value, nested up to `depth`. */
export function randomValue(rng: Rng, depth = 3): unknown {
  const r = rng.int(0, depth > 0 ? 9 : 6);
  switch (r) {
    case 0:
      return null;
    case 1:
      return rng.bool();
    case 2:
      return rng.pick([0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER, 2 ** 53 + 1, 65_536]);
    case 3:
    case 4:
      return randomString(rng);
    case 5:
      return rng.int(-100, 100_000);
    case 6:
      return rng.pick([[], {}, '']);
    case 7:
    case 8:
      return Array.from({ length: rng.int(0, 5) }, () => randomValue(rng, depth - 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let i = rng.int(0, 5); i > 0; i--) object[randomString(rng, 12)] = randomValue(rng, depth - 1);
      return object;
    }
  }
}

/** Text that is not valid JSON, including text that starts like JSON and breaks later. */
export function nonJsonText(rng: Rng): string {
  return rng.pick([
    () => randomString(rng, 200),
    () => `{${randomString(rng, 50)}`,
    () => `[${randomString(rng, 50)}`,
    () => `{"event":"#publish","data":${randomString(rng, 20)}`,
    () => '#1',
    () => '#2',
    () => `${JSON.stringify({ event: '#publish', data: { channel: 'x', data: 1 }, cid: 1 })}garbage`,
  ])();
}

/** Random bytes for a binary frame (some are valid JSON as UTF-8: the codec decodes binary frames too). */
export function binaryFrame(rng: Rng): Buffer {
  if (rng.next() < 0.3) return Buffer.from(JSON.stringify({ event: '#publish', data: { channel: 'bin', data: rng.int(0, 9) }, cid: rng.int(1, 1e6) }));
  return Buffer.from(Array.from({ length: rng.int(0, 512) }, () => rng.int(0, 255)));
}

/** JSON whose shape is not a SocketCluster frame, or is one with wrong field types. */
export function wrongShapeJson(rng: Rng): string {
  const cid = rng.bool() ? rng.int(1, 1e9) : randomValue(rng, 0);
  return JSON.stringify(
    rng.pick([
      () => randomValue(rng, 3),
      () => [randomValue(rng, 2), { event: randomValue(rng, 1), data: randomValue(rng, 2), cid }],
      () => ({ event: randomValue(rng, 1), data: randomValue(rng, 2), cid }),
      () => ({ rid: randomValue(rng, 0), data: randomValue(rng, 2), error: randomValue(rng, 2) }),
      () => ({ event: rng.pick(['#publish', '#subscribe', '#unsubscribe', '#authenticate', '#removeAuthToken', '#handshake']), data: randomValue(rng, 3), cid }),
      () => ({ event: '#publish', data: { channel: randomValue(rng, 1), data: randomValue(rng, 3) } }),
      () => ({ event: '#subscribe', data: { channel: randomValue(rng, 1), waitForAuth: randomValue(rng, 0) }, cid }),
      () => ({ event: '#authenticate', data: randomString(rng, 300), cid }),
    ])(),
  );
}

/** A frame for an event nobody handles, as a request or a plain event. */
export function unknownEvent(rng: Rng): string {
  const event = rng.bool() ? randomString(rng, 40) : `#${randomString(rng, 20)}`;
  return JSON.stringify(rng.bool() ? { event, data: randomValue(rng, 3), cid: rng.int(1, 1e9) } : { event, data: randomValue(rng, 3) });
}

/** JSON nested `depth` levels deep, wrapped in a publish, an unknown event or nothing. */
export function deepJson(rng: Rng, depth: number): string {
  const open = rng.bool() ? '['.repeat(depth) : '{"a":'.repeat(depth);
  const close = open.startsWith('[') ? ']'.repeat(depth) : '}'.repeat(depth);
  const nested = `${open}1${close}`;
  return rng.pick([
    () => `{"event":"#publish","data":{"channel":"deep/${rng.int(0, 9)}","data":${nested}},"cid":${rng.int(1, 1e6)}}`,
    () => `{"event":"deep","data":${nested},"cid":${rng.int(1, 1e6)}}`,
    () => nested,
  ])();
}

/** A frame larger than `maxPayloadBytes`. */
export function hugeFrame(rng: Rng, maxPayloadBytes: number): string | Buffer {
  const size = maxPayloadBytes + rng.int(1, Math.min(maxPayloadBytes, 64 * 1024));
  if (rng.bool()) return Buffer.alloc(size, 0x61);
  return `{"event":"#publish","data":{"channel":"huge","data":"${'x'.repeat(size)}"},"cid":1}`;
}

/**
 * A join payload that must be refused: each one breaks exactly one rule of the guards in
 * payloads.ts (wrong type, overlong string, bogus IP or family, IPv6 address announced as IPv4).
 */
export function invalidJoinPayload(rng: Rng): unknown {
  const valid = { instanceId: `fz-${rng.int(0, 1e9)}`, instanceIp: '10.0.0.1', instanceIpFamily: 'IPv4' };
  return rng.pick([
    () => randomString(rng, 20) || 'x',
    () => rng.pick([1, true, [1], ['a']]),
    () => ({ ...valid, instanceId: rng.pick([1, true, {}, [], 0.5]) }),
    () => ({ ...valid, instanceId: 'i'.repeat(rng.int(257, 5000)) }),
    () => ({ ...valid, instanceIp: rng.pick([1, true, {}, ['10.0.0.1']]) }),
    () => ({ ...valid, instanceIp: rng.pick(['not an ip!', '999.1.1.1/8', 'a b', '-bad-', '10.0.0.1:80', 'h'.repeat(254), 'http://x', '../etc', '999.1.1.1', '10.0.0.256', '1.2.3']) }),
    () => ({ ...valid, instanceIpFamily: rng.pick(['IPv5', 'ipv4', 4, '', true, {}]) }),
    () => ({ ...valid, instanceIp: '::1', instanceIpFamily: 'IPv4' }),
  ])();
}
