/**
 * The Kubernetes Lease store against the Lease API's documented contract (test/helpers/kubernetes-api.ts,
 * fixtures/lease-api.json), over real sockets: election, following, resignation, fencing on a lost API,
 * fenced saves, resourceVersion races, hostile Lease contents, HTTPS with the service account's CA, and
 * token rotation. No live cluster is involved.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, createLogger } from '@scc-ts/shared';
import { KubernetesLeaseStore } from '../../packages/scc-state/src/leadership/kubernetes.js';
import { LEASE_ADDRESS_ANNOTATION, LEASE_MEMBERSHIP_ANNOTATION } from '../../packages/scc-state/src/leadership/kubernetes-options.js';
import { kubernetesStoreFromServiceAccount, KubernetesUnavailableError } from '../../packages/scc-state/src/leadership/kubernetes-service-account.js';
import { NotLeaderError, type LeaderInfo, type LeaderStore, type MembershipRecord } from '../../packages/scc-state/src/leadership/store.js';
import { KubernetesContractServer, type StoredLease } from '../helpers/kubernetes-api.js';

/** Short TTL so tests run in seconds: leaseDurationSeconds = ceil(1.5) = 2, tries every 500 ms. */
const TTL_MS = 1500;
const DURATION_MS = 2000;
const LEASE = 'scc-state';

type Event =
  | { kind: 'elected'; at: number; term: number; record: MembershipRecord | null }
  | { kind: 'deposed'; at: number; reason: string }
  | { kind: 'leader'; at: number; leader: LeaderInfo | null }
  | { kind: 'store'; at: number; up: boolean };

interface Replica {
  id: string;
  address: string;
  token: string;
  store: LeaderStore;
  events: Event[];
  logs: Array<Record<string, any>>;
  elected(): Extract<Event, { kind: 'elected' }>[];
  deposed(): Extract<Event, { kind: 'deposed' }>[];
  leader(): LeaderInfo | null | undefined;
}

const servers: KubernetesContractServer[] = [];
const stores: LeaderStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function contractServer(options: Partial<Parameters<typeof KubernetesContractServer.start>[0]> = {}): Promise<KubernetesContractServer> {
  const api = await KubernetesContractServer.start({ tokens: [], ...options });
  servers.push(api);
  return api;
}

/** A logger whose JSON lines land in `lines`. */
function capturingLogger(lines: Array<Record<string, any>>) {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, any>);
      callback();
    },
  });
  return createLogger({ name: 'lease-test', level: 4, format: 'json', destination });
}

function track(id: string, address: string, token: string, make: (logger: ReturnType<typeof capturingLogger>) => LeaderStore, start = true): Replica {
  const events: Event[] = [];
  const logs: Array<Record<string, any>> = [];
  const store = make(capturingLogger(logs));
  stores.push(store);
  const replica: Replica = {
    id,
    address,
    token,
    store,
    events,
    logs,
    elected: () => events.filter((e): e is Extract<Event, { kind: 'elected' }> => e.kind === 'elected'),
    deposed: () => events.filter((e): e is Extract<Event, { kind: 'deposed' }> => e.kind === 'deposed'),
    leader: () => events.filter((e): e is Extract<Event, { kind: 'leader' }> => e.kind === 'leader').at(-1)?.leader,
  };
  if (start) {
    store.start({
      elected: (term, record) => events.push({ kind: 'elected', at: performance.now(), term, record }),
      deposed: (reason) => events.push({ kind: 'deposed', at: performance.now(), reason }),
      leaderChanged: (leader) => events.push({ kind: 'leader', at: performance.now(), leader }),
      storeStatus: (up) => events.push({ kind: 'store', at: performance.now(), up }),
    });
  }
  return replica;
}

/** A replica on `api` with its own token (accepted). */
function replica(api: KubernetesContractServer, id: string, extra: { ca?: Buffer } = {}): Replica {
  const token = `token-${id}`;
  api.allow(token);
  const address = `10.0.0.${id.length}:7777`;
  return track(id, address, token, (logger) => new KubernetesLeaseStore({ self: { id, address }, leaseTtlMs: TTL_MS, leaseName: LEASE, namespace: api.namespace, apiServer: api.url, token: () => token, logger, ...extra }));
}

