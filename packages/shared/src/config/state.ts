/** scc-state's configuration from the environment. */
import { SETTINGS, type Setting } from './definitions.js';
import { EnvSettings, type Env } from './parse.js';
import { COMMON_SETTINGS, readCommon, type CommonConfig, type LimitSettings } from './common.js';

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
]);

/** Reads scc-state's configuration; throws `ConfigError` naming every bad variable. */
export function readStateConfig(env: Env = process.env, isTty = Boolean(process.stdout.isTTY)): Readonly<StateConfig> {
  const r = new EnvSettings(env);
  return r.done<StateConfig>({
    ...readCommon(r, SETTINGS.stateLogLevel, STATE_LIMITS, isTty),
    port: r.read(SETTINGS.statePort),
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
  });
}
