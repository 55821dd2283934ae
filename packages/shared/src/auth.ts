/** The cluster auth key check both the state server and brokers make at the WebSocket upgrade. */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Query parameters of a request URL (`/socketcluster/?authKey=…`). */
export function queryOf(url: string | undefined): URLSearchParams {
  const at = (url ?? '').indexOf('?');
  return new URLSearchParams(at === -1 ? '' : (url ?? '').slice(at + 1));
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Whether `presented` equals `expected`, in time independent of where they differ: both sides are
 * hashed to a fixed length first, so neither content nor length leaks through timing.
 */
export function authKeyMatches(expected: string, presented: string | null): boolean {
  if (presented === null) return false;
  return timingSafeEqual(digest(expected), digest(presented));
}