/** Polls `probe` every 10 ms until it returns something truthy; fails after `timeoutMs`. */
async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The Lease the manifests create: no spec, nobody holds it. */
const EMPTY_LEASE: StoredLease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LEASE, labels: { 'app.kubernetes.io/name': 'scc-state' } } };

function record(term: number, brokers: string[]): MembershipRecord {
  return { version: 1, term, brokers, workers: ['ws://10.0.1.1:8000'], withdrawn: [], lastTime: 1_700_000_000_000, handover: null, savedAt: 1_700_000_000_123 };
}

describe('the contract server', () => {
  it('answers as the fixture documents: 401, 404 NotFound, 201, 409 AlreadyExists, 200, 409 Conflict, 422', async () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/lease-api.json', import.meta.url), 'utf8')) as { status: Record<string, unknown> };
    const api = await contractServer({ tokens: ['t'] });
    const item = `${api.url}/apis/coordination.k8s.io/v1/namespaces/default/leases/${LEASE}`;
    const call = async (method: string, url: string, body?: unknown, token = 't') => {
      const response = await fetch(url, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    };
    expect(await call('GET', item, undefined, 'wrong')).toEqual({ status: 401, body: fixture.status['unauthorized'] });
    expect(await call('GET', item)).toEqual({ status: 404, body: fixture.status['notFound'] });
    const created = await call('POST', `${api.url}/apis/coordination.k8s.io/v1/namespaces/default/leases`, EMPTY_LEASE);
    expect(created.status).toBe(201);
    expect(created.body['metadata']['resourceVersion']).toMatch(/^\d+$/);
    expect(await call('POST', `${api.url}/apis/coordination.k8s.io/v1/namespaces/default/leases`, EMPTY_LEASE)).toEqual({ status: 409, body: fixture.status['alreadyExists'] });
    const read = await call('GET', item);
    expect(read).toEqual({ status: 200, body: created.body });
    const renewed = await call('PUT', item, { ...read.body, spec: { holderIdentity: 'x', renewTime: '2026-12-02T04:35:27.123456Z' } });
    expect(renewed.status).toBe(200);
    expect(renewed.body['metadata']['resourceVersion']).not.toBe(read.body['metadata']['resourceVersion']);
    expect(await call('PUT', item, read.body)).toEqual({ status: 409, body: fixture.status['conflict'] });
    const millis = await call('PUT', item, { ...renewed.body, spec: { renewTime: '2026-12-02T04:35:27.123Z' } });
    expect([millis.status, millis.body['reason']]).toEqual([422, 'Invalid']);
  });
});

