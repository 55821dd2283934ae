/**
 * The broker's membership in the cluster: joins the state server on every connect, leaves on close
 * (docs/protocol.md, "Joining").
 */
import { v4 as uuidv4 } from 'uuid';
import {
  DEFAULT_RECONNECT_RANDOMNESS_MS,
  InstanceType,
  Procedure,
  StateLink,
  type BrokerConfig,
  type BrokerJoinPayload,
  type Logger,
  type StatsReport,
} from '@scc-ts/shared';

export interface BrokerStateLinkOptions {
  config: Readonly<BrokerConfig>;
  /** The port the broker actually listens on (advertised to the state server). */
  port: number;
  logger: Logger;
  /** Called after every successful join. */
  onJoined?: () => void;
  /** The figures of each `sccStats` report (sent every `config.statsIntervalMs`); none without it. */
  collectStats?: () => StatsReport;
}

/** Creates the broker's state link (not yet started). */
export function createBrokerStateLink(options: BrokerStateLinkOptions): { link: StateLink; instanceId: string } {
  const { config, port, logger } = options;
  const instanceId = uuidv4();
  const link = new StateLink({
    stateServerHost: config.stateServerHost,
    stateServerPort: config.stateServerPort,
    authKey: config.authKey,
    instanceType: InstanceType.Broker,
    instancePort: port,
    version: config.announceVersion,
    connectTimeoutMs: config.stateServerConnectTimeoutMs,
    ackTimeoutMs: config.stateServerAckTimeoutMs,
    retryDelayMs: config.retryDelayMs,
    // The original broker adds up to 1000 ms of randomness to each reconnect; it has no setting for it.
    reconnectRandomnessMs: DEFAULT_RECONNECT_RANDOMNESS_MS,
    joinProcedure: Procedure.BrokerJoinCluster,
    joinData: {
      instanceId,
      instanceIp: config.instanceIp,
      instanceIpFamily: config.instanceIpFamily,
      instanceSecure: config.secure,
    } satisfies BrokerJoinPayload,
    logger,
    onJoined: () => options.onJoined?.(),
    ...(options.collectStats && { stats: { intervalMs: config.statsIntervalMs, collect: options.collectStats } }),
  });
  return { link, instanceId };
}
