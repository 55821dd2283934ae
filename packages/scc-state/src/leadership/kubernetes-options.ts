/**
 * What the Kubernetes Lease store is built with, checked once (every problem in one ConfigError), and
 * the names it writes into the Lease.
 */
import type { Logger } from '@scc-ts/shared';
import type { StoreOptions } from './store.js';

/** Annotation holding the holder's `host:port`, the address followers pass connections through to. */
export const LEASE_ADDRESS_ANNOTATION = 'scc.socketcluster.io/address';
/** Annotation holding the leader's last MembershipRecord, as JSON. */
export const LEASE_MEMBERSHIP_ANNOTATION = 'scc.socketcluster.io/membership';
/** The shortest lease TTL accepted, ms (the Lease counts whole seconds). */
export const MIN_KUBERNETES_LEASE_TTL_MS = 1000;

/** What a KubernetesLeaseStore is built with. */
export interface KubernetesLeaseStoreOptions extends StoreOptions {
  /** The Lease's name (a DNS subdomain), e.g. `scc-state`. */
  leaseName: string;
  /** The Lease's namespace (a DNS label). */
  namespace: string;
  /** `https://host:port` of the API server (`http:` is accepted, for tests). */
  apiServer: string;
  /** The bearer token, called before every request: projected service account tokens rotate. */
  token: () => string;
  /** CA bundle the API server's certificate must chain to (the service account's ca.crt). */
  ca?: Buffer;
  logger: Logger;
}

const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Every problem with the options, one line each (empty: usable). */
export function optionProblems(o: KubernetesLeaseStoreOptions): string[] {
  const problems: string[] = [];
  if (!Number.isSafeInteger(o.leaseTtlMs) || o.leaseTtlMs < MIN_KUBERNETES_LEASE_TTL_MS) problems.push(`leaseTtlMs ${String(o.leaseTtlMs)}: must be a whole number of ms ≥ ${MIN_KUBERNETES_LEASE_TTL_MS}`);
  if (!DNS_SUBDOMAIN.test(o.leaseName)) problems.push(`leaseName ${JSON.stringify(o.leaseName)}: must be a DNS subdomain (lower-case letters, digits, '-', '.')`);
  if (!DNS_LABEL.test(o.namespace)) problems.push(`namespace ${JSON.stringify(o.namespace)}: must be a DNS label`);
  let url: URL | null = null;
  try {
    url = new URL(o.apiServer);
  } catch {
    problems.push(`apiServer ${JSON.stringify(o.apiServer)}: not a URL`);
  }
  if (url && url.protocol !== 'https:' && url.protocol !== 'http:') problems.push(`apiServer ${JSON.stringify(o.apiServer)}: must be https:// (or http://)`);
  if (o.self.id === '') problems.push('self.id: must not be empty');
  return problems;
}
