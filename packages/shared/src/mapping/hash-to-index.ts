import { hash } from 'node:crypto';

/**
 * Lowercase hex MD5 digest of the UTF-8 encoding of `input` (lone surrogates
 * become U+FFFD, exactly as `crypto.createHash('md5').update(input)` does).
 */
export function md5Hex(input: string): string {
  return hash('md5', input, 'hex');
}

/**
 * Port of scc-broker-client 9.2.0 `Hasher.prototype.hashToIndex` (docs/protocol.md,
 * "hashToIndex and simple"), identical in
 * result for every string key and every modulo (including `modulo` 0, which
 * yields NaN just like the original).
 *
 * The original is:
 *
 *     key = key || 0; let hash = key;
 *     for (let i = 0; i < key.length; i++) {
 *       ch = key.charCodeAt(i); hash = ((hash << 5) - hash) + ch; hash = hash & hash;
 *     }
 *     return Math.abs(hash) % modulo;
 *
 * Its quirks, reproduced here with explicit coercions:
 * - `key || 0`: the empty string becomes the number 0, whose `length` is
 *   undefined, so the loop never runs and the hash is 0.
 * - On the first iteration `hash` is still the key *string*. `hash << 5`
 *   applies ToInt32(ToNumber(key)), and `- hash` subtracts ToNumber(key) as a
 *   double. ToNumber is exactly `Number(key)`: it trims whitespace and accepts
 *   "0x1f", "0b11", "0o7", "1e3", "-5", "3.7", "Infinity", ... For a
 *   non-numeric key it is NaN, so the sum is NaN and `NaN & NaN` is 0: the
 *   first character is effectively ignored. For "Infinity" ToInt32 gives 0 and
 *   the sum is -Infinity, which `&` also turns into 0. For a finite numeric key
 *   the value (not only its low 32 bits) takes part in the subtraction.
 * - `hash & hash` is just ToInt32(hash), i.e. `hash | 0`.
 * - Every later iteration works on an int32, so the arithmetic is exact.
 */
export function hashToIndex(key: string, modulo: number): number {
  let hash = 0;
  const length = key.length;
  if (length > 0) {
    // First step: the original's `hash` is the key string here (see above).
    const seed = Number(key);
    hash = ((seed << 5) - seed + key.charCodeAt(0)) | 0;
    for (let i = 1; i < length; i++) {
      hash = ((hash << 5) - hash + key.charCodeAt(i)) | 0;
    }
  }
  return Math.abs(hash) % modulo;
}
