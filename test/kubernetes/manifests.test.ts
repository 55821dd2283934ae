/**
 * Offline checks of `kubernetes/`: every document validates against the Kubernetes API schemas
 * (kubernetes-models), and the manifests agree with the services — env names the services read,
 * ports and probe paths they serve, selectors that select, and the entry points the image has.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import {
  HEALTH_CHECK_PATH,
  METRICS_PATH,
  READY_PATH,
  SOCKETCLUSTER_PATH,
  DEFAULT_STATE_SERVER_PORT,
  readBrokerConfig,
  readWorkerConfig,
  createLogger,
} from '@scc-ts/shared';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../../packages/shared/src/service.js';
import { KubernetesLeaseStore } from '../../packages/scc-state/src/leadership/kubernetes.js';
import { KubernetesContractServer, type StoredLease } from '../helpers/kubernetes-api.js';
import {
  ROOT,
  STAND_INS,
  asDeployment,
  containerOf,
  loadManifests,
  namesRead,
  resolvedEnv,
  selects,
  serviceOf,
  validateManifest,
  type Manifest,
  type ServiceName,
} from '../../harness/image/manifests.js';

/** Drain timeout of brokers and workers (ms) that terminationGracePeriodSeconds must cover, plus margin. */
const DRAIN_TIMEOUT_MS = 20_000;
const GRACE_MARGIN_S = 5;

const manifests = loadManifests();
const ofKind = (kind: string): Manifest[] => manifests.filter((m) => m.kind === kind);
const deployments = new Map<ServiceName, IDeployment>(
  ofKind('Deployment').map((m) => {
    const d = asDeployment(m);
    return [serviceOf(containerOf(d)), d];
  }),
);
function deployment(service: ServiceName): IDeployment {
  const d = deployments.get(service);
  if (!d) throw new Error(`no Deployment runs ${service}`);
  return d;
}
const podLabels = (d: IDeployment): Record<string, string> => d.spec?.template.metadata?.labels ?? {};
const services = ofKind('Service').map((m) => m.doc as unknown as IService);
function service(name: string): IService {
  const s = services.find((x) => x.metadata?.name === name);
  if (!s) throw new Error(`no Service ${name}`);
  return s;
}
/** The container port a probe or Service port refers to, by name or number. */
function containerPort(c: IContainer, ref: number | string | undefined): number | undefined {
  return c.ports?.find((p) => (typeof ref === 'string' ? p.name === ref : p.containerPort === ref))?.containerPort;
}

