/**
 * Builds the Lease store from inside a pod: the API server from KUBERNETES_SERVICE_HOST/PORT (set by
 * the kubelet in every container), and the token, CA and namespace the service account mounts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SccError, hostPort, type Logger } from '@scc-ts/shared';
import { KubernetesLeaseStore } from './kubernetes.js';
import type { StoreOptions } from './store.js';

/** Where Kubernetes mounts a pod's service account credentials. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Not in a pod with a service account token (or the pod's environment lacks the API server). */
export class KubernetesUnavailableError extends SccError {
  override readonly name = 'KubernetesUnavailableError';
  /** What is missing, one line each. */
  readonly missing: readonly string[];
  constructor(missing: readonly string[]) {
    super(`cannot reach the Kubernetes API from here: ${missing.join('; ')} (is automountServiceAccountToken on for this pod?)`);
    this.missing = Object.freeze([...missing]);
  }
}

/** What kubernetesStoreFromServiceAccount is built with. */
export interface ServiceAccountStoreOptions extends StoreOptions {
  /** The Lease's name. */
  leaseName: string;
  /** The Lease's namespace; the service account's own namespace when absent. */
  namespace?: string;
  logger: Logger;
  /** Where KUBERNETES_SERVICE_HOST/PORT are read; `process.env` by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Folder holding `token`, `ca.crt` and `namespace`; SERVICE_ACCOUNT_DIR by default. */
  serviceAccountDir?: string;
}

/**
 * The Lease store for this pod; throws KubernetesUnavailableError naming everything missing. The
 * token is read from its file again before every request (kubelet rotates projected tokens).
 */
export function kubernetesStoreFromServiceAccount(options: ServiceAccountStoreOptions): KubernetesLeaseStore {
  const env = options.env ?? process.env;
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const missing: string[] = [];
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host) missing.push('KUBERNETES_SERVICE_HOST is not set');
  if (!port) missing.push('KUBERNETES_SERVICE_PORT is not set');
  const read = (file: string): Buffer | null => {
    try {
      return readFileSync(join(dir, file));
    } catch (error) {
      missing.push(`${join(dir, file)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return null;
    }
  };
  const tokenPath = join(dir, 'token');
  const token = read('token');
  if (token && token.toString('utf8').trim() === '') missing.push(`${tokenPath} is empty`);
  const ca = read('ca.crt');
  let namespace = options.namespace;
  if (namespace === undefined) {
    namespace = read('namespace')?.toString('utf8').trim();
    if (namespace === '') missing.push(`${join(dir, 'namespace')} is empty`);
  }
  if (missing.length > 0 || !host || !port || !ca || namespace === undefined) throw new KubernetesUnavailableError(missing);
  // An IPv6 service address needs brackets in a URL.
  const apiServer = `https://${hostPort(host, port)}`;
  return new KubernetesLeaseStore({
    self: options.self,
    leaseTtlMs: options.leaseTtlMs,
    leaseName: options.leaseName,
    namespace,
    apiServer,
    token: () => readFileSync(tokenPath, 'utf8').trim(),
    ca,
    logger: options.logger,
  });
}
