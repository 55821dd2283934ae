/** scc-broker's configuration from the environment. */
import { SETTINGS, type Setting } from './definitions.js';
import { EnvSettings, type Env } from './parse.js';
import { COMMON_SETTINGS, STATE_LINK_SETTINGS, readCommon, readPort, readStateLink, type CommonConfig, type LimitSettings, type StateLinkConfig } from './common.js';

/** scc-broker settings. */
export interface BrokerConfig extends CommonConfig, StateLinkConfig {
  port: number;
  retryDelayMs: number;
  brokerAckTimeoutMs: number;
  /** Advertise `wss://` to the state server (TLS terminated in front of the broker). */
  secure: boolean;
  socketClusterOptions: Readonly<Record<string, unknown>> | null;
  /** Longest drain on SIGTERM before exiting anyway, ms (`SCC_DRAIN_TIMEOUT`; 0: no wait). */
  drainTimeoutMs: number;
  history: HistoryConfig;
}

/** A broker's channel history (docs/history.md); `channelPrefixes` empty: off. */
export interface HistoryConfig {
  channelPrefixes: readonly string[];
  /** Most messages per channel. */
  size: number;
  /** How long a message is kept, ms (0: no time limit). */
  ttlMs: number;
  channelMaxBytes: number;
  maxBytes: number;
}

// A broker socket carries every channel of its worker: a per-socket limit would break clusters.
const BROKER_LIMITS: LimitSettings = {
  maxPayload: SETTINGS.brokerMaxPayload,
  maxOutboundBuffer: SETTINGS.brokerMaxOutboundBuffer,
  socketChannelLimit: null,
};

/** Every setting scc-broker reads (docs and the README test list them). */
export const BROKER_SETTINGS: readonly Setting[] = Object.freeze([
  ...COMMON_SETTINGS,
  ...STATE_LINK_SETTINGS,
  SETTINGS.brokerStateServerHost,
  SETTINGS.brokerLogLevel,
  BROKER_LIMITS.maxPayload,
  BROKER_LIMITS.maxOutboundBuffer,
  SETTINGS.brokerPort,
  SETTINGS.brokerServerRetryDelay,
  SETTINGS.brokerAckTimeout,
  SETTINGS.brokerSecure,
  SETTINGS.socketClusterOptions,
  SETTINGS.drainTimeout,
  SETTINGS.historyChannels,
  SETTINGS.historySize,
  SETTINGS.historyTtl,
  SETTINGS.historyChannelMaxBytes,
  SETTINGS.historyMaxBytes,
]);

/** Reads scc-broker's configuration; `SCC_STATE_SERVER_HOST` is required. */
export function readBrokerConfig(env: Env = process.env, isTty = Boolean(process.stdout.isTTY)): Readonly<BrokerConfig> {
  const r = new EnvSettings(env);
  const host = r.read(SETTINGS.brokerStateServerHost) ?? '';
  const common = readCommon(r, SETTINGS.brokerLogLevel, BROKER_LIMITS, isTty);
  return r.done<BrokerConfig>({
    ...common,
    ...readStateLink(r, host),
    port: readPort(r, SETTINGS.brokerPort, common.healthPort),
    retryDelayMs: r.read(SETTINGS.brokerServerRetryDelay),
    brokerAckTimeoutMs: r.read(SETTINGS.brokerAckTimeout),
    secure: r.read(SETTINGS.brokerSecure),
    socketClusterOptions: r.read(SETTINGS.socketClusterOptions),
    drainTimeoutMs: r.read(SETTINGS.drainTimeout),
    history: {
      channelPrefixes: r.read(SETTINGS.historyChannels),
      size: r.read(SETTINGS.historySize),
      ttlMs: r.read(SETTINGS.historyTtl),
      channelMaxBytes: r.read(SETTINGS.historyChannelMaxBytes),
      maxBytes: r.read(SETTINGS.historyMaxBytes),
    },
  });
}
