/**
 * A small client for one Kubernetes Lease (coordination.k8s.io/v1) over node's own http/https: read,
 * create and replace, each bounded by a timeout and answered with the Lease or a named error carrying
 * the API's `Status`. The request and response shapes relied on are recorded, with the documentation
 * they come from, in test/kubernetes/fixtures/lease-api.json.
 */
import http from 'node:http';
import https from 'node:https';
import { SccError, type SccErrorOptions } from '@scc-ts/shared';

/** The Lease's API group and version. */
export const LEASE_API_VERSION = 'coordination.k8s.io/v1';
/** The most a Lease response may weigh, bytes (annotations alone are capped at 256 KiB by the API). */
export const MAX_LEASE_RESPONSE_BYTES = 1024 * 1024;

/** `spec` of a Lease; fields this store does not use are kept as they came. */
export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  /** MicroTime: RFC 3339, six fractional digits, UTC. */
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
  [field: string]: unknown;
}

/** `metadata` of a Lease; fields this store does not use are kept as they came. */
export interface LeaseMetadata {
  name: string;
  namespace?: string;
  /** Opaque; changes on every write; a replace carrying an older one is refused (409 Conflict). */
  resourceVersion?: string;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** A coordination.k8s.io/v1 Lease as the API serves it. */
export interface Lease {
  apiVersion: typeof LEASE_API_VERSION;
  kind: 'Lease';
  metadata: LeaseMetadata;
  spec: LeaseSpec;
}

/** The API answered with a failure `Status` (401, 403, 404, 409, 422, 5xx…). */
export class KubernetesApiError extends SccError {
  override readonly name = 'KubernetesApiError';
  /** The HTTP status. */
  readonly code: number;
  /** The Status `reason` (`Conflict`, `AlreadyExists`, `NotFound`, `Unauthorized`, `Forbidden`…), or `Unknown`. */
  readonly reason: string;
  constructor(message: string, code: number, reason: string, options?: SccErrorOptions) {
    super(message, options);
    this.code = code;
    this.reason = reason;
  }
}

/** No usable answer: the connection failed, TLS was refused, it timed out, or the body is not a Lease. */
export class KubernetesRequestError extends SccError {
  override readonly name = 'KubernetesRequestError';
}

/** True for the API's 409 (Conflict on a stale resourceVersion, AlreadyExists on create). */
export function isConflict(error: unknown): error is KubernetesApiError {
  return error instanceof KubernetesApiError && error.code === 409;
}

/** How to reach one Lease. */
export interface LeaseClientOptions {
  /** `https://host:port` of the API server (`http:` is accepted, for tests). */
  apiServer: string;
  namespace: string;
  leaseName: string;
  /** The bearer token, called on every request (projected service account tokens rotate). */
  token: () => string;
  /** CA bundle the API server's certificate must chain to; the system roots when absent. */
  ca?: Buffer;
  /** Each request's bound, ms. */
  timeoutMs: number;
}

/** Reads, creates and replaces one Lease. `close()` aborts whatever is in flight. */
export class LeaseClient {
  private readonly base: URL;
  private readonly itemPath: string;
  private readonly collectionPath: string;
  private readonly agent: http.Agent;
  private readonly inFlight = new Set<http.ClientRequest>();

  constructor(private readonly options: LeaseClientOptions) {
    this.base = new URL(options.apiServer);
    this.collectionPath = `/apis/${LEASE_API_VERSION}/namespaces/${encodeURIComponent(options.namespace)}/leases`;
    this.itemPath = `${this.collectionPath}/${encodeURIComponent(options.leaseName)}`;
    // Our own agent: keep-alive between the frequent renewals, and destroyed on close.
    this.agent = this.base.protocol === 'https:' ? new https.Agent({ keepAlive: true, ca: options.ca }) : new http.Agent({ keepAlive: true });
  }

  /** The Lease, or null when it does not exist (404). */
  async get(): Promise<Lease | null> {
    const answer = await this.request('GET', this.itemPath);
    if (answer.status === 404) return null;
    if (answer.status !== 200) throw apiError('GET', this.itemPath, answer);
    return parseLease(answer.body);
  }

  /** Creates the Lease; 409 AlreadyExists when another replica created it first. */
  async create(lease: Lease): Promise<Lease> {
    const answer = await this.request('POST', this.collectionPath, lease);
    if (answer.status < 200 || answer.status > 202) throw apiError('POST', this.collectionPath, answer);
    return parseLease(answer.body);
  }

