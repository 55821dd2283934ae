/**
 * What `SOCKETCLUSTER_OPTIONS` may still set on a broker. The broker used to be a
 * socketcluster-server and merged that JSON into its options; the relay keeps the keys that mean
 * something on its wire and refuses every other at start, so a setting is never silently ignored.
 */
import { ConfigError, DEFAULT_LINK_TIMEOUT_MS, HEARTBEATS_PER_LINK_TIMEOUT } from '@scc-ts/shared';

/** The relay's timing, from `SOCKETCLUSTER_OPTIONS` or the link timeout (`SCC_LINK_TIMEOUT`). */
export interface RelaySettings {
  /** Interval between pings to each worker socket, ms (`pingInterval`; default a third of the link timeout). */
  pingIntervalMs: number;
  /** Silence after which a worker socket is dropped, ms (`pingTimeout`; default the link timeout). */
  pingTimeoutMs: number;
}

/**
 * Keys accepted. `ackTimeout` is accepted for old configs and has no effect: the relay sends no
 * requests of its own, so nothing waits for an answer (SCC_BROKER_SERVER_ACK_TIMEOUT likewise).
 */
const KNOWN_KEYS = new Set(['pingInterval', 'pingTimeout', 'ackTimeout']);
/** Longest ping interval or timeout accepted, ms (setTimeout's limit). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Reads the relay settings; throws one ConfigError naming every bad or unknown key. Unset, the pings
 * follow the link timeout: a worker (ours or an original, which takes pingTimeout from the handshake)
 * and the broker both notice a silent link within it, instead of socketcluster's 8 s / 20 s.
 */
export function readRelaySettings(options: Readonly<Record<string, unknown>> | null, linkTimeoutMs = DEFAULT_LINK_TIMEOUT_MS): RelaySettings {
  const problems: string[] = [];
  const given = new Map(Object.entries(options ?? {}));
  for (const key of given.keys()) {
    if (!KNOWN_KEYS.has(key)) problems.push(`SOCKETCLUSTER_OPTIONS.${key}: not a broker option (accepted: ${[...KNOWN_KEYS].join(', ')})`);
  }
  const ms = (key: string, fallback: number): number => {
    const value = given.get(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS) {
      problems.push(`SOCKETCLUSTER_OPTIONS.${key}=${JSON.stringify(value)}: not a whole number of ms from 1 to ${MAX_TIMER_MS}`);
      return fallback;
    }
    return value;
  };
  const settings = {
    pingIntervalMs: ms('pingInterval', Math.round(linkTimeoutMs / HEARTBEATS_PER_LINK_TIMEOUT)),
    pingTimeoutMs: ms('pingTimeout', linkTimeoutMs),
  };
  ms('ackTimeout', 0);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(settings);
}
