/**
 * A contract server for the Kubernetes Lease API: exactly the documented behaviour the Lease store
 * relies on (test/kubernetes/fixtures/lease-api.json), for the Leases of one namespace, over real
 * HTTP or HTTPS on port 0. GET 200 / 404 NotFound; POST 201 / 409 AlreadyExists; PUT 200 / 404 /
 * 409 Conflict on a stale resourceVersion; the resourceVersion changes on every write; a bearer token
 * it does not accept gets 401 Unauthorized. Every write is checked against the Lease schema
 * (kubernetes-models) and MicroTime's exact format, and refused with 422 Invalid otherwise.
 *
 * Not an API server: no watch, list, patch, RBAC, admission or field management.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Lease as LeaseModel } from 'kubernetes-models/coordination.k8s.io/v1/Lease';

type StatusTemplate = { message: string; details: { name: string } };
/** The documented shapes (fixture) this server answers with. */
const fixture = JSON.parse(readFileSync(new URL('../kubernetes/fixtures/lease-api.json', import.meta.url), 'utf8')) as {
  status: { unauthorized: object; notFound: StatusTemplate; alreadyExists: StatusTemplate; conflict: StatusTemplate };
};

/** A Lease as stored (plain JSON). */
export type StoredLease = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: { holderIdentity?: string | null; leaseDurationSeconds?: number; leaseTransitions?: number; renewTime?: string; acquireTime?: string; [k: string]: unknown };
};

/** One request as the server answered it. */
export interface RequestRecord {
  method: string;
  path: string;
  token: string;
  status: number;
  reason?: string;
  /** performance.now() when answered. */
  at: number;
  /** The resourceVersion a PUT carried. */
  sentVersion?: string;
  /** spec.holderIdentity of the Lease a successful write stored. */
  holder?: string;
}

export interface ContractServerOptions {
  namespace?: string;
  /** Bearer tokens accepted (more with `allow`, fewer with `refuse`). */
  tokens: string[];
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

const PREFIX = '/apis/coordination.k8s.io/v1/namespaces/';
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
/** The API's cap on all annotations of one object together, bytes. */
const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** The server; `close()` stops it and ends every connection. */
export class KubernetesContractServer {
  readonly namespace: string;
  readonly log: RequestRecord[] = [];
  private readonly tokens: Set<string>;
  private readonly leases = new Map<string, StoredLease>();
  private version = 100;
  private uid = 0;
  private gate: { method: string; count: number; held: Array<() => void>; timer: NodeJS.Timeout | null } | null = null;

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    options: ContractServerOptions,
  ) {
    this.namespace = options.namespace ?? 'default';
    this.tokens = new Set(options.tokens);
  }