  /** Replaces the Lease; 409 Conflict when its resourceVersion is not the stored one. */
  async replace(lease: Lease): Promise<Lease> {
    const answer = await this.request('PUT', this.itemPath, lease);
    if (answer.status !== 200 && answer.status !== 201) throw apiError('PUT', this.itemPath, answer);
    return parseLease(answer.body);
  }

  /** Aborts every request in flight and closes the kept-alive connections. */
  close(): void {
    for (const request of this.inFlight) request.destroy(new KubernetesRequestError('closed'));
    this.inFlight.clear();
    this.agent.destroy();
  }

  private request(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown; text: string }> {
    return new Promise((resolve, reject) => {
      let token: string;
      try {
        token = this.options.token();
      } catch (error) {
        reject(new KubernetesRequestError(`cannot read the API token: ${(error as Error).message}`, { cause: error }));
        return;
      }
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const url = new URL(path, this.base);
      const headers: http.OutgoingHttpHeaders = { Accept: 'application/json', Authorization: `Bearer ${token}` };
      if (payload) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': payload.length });
      const send = url.protocol === 'https:' ? https.request : http.request;
      const request = send(url, { method, headers, agent: this.agent });
      this.inFlight.add(request);
      const timer = setTimeout(() => request.destroy(new KubernetesRequestError(`${method} ${path}: no answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.inFlight.delete(request);
      };
      request.on('error', (error) => {
        done();
        reject(error instanceof KubernetesRequestError ? error : new KubernetesRequestError(`${method} ${path}: ${error.message}`, { cause: error }));
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_LEASE_RESPONSE_BYTES) request.destroy(new KubernetesRequestError(`${method} ${path}: answer larger than ${MAX_LEASE_RESPONSE_BYTES} bytes`));
          else chunks.push(chunk);
        });
        response.on('end', () => {
          done();
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: response.statusCode ?? 0, body: parsed, text });
        });
        response.on('error', () => undefined); // the request's error listener reports it
      });
      request.end(payload);
    });
  }
}

/** The error for a failure answer, with the Status' reason and message when the body is one. */
function apiError(method: string, path: string, answer: { status: number; body: unknown; text: string }): KubernetesApiError | KubernetesRequestError {
  const status = answer.body as { kind?: unknown; reason?: unknown; message?: unknown } | undefined;
  if (answer.status >= 200 && answer.status < 300) return new KubernetesRequestError(`${method} ${path}: unexpected ${answer.status}`);
  const isStatus = status !== null && typeof status === 'object' && status.kind === 'Status';
  const reason = isStatus && typeof status.reason === 'string' && status.reason !== '' ? status.reason : 'Unknown';
  const message = isStatus && typeof status.message === 'string' ? status.message : answer.text.slice(0, 200);
  return new KubernetesApiError(`${method} ${path}: ${answer.status} ${reason}: ${message}`, answer.status, reason);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const optional = (v: unknown, check: (x: unknown) => boolean): boolean => v === undefined || v === null || check(v);
const isInt32 = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2 ** 31 - 1;

/** Checks that an answer is a Lease with the fields this store reads typed as documented; throws otherwise. */
export function parseLease(value: unknown): Lease {
  const bad = (what: string): never => {
    throw new KubernetesRequestError(`the API answered with something that is not a Lease: ${what}`);
  };
  if (!isObject(value)) return bad('not an object');
  if (value['kind'] !== 'Lease' || value['apiVersion'] !== LEASE_API_VERSION) bad(`kind ${JSON.stringify(value['kind'])}, apiVersion ${JSON.stringify(value['apiVersion'])}`);
  const metadata = value['metadata'];
  if (!isObject(metadata) || typeof metadata['name'] !== 'string') return bad('metadata.name missing');
  if (typeof metadata['resourceVersion'] !== 'string' || metadata['resourceVersion'] === '') bad('metadata.resourceVersion missing');
  const annotations = metadata['annotations'];
  if (!optional(annotations, (a) => isObject(a) && Object.values(a).every((s) => typeof s === 'string'))) bad('metadata.annotations not a map of strings');
  const spec = value['spec'] ?? {};
  if (!isObject(spec)) return bad('spec not an object');
  if (!optional(spec['holderIdentity'], (h) => typeof h === 'string')) bad('spec.holderIdentity not a string');
  for (const field of ['leaseDurationSeconds', 'leaseTransitions']) if (!optional(spec[field], isInt32)) bad(`spec.${field} not an int32 ≥ 0`);
  return { ...value, spec } as unknown as Lease;
}

/** `date` as a Kubernetes MicroTime: RFC 3339, UTC, exactly six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/Z$/, '000Z');
}