describe('kubernetes/ manifests', () => {
  it('ship every object an operator needs, each named once', () => {
    const kinds = manifests.map((m) => `${m.apiVersion}/${m.kind}`).sort();
    expect(kinds).toEqual(
      [
        'apps/v1/Deployment',
        'apps/v1/Deployment',
        'apps/v1/Deployment',
        'coordination.k8s.io/v1/Lease',
        'networking.k8s.io/v1/Ingress',
        'networking.k8s.io/v1/NetworkPolicy',
        'policy/v1/PodDisruptionBudget',
        'policy/v1/PodDisruptionBudget',
        'policy/v1/PodDisruptionBudget',
        'rbac.authorization.k8s.io/v1/Role',
        'rbac.authorization.k8s.io/v1/RoleBinding',
        'v1/Service',
        'v1/Service',
        'v1/Service',
        'v1/ServiceAccount',
      ].sort(),
    );
    expect([...deployments.keys()].sort()).toEqual(['scc-broker', 'scc-state', 'scc-worker']);
    const names = manifests.map((m) => `${m.kind}/${m.name}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(manifests.map((m) => [`${m.file} ${m.kind}/${m.name}`, m] as const))('%s validates against the Kubernetes schema', (_, m) => {
    expect(() => validateManifest(m.doc)).not.toThrow();
  });

  it('the schema check rejects broken copies', () => {
    const worker = manifests.find((m) => m.kind === 'Deployment' && m.name === 'scc-worker')!.doc;
    const broken = (edit: (d: any) => void): Record<string, unknown> => {
      const copy = structuredClone(worker);
      edit(copy);
      return copy;
    };
    expect(() => validateManifest(broken((d) => delete d.spec.selector))).toThrow(/selector/);
    expect(() => validateManifest(broken((d) => (d.spec.template.spec.containers[0].ports[0].containerPort = '8000x')))).toThrow(/integer/);
    expect(() => validateManifest(broken((d) => (d.spec.template.spec.containers[0].readinessProbe.httpGet = { path: '/ready' })))).toThrow(/port/);
    expect(() => validateManifest(broken((d) => (d.spec.strategy.type = 'Rolling')))).toThrow(/allowed values/);
    const ingress = manifests.find((m) => m.kind === 'Ingress')!.doc;
    // The originals' Ingress: the long-removed API, and its backend shape.
    expect(() => validateManifest({ ...structuredClone(ingress), apiVersion: 'extensions/v1beta1' })).toThrow(/no schema/);
    const oldBackend = structuredClone(ingress) as any;
    oldBackend.spec.rules[0].http.paths[0] = { path: '/', backend: { serviceName: 'scc-worker', servicePort: 8000 } };
    expect(() => validateManifest(oldBackend)).toThrow(/pathType/);
  });

  it('scc-state runs replicated, and a rollout keeps every replica ready (any replica serves)', () => {
    const d = deployment('scc-state');
    expect(d.spec?.replicas).toBeGreaterThanOrEqual(2);
    expect(d.spec?.strategy?.type).toBe('RollingUpdate');
    expect(d.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
  });

  it('scc-state replicas elect through the shipped Lease, named by their pod and reached at their pod IP', () => {
    const c = containerOf(deployment('scc-state'));
    const lease = c.env?.find((e) => e.name === 'SCC_STATE_SERVER_KUBERNETES_LEASE')?.value;
    expect(ofKind('Lease').map((m) => m.name)).toEqual([lease]);
    expect(c.env?.find((e) => e.name === 'SCC_INSTANCE_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(c.env?.find((e) => e.name === 'SCC_INSTANCE_IP')?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
    // Created empty: nobody holds it until a replica acquires it.
    expect((ofKind('Lease')[0]!.doc as unknown as ILease).spec ?? {}).toEqual({});
  });

  it('only scc-state gets an API token, from its own service account, bound to its Role', () => {
    const state = deployment('scc-state').spec!.template.spec!;
    const account = ofKind('ServiceAccount').map((m) => m.doc as unknown as IServiceAccount);
    expect(account.map((a) => a.metadata?.name)).toEqual([state.serviceAccountName]);
    expect(state.automountServiceAccountToken).toBe(true);
    expect(account[0]!.automountServiceAccountToken).toBe(false);
    for (const name of ['scc-broker', 'scc-worker'] as const) {
      const pod = deployment(name).spec!.template.spec!;
      expect(pod.automountServiceAccountToken, name).toBe(false);
      expect(pod.serviceAccountName, name).toBeUndefined();
    }
    const bindings = ofKind('RoleBinding').map((m) => m.doc as unknown as IRoleBinding);
    expect(bindings).toHaveLength(1);
    expect(bindings[0]!.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: ofKind('Role')[0]!.name });
    expect(bindings[0]!.subjects).toEqual([{ kind: 'ServiceAccount', name: state.serviceAccountName, namespace: expect.any(String) }]);
  });

  it('the Role grants exactly the verbs the Lease store uses, on its Lease only', async () => {
    const roles = ofKind('Role').map((m) => m.doc as unknown as IRole);
    expect(roles).toHaveLength(1);
    const leaseName = ofKind('Lease')[0]!.name;
    expect(roles[0]!.rules).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [leaseName], verbs: expect.any(Array) }]);
    // Run the real store on the shipped Lease through a whole term (elect, renew, save, resign) and
    // map its requests to RBAC verbs.
    const api = await KubernetesContractServer.start({ tokens: ['t'] });
    try {
      api.seed(ofKind('Lease')[0]!.doc as unknown as StoredLease);
      const store = new KubernetesLeaseStore({
        self: { id: STAND_INS.podName, address: `${STAND_INS.podIP}:7777` },
        leaseTtlMs: 1500,
        leaseName,
        namespace: api.namespace,
        apiServer: api.url,
        token: () => 't',
        logger: createLogger({ name: 'manifests-test', level: 0, format: 'json' }),
      });
      const elected = new Promise<number>((resolve) => store.start({ elected: (term) => resolve(term), deposed: () => undefined, leaderChanged: () => undefined, storeStatus: () => undefined }));
      const term = await Promise.race([elected, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not elected within 3 s')), 3000))]);
      await new Promise((r) => setTimeout(r, 700));
      await store.save({ version: 1, term, brokers: [], workers: [], withdrawn: [], lastTime: 0, handover: null, savedAt: 0 });
      await store.close();
      expect(api.lease(leaseName)?.spec?.holderIdentity).toBe(''); // resigned
      const verb: Record<string, string> = { GET: 'get', PUT: 'update', POST: 'create', PATCH: 'patch', DELETE: 'delete' };
      const used = [...new Set(api.log.map((r) => verb[r.method] ?? r.method))].sort();
      expect([...(roles[0]!.rules?.[0]?.verbs ?? [])].sort()).toEqual(used);
      expect(api.log.every((r) => r.path.endsWith(`/leases/${leaseName}`))).toBe(true);
    } finally {
      await api.close();
    }
  });

  it.each(['scc-state', 'scc-broker', 'scc-worker'] as const)('%s runs `node server` in its package folder, non-root, read-only, bounded', (name) => {
    const d = deployment(name);
    const c = containerOf(d);
    const pod = d.spec!.template.spec!;
    expect(selects(d.spec?.selector.matchLabels, podLabels(d))).toBe(true);
    expect(c.command).toEqual(['node', 'server']);
    expect(existsSync(join(ROOT, 'packages', name, 'server.js'))).toBe(true);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(c.image).toBe(`scc-ts:${version}`);
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext?.capabilities?.drop).toEqual(['ALL']);
    const tmp = c.volumeMounts?.find((v) => v.mountPath === '/tmp');
    expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    for (const kind of ['requests', 'limits'] as const) {
      expect(Object.keys(c.resources?.[kind] ?? {}).sort()).toEqual(['cpu', 'memory']);
    }
  });

  it.each(['scc-state', 'scc-broker', 'scc-worker'] as const)('%s sets only env vars the service reads, with values it accepts', (name) => {
    const c = containerOf(deployment(name));
    const env = resolvedEnv(c);
    expect(Object.keys(env).length).toBeGreaterThan(0);
    const { names } = namesRead(name, env);
    for (const variable of Object.keys(env)) expect(names, `${name} does not read ${variable}`).toContain(variable);
    const auth = c.env?.find((e) => e.name === 'SCC_AUTH_KEY')?.valueFrom?.secretKeyRef;
    expect(auth).toEqual({ name: 'scc-auth', key: 'authKey' });
  });

  it('a manifest env var the service does not read is caught', () => {
    const c = structuredClone(containerOf(deployment('scc-broker')));
    c.env = [...(c.env ?? []), { name: 'SCC_STATE_SERVER_HOSTNAME', value: 'scc-state' }];
    const { names } = namesRead('scc-broker', resolvedEnv(c));
    expect(names).not.toContain('SCC_STATE_SERVER_HOSTNAME');
  });

  it.each(['scc-broker', 'scc-worker'] as const)('%s finds the state server by its Service and announces its pod IP', (name) => {
    const c = containerOf(deployment(name));
    const state = service('scc-state');
    expect(c.env?.find((e) => e.name === 'SCC_STATE_SERVER_HOST')?.value).toBe(state.metadata?.name);
    expect(c.env?.find((e) => e.name === 'SCC_INSTANCE_IP')?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
    // The port the service dials (its config's SCC_STATE_SERVER_PORT) is the state Service's port.
    const env = resolvedEnv(c);
    const dialled = name === 'scc-broker' ? readBrokerConfig(env, false).stateServerPort : readWorkerConfig(env, false).cluster?.stateServerPort;
    expect(state.spec?.ports?.map((p) => p.port)).toContain(dialled);
    expect(env['SCC_INSTANCE_IP']).toBe(STAND_INS.podIP);
  });

  it.each(['scc-state', 'scc-broker', 'scc-worker'] as const)('%s probes and ports match what the service serves', (name) => {
    const d = deployment(name);
    const c = containerOf(d);
    const { port, healthPort } = namesRead(name, resolvedEnv(c));
    // The probes go to the health port (SCC_HEALTH_PORT: a thread a busy event loop cannot starve).
    expect(healthPort).not.toBeNull();
    expect(c.ports?.map((p) => p.containerPort)).toEqual([port, healthPort]);
    expect(c.livenessProbe?.httpGet?.path).toBe(HEALTH_CHECK_PATH);
    expect(c.readinessProbe?.httpGet?.path).toBe(READY_PATH);
    expect(containerPort(c, c.livenessProbe?.httpGet?.port)).toBe(healthPort);
    expect(containerPort(c, c.readinessProbe?.httpGet?.port)).toBe(healthPort);
  });

  it('each Service selects its Deployment and targets a port the container has', () => {
    for (const [name, headless] of [['scc-state', false], ['scc-broker', true], ['scc-worker', false]] as const) {
      const s = service(name);
      const matching = [...deployments.entries()].filter(([, d]) => selects(s.spec?.selector, podLabels(d))).map(([n]) => n);
      expect(matching).toEqual([name]);
      expect(s.spec?.clusterIP === 'None').toBe(headless);
      const c = containerOf(deployment(name));
      for (const p of s.spec?.ports ?? []) expect(containerPort(c, p.targetPort), `${name} targetPort ${String(p.targetPort)}`).toBeDefined();
    }
    expect(service('scc-state').spec?.ports?.map((p) => p.port)).toEqual([DEFAULT_STATE_SERVER_PORT]);
  });

  it('the Ingress sends clients to the workers over TLS with WebSocket-friendly timeouts', () => {
    const ingress = ofKind('Ingress')[0]!.doc as unknown as IIngress;
    expect(ingress.spec?.tls?.map((t) => t.secretName)).toEqual(['scc-tls-credentials']);
    const backends = (ingress.spec?.rules ?? []).flatMap((r) => r.http?.paths ?? []).map((p) => p.backend.service);
    expect(backends.length).toBeGreaterThan(0);
    for (const b of backends) {
      expect(b?.name).toBe('scc-worker');
      expect(service('scc-worker').spec?.ports?.some((p) => p.name === b?.port?.name || p.port === b?.port?.number)).toBe(true);
    }
    for (const key of ['proxy-read-timeout', 'proxy-send-timeout']) {
      expect(Number(ingress.metadata?.annotations?.[`nginx.ingress.kubernetes.io/${key}`])).toBeGreaterThan(60);
    }
  });

  it('the Ingress routes what clients need and nothing else: /metrics, /ready and /health-check stay internal', () => {
    const ingress = ofKind('Ingress')[0]!.doc as unknown as IIngress;
    const paths = (ingress.spec?.rules ?? []).flatMap((r) => r.http?.paths ?? []);
    const routed = (url: string) => paths.some((p) => ingressPathMatches(p.path ?? '/', p.pathType, url));
    expect(routed(SOCKETCLUSTER_PATH)).toBe(true);
    expect(routed('/')).toBe(true);
    expect(routed('/socketcluster-client.min.js')).toBe(true);
    expect(routed('/favicon.svg')).toBe(true);
    for (const internal of [METRICS_PATH, READY_PATH, HEALTH_CHECK_PATH, `${METRICS_PATH}/`, '/cluster', '/cluster.json', '/anything']) {
      expect(routed(internal), internal).toBe(false);
    }
  });

  it('PodDisruptionBudgets cover the state replicas, brokers and workers', () => {
    const pdbs = ofKind('PodDisruptionBudget').map((m) => m.doc as unknown as IPodDisruptionBudget);
    for (const name of ['scc-state', 'scc-broker', 'scc-worker'] as const) {
      const covering = pdbs.filter((p) => selects(p.spec?.selector?.matchLabels, podLabels(deployment(name))));
      expect(covering).toHaveLength(1);
      expect(covering[0]!.spec?.maxUnavailable ?? covering[0]!.spec?.minAvailable).toBeDefined();
    }
  });

  it.each(['scc-worker', 'scc-state'] as const)('%s prefers to spread over nodes', (name) => {
    const d = deployment(name);
    const terms = d.spec?.template.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    expect(terms.some((t) => t.podAffinityTerm.topologyKey === 'kubernetes.io/hostname' && selects(t.podAffinityTerm.labelSelector?.matchLabels, podLabels(d)))).toBe(true);
  });

  it('only brokers, workers and the other state replicas (pass-through to the leader) may reach the state server', () => {
    const policies = ofKind('NetworkPolicy').map((m) => m.doc as unknown as INetworkPolicy);
    const state = deployment('scc-state');
    const policy = policies.find((p) => selects(p.spec?.podSelector.matchLabels, podLabels(state)));
    expect(policy).toBeDefined();
    expect(selects(policy!.spec?.podSelector.matchLabels, podLabels(deployment('scc-worker')))).toBe(false);
    expect(policy!.spec?.policyTypes).toContain('Ingress');
    const peers = (policy!.spec?.ingress ?? []).flatMap((rule) => rule.from ?? []);
    expect(peers.every((p) => p.podSelector && !p.namespaceSelector && !p.ipBlock)).toBe(true);
    const allowed = [...deployments.entries()].filter(([, d]) => peers.some((p) => selects(p.podSelector?.matchLabels, podLabels(d)))).map(([n]) => n);
    expect(allowed.sort()).toEqual(['scc-broker', 'scc-state', 'scc-worker']);
    const ports = (policy!.spec?.ingress ?? []).flatMap((rule) => rule.ports ?? []).map((p) => p.port);
    // The state server's own port; the health port serves kubelet probes, which come from the node.
    expect(ports).toEqual([namesRead('scc-state', resolvedEnv(containerOf(state))).port]);
  });

  it('termination grace periods cover the drain and the shutdown bound', () => {
    for (const name of ['scc-broker', 'scc-worker'] as const) {
      expect(deployment(name).spec?.template.spec?.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(DRAIN_TIMEOUT_MS / 1000 + GRACE_MARGIN_S);
    }
    for (const name of ['scc-state', 'scc-broker', 'scc-worker'] as const) {
      expect(deployment(name).spec?.template.spec?.terminationGracePeriodSeconds).toBeGreaterThan(DEFAULT_SHUTDOWN_TIMEOUT_MS / 1000);
    }
  });
});

/**
 * Kubernetes' Ingress path matching (networking.k8s.io/v1): `Exact` compares the whole path;
 * `Prefix` compares element by element split on `/`, ignoring a trailing slash, so `/a/` matches
 * `/a`, `/a/` and `/a/b` but not `/ab`. (`ImplementationSpecific` is treated as `Prefix`, as ingress-nginx does.)
 */
function ingressPathMatches(path: string, pathType: string | undefined, url: string): boolean {
  if (pathType === 'Exact') return url === path;
  const elements = (p: string) => p.split('/').filter((e) => e !== '');
  const want = elements(path);
  const have = elements(url);
  return want.length <= have.length && want.every((e, i) => have[i] === e);
}