describe('KubernetesLeaseStore against the Lease API contract', () => {
  it('two replicas on one Lease: exactly one leads, and the other follows it (id, address, term)', async () => {
    const api = await contractServer();
    api.seed(EMPTY_LEASE);
    const [a, b] = [replica(api, 'scc-state-a'), replica(api, 'scc-state-bb')];
    const leader = await waitFor('a leader', () => [a, b].find((r) => r.elected().length > 0), 3000);
    const follower = leader === a ? b : a;
    // Over a whole lease duration: renewals keep it, nobody else takes it.
    await sleep(DURATION_MS + 500);
    expect(leader.elected().map((e) => e.term)).toEqual([1]);
    expect(leader.elected()[0]!.record).toBeNull();
    expect(follower.elected()).toEqual([]);
    expect(leader.deposed()).toEqual([]);
    expect(follower.leader()).toEqual({ id: leader.id, address: leader.address, term: 1 });
    expect(leader.leader()).toEqual({ id: leader.id, address: leader.address, term: 1 });
    const lease = api.lease(LEASE)!;
    expect(lease.spec).toMatchObject({ holderIdentity: leader.id, leaseDurationSeconds: 2, leaseTransitions: 1 });
    expect(lease.metadata.annotations?.[LEASE_ADDRESS_ANNOTATION]).toBe(leader.address);
    expect(lease.metadata['labels']).toEqual(EMPTY_LEASE.metadata['labels']); // a PUT keeps what others wrote
    // Renewed every ttl/3, each a PUT fenced by the resourceVersion it read.
    const puts = api.requests({ method: 'PUT', token: leader.token, status: 200 });
    expect(puts.length).toBeGreaterThanOrEqual(4);
    expect(api.requests({ method: 'PUT' }).every((r) => r.sentVersion !== undefined)).toBe(true);
    expect([a, b].every((r) => r.events.some((e) => e.kind === 'store' && e.up))).toBe(true);
  });

  it('creates a missing Lease with POST, and of two creators exactly one wins (409 AlreadyExists)', async () => {
    const api = await contractServer();
    api.holdUntil('POST', 2, 300);
    const [a, b] = [replica(api, 'scc-state-a'), replica(api, 'scc-state-bb')];
    const leader = await waitFor('a leader', () => [a, b].find((r) => r.elected().length > 0), 3000);
    await sleep(700);
    expect(api.requests({ method: 'POST', status: 201 })).toHaveLength(1);
    expect(api.requests({ method: 'POST', status: 409, reason: 'AlreadyExists' })).toHaveLength(1);
    expect([...a.elected(), ...b.elected()].map((e) => e.term)).toEqual([1]);
    const follower = leader === a ? b : a;
    expect(follower.leader()).toEqual({ id: leader.id, address: leader.address, term: 1 });
  });

  it('the leader closes: it resigns, and the other is elected within a TTL under a greater term', async () => {
    const api = await contractServer();
    api.seed(EMPTY_LEASE);
    const a = replica(api, 'scc-state-a');
    await waitFor('a elected', () => a.elected()[0], 3000);
    const b = replica(api, 'scc-state-bb');
    await waitFor('b following a', () => b.leader()?.id === a.id, 3000);
    const closedAt = performance.now();
    await a.store.close();
    await a.store.close(); // twice is safe
    expect(a.deposed().map((e) => e.reason)).toEqual(['closed']);
    const release = api.requests({ method: 'PUT', token: a.token, status: 200 }).at(-1)!;
    expect(release.holder).toBe('');
    expect(a.deposed()[0]!.at).toBeLessThan(release.at);
    const elected = await waitFor('b elected', () => b.elected()[0], 3000);
    expect(elected.at - closedAt).toBeLessThan(TTL_MS);
    expect(elected.term).toBeGreaterThan(a.elected()[0]!.term);
    expect(api.lease(LEASE)!.spec).toMatchObject({ holderIdentity: b.id, leaseTransitions: 2 });
    // Closed means stopped: no request after close returned.
    const after = api.log.filter((r) => r.token === a.token && r.at > release.at);
    await sleep(700);
    expect(api.log.filter((r) => r.token === a.token && r.at > release.at)).toEqual(after);
    expect(after).toEqual([]);
  });

  it('a leader cut off from the API is deposed before anyone else is elected, which happens only once the lease expired', async () => {
    const api = await contractServer();
    api.seed(EMPTY_LEASE);
    const a = replica(api, 'scc-state-a');
    await waitFor('a elected', () => a.elected()[0], 3000);
    const b = replica(api, 'scc-state-bb');
    await waitFor('b following a', () => b.leader()?.id === a.id, 3000);
    api.refuse(a.token);
    const elected = await waitFor('b elected', () => b.elected()[0], DURATION_MS + 3000);
    const lastWrite = api.requests({ method: 'PUT', token: a.token, status: 200 }).at(-1)!;
    const deposed = a.deposed()[0]!;
    expect(deposed).toBeDefined();
    expect(deposed.reason).toMatch(/no renewal succeeded/);
    // Fencing: a knew before the lease could expire anywhere, and before b was elected.
    expect(deposed.at).toBeLessThan(lastWrite.at + DURATION_MS);
    expect(deposed.at).toBeLessThan(elected.at);
    // b waited out the lease, on its own observation of a's last renewal.
    expect(elected.at - lastWrite.at).toBeGreaterThanOrEqual(DURATION_MS);
    expect(elected.term).toBe(a.elected()[0]!.term + 1);
    // The failure is reported once and logged once, though a kept trying.
    await sleep(600);
    expect(api.requests({ token: a.token, status: 401 }).length).toBeGreaterThanOrEqual(4);
    expect(a.events.filter((e) => e.kind === 'store' && !e.up)).toHaveLength(1);
    expect(a.logs.filter((l) => /not usable/.test(String(l['msg'])))).toHaveLength(1);
    expect(a.logs.find((l) => /not usable/.test(String(l['msg'])))?.['err']?.['reason']).toBe('Unauthorized');
    expect(a.leader()).toBeNull();
  });

  it('save is fenced: a deposed leader cannot write, and the next leader starts from the last record saved', async () => {
    const api = await contractServer();
    api.seed(EMPTY_LEASE);
    const a = replica(api, 'scc-state-a');
    const { term } = await waitFor('a elected', () => a.elected()[0], 3000);
    const saved = record(term, ['ws://10.0.2.1:8888', 'ws://10.0.2.2:8888']);
    await a.store.save(saved);
    const annotation = () => api.lease(LEASE)!.metadata.annotations?.[LEASE_MEMBERSHIP_ANNOTATION];
    expect(JSON.parse(annotation()!)).toEqual(saved);
    await expect(a.store.save(record(term + 1, ['ws://10.0.2.9:8888']))).rejects.toBeInstanceOf(NotLeaderError);
    expect(JSON.parse(annotation()!)).toEqual(saved);
    api.refuse(a.token);
    await waitFor('a deposed', () => a.deposed()[0], DURATION_MS + 1000);
    const before = api.lease(LEASE)!;
    const refused = a.store.save(record(term, ['ws://10.0.2.3:8888']));
    await expect(refused).rejects.toBeInstanceOf(NotLeaderError);
    await expect(refused).rejects.toHaveProperty('name', 'NotLeaderError');
    expect(api.lease(LEASE)).toEqual(before);
    const b = replica(api, 'scc-state-bb');
    const elected = await waitFor('b elected', () => b.elected()[0], DURATION_MS + 3000);
    expect(elected.record).toEqual(saved);
    expect(elected.term).toBeGreaterThan(term);
    // b saves under its own term, and only under it.
    await b.store.save({ ...saved, term: elected.term, brokers: ['ws://10.0.2.4:8888'] });
    expect(JSON.parse(annotation()!).brokers).toEqual(['ws://10.0.2.4:8888']);
    await expect(b.store.save({ ...saved, term })).rejects.toBeInstanceOf(NotLeaderError);
  });

  it('a record too large for an annotation is refused (422): save rejects with the API error, nothing is written, the leader stays', async () => {
    const api = await contractServer();
    api.seed(EMPTY_LEASE);
    const a = replica(api, 'scc-state-a');
    const { term } = await waitFor('a elected', () => a.elected()[0], 3000);
    const before = api.lease(LEASE)!.metadata.annotations?.[LEASE_MEMBERSHIP_ANNOTATION];
    const huge = record(term, Array.from({ length: 9000 }, (_, i) => `ws://10.0.${i >> 8}.${i & 255}:8888/some/long/path`));
    await expect(a.store.save(huge)).rejects.toMatchObject({ name: 'KubernetesApiError', code: 422, reason: 'Invalid' });
    expect(api.lease(LEASE)!.metadata.annotations?.[LEASE_MEMBERSHIP_ANNOTATION]).toBe(before);
    await sleep(700);
    expect(a.deposed()).toEqual([]);
    expect(a.events.filter((e) => e.kind === 'store' && !e.up)).toEqual([]);
    expect(a.logs.some((l) => /refused the request/.test(String(l['msg'])))).toBe(true);
  });

  it('a stale resourceVersion loses: of two replicas taking a released lease at once, exactly one wins (409 Conflict)', async () => {
    const api = await contractServer();
    // As a previous leader's close() leaves it: no holder, its transitions counted.
    api.seed({ ...EMPTY_LEASE, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 4 } });
    // Both first reads are answered together (under the requests' timeout): both see the same
    // resourceVersion, and both try to take the lease with it.
    api.holdUntil('GET', 2, 300);
    const [a, b] = [replica(api, 'scc-state-a'), replica(api, 'scc-state-bb')];
    const leader = await waitFor('a leader', () => [a, b].find((r) => r.elected().length > 0), 3000);
    await sleep(1000);
    const [first, second] = api.requests({ method: 'PUT' });
    expect(first!.sentVersion).toBe(second!.sentVersion);
    expect([first!.status, second!.status]).toEqual([200, 409]);
    expect(second!.reason).toBe('Conflict');
    expect([...a.elected(), ...b.elected()].map((e) => e.term)).toEqual([5]);
    const follower = leader === a ? b : a;
    expect(follower.deposed()).toEqual([]);
    expect(follower.leader()).toEqual({ id: leader.id, address: leader.address, term: 5 });
  });

  it('another writer changing the Lease but not its holder (kubectl annotate) costs no term; taking the holder deposes', async () => {
    const api = await contractServer();
    api.seed(EMPTY_LEASE);
    const a = replica(api, 'scc-state-a');
    const { term } = await waitFor('a elected', () => a.elected()[0], 3000);
    const current = api.lease(LEASE)!;
    api.seed({ ...current, metadata: { ...current.metadata, annotations: { ...current.metadata.annotations, 'example.com/note': 'hello' } } });
    await waitFor('a 409, then a renewal on the new version', () => {
      const puts = api.requests({ method: 'PUT', token: a.token });
      const conflict = puts.findIndex((r) => r.status === 409);
      return conflict >= 0 && puts.slice(conflict + 1).some((r) => r.status === 200);
    }, 2000);
    expect(a.deposed()).toEqual([]);
    expect(api.lease(LEASE)!.spec).toMatchObject({ holderIdentity: a.id, leaseTransitions: term });
    expect(api.lease(LEASE)!.metadata.annotations?.['example.com/note']).toBe('hello');
    // A writer that takes the holder: a learns at its next renewal, and does not take it back before it expires.
    const now = api.lease(LEASE)!;
    api.seed({ ...now, spec: { ...now.spec, holderIdentity: 'intruder', leaseTransitions: term + 1 } });
    const deposed = await waitFor('a deposed', () => a.deposed()[0], 2000);
    expect(deposed.reason).toMatch(/409 Conflict/);
    await sleep(1000);
    expect(a.elected()).toHaveLength(1);
    expect(a.leader()).toMatchObject({ id: 'intruder', term: term + 1 });
  });

  it('a Lease naming this replica (a previous run in the same pod) is waited out like any other holder', async () => {
    const api = await contractServer();
    api.seed({ ...EMPTY_LEASE, metadata: { name: LEASE, annotations: { [LEASE_ADDRESS_ANNOTATION]: '10.0.0.11:7777' } }, spec: { holderIdentity: 'scc-state-a', leaseDurationSeconds: 2, leaseTransitions: 3 } });
    const started = performance.now();
    const a = replica(api, 'scc-state-a');
    const elected = await waitFor('a elected', () => a.elected()[0], DURATION_MS + 2000);
    expect(elected.at - started).toBeGreaterThanOrEqual(DURATION_MS);
    expect(elected.term).toBe(4);
  });

  it.each([
    ['truncated JSON', '{"version":1,"term":'],
    ['an unknown version', '{"version":2,"term":1,"brokers":[],"workers":[],"lastTime":0,"handover":null}'],
    ['brokers not strings', '{"version":1,"term":1,"brokers":[1,{"a":2}],"workers":[],"lastTime":0,"handover":null}'],
    ['not an object', '"\\u0000"'],
  ])('a garbled membership annotation (%s) elects with no record and a logged MembershipRecordError', async (_, text) => {
    const api = await contractServer();
    api.seed({ ...EMPTY_LEASE, metadata: { name: LEASE, annotations: { [LEASE_MEMBERSHIP_ANNOTATION]: text } } });
    const a = replica(api, 'scc-state-a');
    const elected = await waitFor('a elected', () => a.elected()[0], 3000);
    expect(elected.record).toBeNull();
    expect(a.logs.some((l) => l['err']?.['type'] === 'MembershipRecordError')).toBe(true);
    // Still a working leader: it renews and saves.
    await a.store.save(record(elected.term, ['ws://10.0.2.1:8888']));
    await sleep(700);
    expect(a.deposed()).toEqual([]);
  });

  it('a Lease with hostile fields is not acted on, and does not crash the store', async () => {
    const api = await contractServer();
    api.seed({ ...EMPTY_LEASE, spec: { holderIdentity: 'ghost', leaseDurationSeconds: 2, leaseTransitions: -7 } });
    const a = replica(api, 'scc-state-a');
    await waitFor('store down', () => a.events.find((e) => e.kind === 'store' && !e.up), 2000);
    await sleep(1200);
    expect(a.elected()).toEqual([]);
    expect(a.logs.filter((l) => /not usable/.test(String(l['msg'])))).toHaveLength(1);
    expect(a.logs.find((l) => /not usable/.test(String(l['msg'])))?.['err']?.['type']).toBe('KubernetesRequestError');
    // Once the Lease is sane again, the store carries on.
    api.seed(EMPTY_LEASE);
    await waitFor('a elected', () => a.elected()[0], 3000);
  });

  it('refuses unusable options with a ConfigError naming each problem', () => {
    const logger = capturingLogger([]);
    let error: unknown;
    try {
      new KubernetesLeaseStore({ self: { id: '', address: 'x:1' }, leaseTtlMs: 500, leaseName: 'Bad_Name', namespace: '', apiServer: 'ftp://x', token: () => 't', logger });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(5);
    expect((error as ConfigError).message).toMatch(/leaseTtlMs 500.*leaseName "Bad_Name".*namespace "".*apiServer "ftp:\/\/x".*self\.id/);
  });
});

