/** Building and reading the `ws://IP:PORT` URIs that name brokers and workers. */
import { isIP } from 'node:net';
import type { IpFamily } from './payloads.js';

// A DNS name: labels of 1-63 letters, digits and hyphens (not at either end), joined by dots.
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const ALL_NUMERIC_LAST_LABEL = /(?:^|\.)[0-9]+$/;

/** Whether `value` is an IP address or a DNS host name: the one rule for env config and join payloads. */
export function isHostOrIp(value: string): boolean {
  // Digits and dots only is a (bogus) IPv4 address such as 999.1.1.1, never a host name: a DNS
  // top-level label is never all-numeric (RFC 3696 §2).
  return isIP(value) !== 0 || (HOSTNAME.test(value) && !ALL_NUMERIC_LAST_LABEL.test(value));
}

/** What the state server knows of a peer's address. */
export interface InstanceAddress {
  /** `instanceIp` from the join payload, if the peer sent one. */
  explicitIp: string | null;
  /** `instanceIpFamily` from the join payload (only meaningful with an explicit IP). */
  explicitFamily: IpFamily | null;
  /** The forwarded-for header's first value or the socket's remote address. */
  observedIp: string;
  port: number;
  secure: boolean;
}

/** `host:port` for a URL or a log line: an IPv6 address (it holds a colon) in brackets. */
export function hostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The peer's URI as the original state server writes it: the explicit IP is bare only with family
 * `IPv4`, bracketed otherwise. For an observed address the original always brackets, which makes a
 * plain IPv4 remote address (`[127.0.0.1]`) unusable; we bracket only real IPv6 addresses, which
 * gives the same string as the original whenever the original's string works.
 */
export function formatInstanceUri(address: InstanceAddress): string {
  const scheme = address.secure ? 'wss' : 'ws';
  let host: string;
  if (address.explicitIp !== null) {
    host = address.explicitFamily === 'IPv4' ? address.explicitIp : `[${address.explicitIp}]`;
  } else {
    host = isIP(address.observedIp) === 4 ? address.observedIp : `[${address.observedIp}]`;
  }
  return `${scheme}://${host}:${address.port}`;
}

/** Where a socketcluster-client should connect to reach the instance named by `uri`. */
export interface UriTarget {
  hostname: string;
  port: number;
  secure: boolean;
}

/** Splits a `ws://host:port` / `wss://[v6]:port` URI into connect options; throws TypeError if malformed. */
export function parseInstanceUri(uri: string): UriTarget {
  const url = new URL(uri);
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new TypeError(`Not a ws:// or wss:// URI: ${uri}`);
  const secure = url.protocol === 'wss:';
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  // URL keeps the brackets of an IPv6 host, and socketcluster-client needs them: it builds its
  // URL as `${scheme}://${hostname}:${port}`.
  return { hostname: url.hostname, port, secure };
}