  static async start(options: ContractServerOptions): Promise<KubernetesContractServer> {
    const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }) : http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const api = new KubernetesContractServer(server, `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`, options);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => api.onRequest(req, res));
    return api;
  }

  /** Accepts `token` from now on. */
  allow(token: string): void {
    this.tokens.add(token);
  }

  /** Answers `token` with 401 from now on. */
  refuse(token: string): void {
    this.tokens.delete(token);
  }

  /** A copy of the stored Lease. */
  lease(name: string): StoredLease | undefined {
    const lease = this.leases.get(name);
    return lease ? structuredClone(lease) : undefined;
  }

  /** Stores `lease` as given, unchecked (a hostile or foreign writer), with a new resourceVersion. */
  seed(lease: StoredLease): StoredLease {
    const stored = structuredClone(lease);
    stored.metadata.namespace = this.namespace;
    stored.metadata.resourceVersion = String(++this.version);
    this.leases.set(stored.metadata.name, stored);
    return structuredClone(stored);
  }

  /**
   * Holds the next requests of `method` until `count` of them have arrived (or `maxWaitMs` passed),
   * then answers them in arrival order: two replicas' acquisitions then race on the same resourceVersion.
   */
  holdUntil(method: string, count: number, maxWaitMs: number): void {
    const gate = { method, count, held: [] as Array<() => void>, timer: null as NodeJS.Timeout | null };
    gate.timer = setTimeout(() => this.openGate(gate), maxWaitMs);
    this.gate = gate;
  }

  /** Requests answered so far that match. */
  requests(filter: Partial<Pick<RequestRecord, 'method' | 'status' | 'token' | 'reason'>>): RequestRecord[] {
    return this.log.filter((r) => Object.entries(filter).every(([k, v]) => r[k as keyof RequestRecord] === v));
  }

  async close(): Promise<void> {
    if (this.gate) this.openGate(this.gate);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private openGate(gate: NonNullable<KubernetesContractServer['gate']>): void {
    if (gate.timer) clearTimeout(gate.timer);
    if (this.gate === gate) this.gate = null;
    for (const answer of gate.held.splice(0)) answer();
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (): void => this.answer(req, res, Buffer.concat(chunks).toString('utf8'));
      const gate = this.gate;
      if (gate && req.method === gate.method) {
        gate.held.push(answer);
        if (gate.held.length >= gate.count) this.openGate(gate);
        return;
      }
      answer();
    });
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, text: string): void {
    const method = req.method ?? '';
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const record: RequestRecord = { method, path, token, status: 0, at: 0 };
    const send = (status: number, body: unknown): void => {
      record.status = status;
      record.at = performance.now();
      const b = body as { kind?: string; reason?: string; spec?: { holderIdentity?: string } };
      if (b.kind === 'Status') record.reason = b.reason;
      else if (method !== 'GET') record.holder = b.spec?.holderIdentity ?? '';
      this.log.push(record);
      const payload = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
      res.end(payload);
    };
    if (!this.tokens.has(token)) return send(401, fixture.status.unauthorized);
    if (!path.startsWith(PREFIX)) return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const [namespace, resource, name, ...rest] = path.slice(PREFIX.length).split('/').map(decodeURIComponent);
    if (namespace !== this.namespace || resource !== 'leases' || rest.length > 0) return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    let body: StoredLease | undefined;
    if (method === 'POST' || method === 'PUT') {
      try {
        body = JSON.parse(text) as StoredLease;
      } catch {
        return send(400, status(400, 'BadRequest', 'the body is not JSON'));
      }
      record.sentVersion = body?.metadata?.resourceVersion;
      const invalid = invalidLease(body, this.namespace);
      if (invalid) return send(422, status(422, 'Invalid', `Lease.coordination.k8s.io "${String(body?.metadata?.name)}" is invalid: ${invalid}`));
    }
    if (name === undefined || name === '') {
      if (method !== 'POST') return send(405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
      const lease = body!;
      if (lease.metadata.resourceVersion) return send(400, status(400, 'BadRequest', 'resourceVersion should not be set on objects to be created'));
      if (this.leases.has(lease.metadata.name)) return send(409, forName(fixture.status.alreadyExists, lease.metadata.name));
      return send(201, this.store(lease, undefined));
    }
    const stored = this.leases.get(name);
    if (method === 'GET') return stored ? send(200, stored) : send(404, forName(fixture.status.notFound, name));
    if (method !== 'PUT') return send(405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
    const lease = body!;
    if (lease.metadata.name !== name) return send(400, status(400, 'BadRequest', 'the name of the object does not match the name on the URL'));
    if (!stored) return send(404, forName(fixture.status.notFound, name));
    // Leases allow an unconditional update (no resourceVersion); a stale one is a conflict.
    if (lease.metadata.resourceVersion !== undefined && lease.metadata.resourceVersion !== stored.metadata.resourceVersion) {
      return send(409, forName(fixture.status.conflict, name));
    }
    return send(200, this.store(lease, stored));
  }

  private store(lease: StoredLease, previous: StoredLease | undefined): StoredLease {
    const stored = structuredClone(lease);
    stored.metadata.namespace = this.namespace;
    stored.metadata.resourceVersion = String(++this.version);
    stored.metadata['uid'] = previous?.metadata['uid'] ?? `00000000-0000-4000-8000-${String(++this.uid).padStart(12, '0')}`;
    stored.metadata['creationTimestamp'] = previous?.metadata['creationTimestamp'] ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    stored.spec ??= {};
    this.leases.set(stored.metadata.name, stored);
    return structuredClone(stored);
  }
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** A fixture Status for another Lease name. */
function forName(template: { message: string; details: { name: string } }, name: string): unknown {
  return { ...template, message: template.message.replace('"scc-state"', JSON.stringify(name)), details: { ...template.details, name } };
}

/** Why the API would refuse this Lease (422), or null. */
function invalidLease(lease: StoredLease | undefined, namespace: string): string | null {
  if (!lease || typeof lease !== 'object') return 'not an object';
  if (lease.apiVersion !== 'coordination.k8s.io/v1' || lease.kind !== 'Lease') return `apiVersion/kind ${String(lease.apiVersion)}/${String(lease.kind)}`;
  if (typeof lease.metadata?.name !== 'string' || lease.metadata.name === '') return 'metadata.name: Required value';
  if (lease.metadata.namespace !== undefined && lease.metadata.namespace !== namespace) return 'metadata.namespace: does not match the namespace on the URL';
  try {
    new LeaseModel(structuredClone(lease) as never).validate();
  } catch (error) {
    return (error as Error).message;
  }
  for (const field of ['acquireTime', 'renewTime'] as const) {
    const value = lease.spec?.[field];
    if (value !== undefined && value !== null && !MICRO_TIME.test(value)) return `spec.${field}: ${JSON.stringify(value)} is not a MicroTime`;
  }
  const annotations = lease.metadata.annotations ?? {};
  const size = Object.entries(annotations).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)), 0);
  if (size > MAX_ANNOTATIONS_BYTES) return `metadata.annotations: Too long: must have at most ${MAX_ANNOTATIONS_BYTES} bytes`;
  return null;
}