describe('kubernetesStoreFromServiceAccount', () => {
  let dir: string;
  let tls: { key: Buffer; cert: Buffer };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'scc-lease-'));
    const [key, cert] = [join(dir, 'server.key'), join(dir, 'server.crt')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore', timeout: 20_000 });
    tls = { key: readFileSync(key), cert: readFileSync(cert) };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names everything missing outside a pod', () => {
    let error: unknown;
    try {
      kubernetesStoreFromServiceAccount({ self: { id: 'a', address: 'a:7777' }, leaseTtlMs: TTL_MS, leaseName: LEASE, logger: capturingLogger([]), env: {}, serviceAccountDir: join(dir, 'absent') });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KubernetesUnavailableError);
    expect((error as KubernetesUnavailableError).name).toBe('KubernetesUnavailableError');
    const missing = (error as KubernetesUnavailableError).missing.join('\n');
    for (const what of ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'absent/token', 'absent/ca.crt', 'absent/namespace']) expect(missing).toContain(what);
  });

  it('over HTTPS with the service account CA, namespace and token, re-reading the token as it rotates', async () => {
    const api = await contractServer({ namespace: 'scc-test', tls });
    api.seed(EMPTY_LEASE);
    const account = mkdtempSync(join(dir, 'sa-'));
    writeFileSync(join(account, 'token'), 'first-token\n');
    writeFileSync(join(account, 'ca.crt'), tls.cert);
    writeFileSync(join(account, 'namespace'), 'scc-test');
    api.allow('first-token');
    const port = new URL(api.url).port;
    const a = track('scc-state-a', '10.0.0.1:7777', 'first-token', (logger) =>
      kubernetesStoreFromServiceAccount({ self: { id: 'scc-state-a', address: '10.0.0.1:7777' }, leaseTtlMs: TTL_MS, leaseName: LEASE, logger, env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, serviceAccountDir: account }),
    );
    await waitFor('a elected over https', () => a.elected()[0], 3000);
    // The kubelet rotates the projected token; the old one stops working.
    writeFileSync(join(account, 'token'), 'second-token\n');
    api.allow('second-token');
    api.refuse('first-token');
    await waitFor('a renewal with the new token', () => api.requests({ method: 'PUT', token: 'second-token', status: 200 }).length >= 2, 2000);
    expect(a.deposed()).toEqual([]);
    expect(api.requests({ token: 'first-token', status: 401 })).toEqual([]);
  });

  it('an API server whose certificate the CA does not vouch for is reported down, never trusted', async () => {
    const api = await contractServer({ tls });
    api.seed(EMPTY_LEASE);
    const a = replica(api, 'scc-state-a'); // no `ca`: the system roots, which do not know this certificate
    await waitFor('store down', () => a.events.find((e) => e.kind === 'store' && !e.up), 2000);
    await sleep(800);
    expect(a.elected()).toEqual([]);
    expect(api.log).toEqual([]);
    expect(String(a.logs.find((l) => /not usable/.test(String(l['msg'])))?.['err']?.['message'])).toMatch(/certificate/);
  });
});
