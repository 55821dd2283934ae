/** Settings every service shares, and a broker's or worker's link to the state server. */
import type { IpFamily } from '../payloads.js';
import type { LogFormat, SccLogLevel } from '../logger.js';
import type { ServerLimits } from '../limits.js';
import { SETTINGS, type IntegerSetting } from './definitions.js';
import type { EnvSettings } from './parse.js';

/** Settings every service shares. */
export interface CommonConfig {
  authKey: string | null;
  logLevel: SccLogLevel;
  logFormat: LogFormat;
  /** Address to listen on (`SCC_BIND_HOST`); null: every interface, as the originals do. */
  bindHost: string | null;
  /**
   * Port of the health responder (`SCC_HEALTH_PORT`): /health-check and /ready answered from a thread
   * of their own, so that a busy event loop cannot starve them (health.ts); null: the main port only.
   */
  healthPort: number | null;
  /** What one peer may cost this service (limits.ts). */
  limits: ServerLimits;
  /** Silence after which an internal link counts as dead, ms (`SCC_LINK_TIMEOUT`); heartbeats every third of it. */
  linkTimeoutMs: number;
}

/** Settings of a broker's or worker's link to the state server. */
export interface StateLinkConfig {
  stateServerHost: string;
  stateServerPort: number;
  instanceIp: string | null;
  instanceIpFamily: IpFamily;
  stateServerConnectTimeoutMs: number;
  stateServerAckTimeoutMs: number;
  /** `version` announced to the state server (`SCC_ANNOUNCE_VERSION`); its major must be one the state server accepts. */
  announceVersion: string;
  /** Interval of the figures (`sccStats`) sent to the state server's dashboard, ms; 0: none. */
  statsIntervalMs: number;
}

/** The per-service settings behind `ServerLimits`; `socketChannelLimit` null: the service has none. */
export interface LimitSettings {
  maxPayload: IntegerSetting;
  maxOutboundBuffer: IntegerSetting;
  socketChannelLimit: IntegerSetting | null;
}

/** The settings `readCommon` reads, besides the service's log level and limits. */
export const COMMON_SETTINGS = [SETTINGS.authKey, SETTINGS.logFormat, SETTINGS.bindHost, SETTINGS.healthPort, SETTINGS.handshakeTimeout, SETTINGS.maxConnections, SETTINGS.linkTimeout] as const;

/** The settings `readStateLink` reads (the host is read by each service: required or not). */
export const STATE_LINK_SETTINGS = [
  SETTINGS.stateServerPort,
  SETTINGS.instanceIp,
  SETTINGS.instanceIpFamily,
  SETTINGS.stateServerConnectTimeout,
  SETTINGS.stateServerAckTimeout,
  SETTINGS.announceVersion,
  SETTINGS.statsInterval,
] as const;

/** Reads the shared settings of one service. */
export function readCommon(r: EnvSettings, logLevel: IntegerSetting, limits: LimitSettings, isTty: boolean): CommonConfig {
  return {
    authKey: r.read(SETTINGS.authKey),
    logLevel: r.read(logLevel) as SccLogLevel,
    // Pretty on a terminal, JSON otherwise, unless SCC_LOG_FORMAT says.
    logFormat: r.read(SETTINGS.logFormat, isTty ? 'pretty' : 'json'),
    bindHost: r.read(SETTINGS.bindHost),
    healthPort: r.read(SETTINGS.healthPort),
    limits: {
      maxPayloadBytes: r.read(limits.maxPayload),
      handshakeTimeoutMs: r.read(SETTINGS.handshakeTimeout),
      socketChannelLimit: limits.socketChannelLimit === null ? null : r.read(limits.socketChannelLimit),
      maxConnections: r.read(SETTINGS.maxConnections),
      maxOutboundBufferBytes: r.read(limits.maxOutboundBuffer),
    },
    linkTimeoutMs: r.read(SETTINGS.linkTimeout),
  };
}

/**
 * Reads the service's own port (`setting`) and refuses a health port equal to it: the second listen
 * would fail with EADDRINUSE, and the message would not say which setting to change.
 */
export function readPort(r: EnvSettings, setting: IntegerSetting, healthPort: number | null): number {
  const port = r.read(setting) as number;
  if (healthPort !== null && healthPort !== 0 && healthPort === port) {
    r.problem(`${SETTINGS.healthPort.env}=${healthPort}: must differ from ${setting.env ?? 'the service port'}`);
  }
  return port;
}

/** Reads a broker's or worker's state-link settings; `host` was read by the caller. */
export function readStateLink(r: EnvSettings, host: string): StateLinkConfig {
  return {
    stateServerHost: host,
    stateServerPort: r.read(SETTINGS.stateServerPort),
    instanceIp: r.read(SETTINGS.instanceIp),
    instanceIpFamily: r.read(SETTINGS.instanceIpFamily),
    stateServerConnectTimeoutMs: r.read(SETTINGS.stateServerConnectTimeout),
    stateServerAckTimeoutMs: r.read(SETTINGS.stateServerAckTimeout),
    announceVersion: r.read(SETTINGS.announceVersion),
    statsIntervalMs: r.read(SETTINGS.statsInterval),
  };
}
