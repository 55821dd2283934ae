/** scc-state's configuration from the environment. */
import { SETTINGS, type Setting } from './definitions.js';
import { EnvSettings, type Env } from './parse.js';
import { DEFAULT_ETCD_PREFIX } from './defaults.js';
import { COMMON_SETTINGS, readCommon, readPort, type CommonConfig, type LimitSettings } from './common.js';

/** scc-state settings. */
export interface StateConfig extends CommonConfig {
  port: number;
  /** Header whose first comma-separated value is the peer's IP (behind a proxy). */
  forwardedForHeader: string | null;
  retryDelayMs: number;
  scaleOutDelayMs: number;
  scaleBackDelayMs: number;
  startupDelayMs: number;
  /** Longest wait for one handover phase's acknowledgements before going ahead, ms. */
  handoverTimeoutMs: number;
  /** How long every worker must reach a withdrawn broker again before it is listed again, ms. */
  linkRestoreDelayMs: number;
  /** Time between two live updates of the /cluster dashboard, ms. */
  dashboardIntervalMs: number;
  /** Most browsers watching the live dashboard at once. */
  dashboardMaxClients: number;
  /** Replicas: where the leader is elected, or null for the single state server of the original. */
  election: ElectionConfig | null;
}

/** Replicated scc-state: one store elects the leader and keeps its membership record. */
export type ElectionStore =
  | { kind: 'etcd'; endpoints: readonly string[]; prefix: string }
  | { kind: 'kubernetes'; lease: string; namespace: string | null };

export interface ElectionConfig {
  store: ElectionStore;
  /** The leader's lease time-to-live, ms. */
  leaseTtlMs: number;
  /** How long a new leader keeps a member of the last record that has not re-joined, ms. */
  rejoinTimeoutMs: number;
  /** This replica's id (null: host name and pid). */
  instanceId: string | null;
  /** The address other replicas dial (null: the host's first external IPv4 address). */
  instanceIp: string | null;
}

// The state server carries no pub/sub: it needs no channel limit (it refuses subscriptions outright).
const STATE_LIMITS: LimitSettings = {
  maxPayload: SETTINGS.stateMaxPayload,
  maxOutboundBuffer: SETTINGS.stateMaxOutboundBuffer,
  socketChannelLimit: null,
};

/** Every setting scc-state reads (docs and the README test list them). */
export const STATE_SETTINGS: readonly Setting[] = Object.freeze([
  ...COMMON_SETTINGS,
  SETTINGS.stateLogLevel,
  STATE_LIMITS.maxPayload,
  STATE_LIMITS.maxOutboundBuffer,
  SETTINGS.statePort,
  SETTINGS.forwardedForHeader,
  SETTINGS.stateRetryDelay,
  SETTINGS.scaleOutDelay,
  SETTINGS.scaleBackDelay,
  SETTINGS.startupDelay,
  SETTINGS.handoverTimeout,
  SETTINGS.linkRestoreDelay,
  SETTINGS.dashboardInterval,
  SETTINGS.dashboardMaxClients,
  SETTINGS.etcdEndpoints,
  SETTINGS.etcdPrefix,
  SETTINGS.kubernetesLease,
  SETTINGS.kubernetesNamespace,
  SETTINGS.leaseTtl,
  SETTINGS.rejoinTimeout,
  SETTINGS.stateInstanceId,
  SETTINGS.stateInstanceIp,
]);

/** Reads the election settings: null unless etcd endpoints or a Kubernetes Lease are set (not both). */
function readElection(r: EnvSettings): ElectionConfig | null {
  const endpoints = r.read(SETTINGS.etcdEndpoints);
  const prefix = r.read(SETTINGS.etcdPrefix) ?? DEFAULT_ETCD_PREFIX;
  const lease = r.read(SETTINGS.kubernetesLease);
  const namespace = r.read(SETTINGS.kubernetesNamespace);
  const common = {
    leaseTtlMs: r.read(SETTINGS.leaseTtl),
    rejoinTimeoutMs: r.read(SETTINGS.rejoinTimeout),
    instanceId: r.read(SETTINGS.stateInstanceId),
    instanceIp: r.read(SETTINGS.stateInstanceIp),
  };
  for (const endpoint of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(endpoint)) r.problem(`${SETTINGS.etcdEndpoints.env}: ${JSON.stringify(endpoint.slice(0, 100))} is not an http:// or https:// URL of host and port`);
  }
  if (endpoints.length > 0 && lease !== null) {
    r.problem(`${SETTINGS.etcdEndpoints.env} and ${SETTINGS.kubernetesLease.env} are both set: choose one store for the election`);
    return null;
  }
  if (endpoints.length > 0) return { store: { kind: 'etcd', endpoints, prefix }, ...common };
  if (lease !== null) return { store: { kind: 'kubernetes', lease, namespace }, ...common };
  return null;
}

/** Reads scc-state's configuration; throws `ConfigError` naming every bad variable. */
export function readStateConfig(env: Env = process.env, isTty = Boolean(process.stdout.isTTY)): Readonly<StateConfig> {
  const r = new EnvSettings(env);
  const common = readCommon(r, SETTINGS.stateLogLevel, STATE_LIMITS, isTty);
  return r.done<StateConfig>({
    ...common,
    port: readPort(r, SETTINGS.statePort, common.healthPort),
    // Node lower-cases incoming header names.
    forwardedForHeader: r.read(SETTINGS.forwardedForHeader)?.toLowerCase() ?? null,
    retryDelayMs: r.read(SETTINGS.stateRetryDelay),
    scaleOutDelayMs: r.read(SETTINGS.scaleOutDelay),
    scaleBackDelayMs: r.read(SETTINGS.scaleBackDelay),
    startupDelayMs: r.read(SETTINGS.startupDelay),
    handoverTimeoutMs: r.read(SETTINGS.handoverTimeout),
    linkRestoreDelayMs: r.read(SETTINGS.linkRestoreDelay),
    dashboardIntervalMs: r.read(SETTINGS.dashboardInterval),
    dashboardMaxClients: r.read(SETTINGS.dashboardMaxClients),
    election: readElection(r),
  });
}
