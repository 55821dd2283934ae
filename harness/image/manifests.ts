/**
 * Loads the `kubernetes/` manifests and validates them with kubernetes-models (classes generated from the
 * Kubernetes OpenAPI schemas, each with `validate()`), and maps each Deployment to the service it runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Lease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { readBrokerConfig, readStateConfig, readWorkerConfig, type Env } from '@scc-ts/shared';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MANIFEST_DIR = join(ROOT, 'kubernetes');

/** One YAML document from a manifest file. */
export interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  name: string;
  /** The parsed document as plain data. */
  doc: Record<string, unknown>;
}

/** The schema each apiVersion/kind we ship is checked against; anything else is an error. */
const MODELS: Readonly<Record<string, new (data: never) => { validate(): void }>> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/Secret': Secret,
  'v1/ServiceAccount': ServiceAccount,
  'coordination.k8s.io/v1/Lease': Lease,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

/** Throws when `doc` is not a valid object of a kind we know, naming the first problems. */
export function validateManifest(doc: Record<string, unknown>): void {
  const key = `${String(doc['apiVersion'])}/${String(doc['kind'])}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`no schema for ${key} (removed or unknown API)`);
  new Model(structuredClone(doc) as never).validate();
}

/** Every document of every `*.yaml` file in `kubernetes/`, in file order. Throws on YAML errors. */
export function loadManifests(dir = MANIFEST_DIR): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort()) {
    for (const document of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((e) => e.message).join('; ')}`);
      const doc: unknown = document.toJS();
      if (doc === null) continue;
      if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file}: a document is not an object`);
      const d = doc as Record<string, unknown>;
      const metadata = d['metadata'] as { name?: unknown } | undefined;
      out.push({ file, apiVersion: String(d['apiVersion']), kind: String(d['kind']), name: String(metadata?.name), doc: d });
    }
  }
  return out;
}

/** The service a Deployment runs, told by its container's working directory. */
export type ServiceName = 'scc-state' | 'scc-broker' | 'scc-worker';

/** The folder inside the image every package lives under (see Dockerfile). */
export const IMAGE_APP_DIR = '/app';

/** Each service's env reader, exactly as its `node server` calls it. */
export const READERS: Readonly<Record<ServiceName, (env: Env) => { port: number; healthPort: number | null }>> = {
  'scc-state': (env) => readStateConfig(env, false),
  'scc-broker': (env) => readBrokerConfig(env, false),
  'scc-worker': (env) => readWorkerConfig(env, false),
};

export function serviceOf(container: IContainer): ServiceName {
  const match = /^\/app\/packages\/(scc-state|scc-broker|scc-worker)$/.exec(container.workingDir ?? '');
  if (!match) throw new Error(`container ${container.name}: workingDir ${String(container.workingDir)} is not /app/packages/<service>`);
  return match[1] as ServiceName;
}

export function asDeployment(m: Manifest): IDeployment {
  return m.doc as unknown as IDeployment;
}

/** The single container of a Deployment's pod. */
export function containerOf(d: IDeployment): IContainer {
  const containers = d.spec?.template.spec?.containers ?? [];
  if (containers.length !== 1) throw new Error(`${d.metadata?.name}: expected one container, found ${containers.length}`);
  return containers[0]!;
}

/** Stand-ins for values the cluster fills in, so the env can be fed to the real config readers. */
export const STAND_INS = { podIP: '10.244.1.17', secret: 'stand-in-auth-key', podName: 'scc-state-6f9d8c7b5-x2k4q' } as const;

/** The container's environment as the service would see it, `valueFrom` replaced by stand-ins. */
export function resolvedEnv(container: IContainer, standIns: { podIP: string; secret: string; podName?: string } = STAND_INS): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'status.podIP') env[e.name] = standIns.podIP;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = standIns.podName ?? STAND_INS.podName;
    else if (e.valueFrom?.secretKeyRef) env[e.name] = standIns.secret;
    else throw new Error(`${container.name}: env ${e.name} has a source this test does not model`);
  }
  return env;
}

/**
 * The environment for running a manifest's container off Kubernetes (the image checks): the state
 * server's Lease election needs an API server and a service account, which cannot run here, so it
 * runs alone. The Lease backend itself is tested against the API's contract (test/kubernetes/lease-store.test.ts).
 */
export function offClusterEnv(env: Record<string, string>): Record<string, string> {
  const { SCC_STATE_SERVER_KUBERNETES_LEASE: _lease, SCC_STATE_SERVER_KUBERNETES_NAMESPACE: _namespace, ...rest } = env;
  return rest;
}

/**
 * Runs the service's real config reader on `env` and returns the variable names it looked up, so a
 * manifest cannot set a variable the service ignores (a typo would otherwise lie dormant).
 */
export function namesRead(service: ServiceName, env: Record<string, string>): { names: Set<string>; port: number; healthPort: number | null } {
  const names = new Set<string>();
  const recording = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') names.add(key);
      return Reflect.get(target, key) as unknown;
    },
  });
  const { port, healthPort } = READERS[service](recording);
  return { names, port, healthPort };
}

/** True when every `selector` label is on `labels` (matchLabels semantics). */
export function selects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
