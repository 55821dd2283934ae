/**
 * Wire names of the SCC cluster protocol (scc-state 9.x / scc-broker 10.x / scc-broker-client 9.x).
 * These strings are what original peers send and match on: never rename them. Every name, payload
 * and rule is described in docs/protocol.md; production code uses these constants, never literals.
 */

/**
 * Remote procedures; the same four names are used in both directions: a peer calls its join/leave,
 * and the state server calls the same name on every worker to push the changed list
 * (docs/protocol.md, "Procedures").
 */
export const Procedure = Object.freeze({
  BrokerJoinCluster: 'sccBrokerJoinCluster',
  BrokerLeaveCluster: 'sccBrokerLeaveCluster',
  WorkerJoinCluster: 'sccWorkerJoinCluster',
  WorkerLeaveCluster: 'sccWorkerLeaveCluster',
} as const);
export type ProcedureName = (typeof Procedure)[keyof typeof Procedure];

/**
 * Our extension for acknowledged handover (original peers never send or receive these). A worker
 * that joins with `sccHandover: true` gets broker-list pushes with `sccHandover: true`; it then
 * reports each phase of the move with `sccWorkerHandoverAck {time, phase}` and waits for the state
 * server's `sccHandoverSwitch {time}` (every worker hears the new owners: publish there) and
 * `sccHandoverRelease {time}` (nobody publishes to the old owners any more: leave them).
 */
export const HandoverProcedure = Object.freeze({
  Ack: 'sccWorkerHandoverAck',
  Switch: 'sccHandoverSwitch',
  Release: 'sccHandoverRelease',
} as const);

/**
 * Our extension for partitions (original peers never send or receive it): a worker transmits
 * `sccWorkerLinks {unreachable}` — the brokers of its list it cannot reach right now — on every change
 * and after every join. The state server withdraws a broker some worker cannot reach from the list it
 * pushes (the normal handover moves its channels), and restores it once every worker reaches it again.
 * Pushes of a list that withdrew brokers name them in `sccWithdrawn`, so publishers re-send what they
 * sent there lately (a worker cut off from it may never have heard it).
 */
export const LinkProcedure = Object.freeze({
  Report: 'sccWorkerLinks',
} as const);

/**
 * Our extension for the state server's dashboard: a broker or worker transmits its figures
 * (`StatsReport`, payloads.ts) as this event every `SCC_STATS_INTERVAL` ms over its state link. A
 * transmit, not a procedure: nothing waits on it, and a state server without a receiver for it (the
 * original) drops it unread. Named like the other extensions (no `#`: that prefix is socketcluster's own).
 */
export const STATS_EVENT = 'sccStats';

/**
 * Channel of a worker's handover barrier: an acknowledged publish that no worker subscribes, so a
 * broker relays it nowhere; its acknowledgement follows everything sent before it on that connection.
 */
export const BARRIER_CHANNEL = 'scc-ts/barrier';

/** Phases a worker acknowledges, in order: subscribed on every new owner; switched, with nothing left in flight to old owners. */
export const HANDOVER_PHASES = Object.freeze(['subscribed', 'switched'] as const);
export type HandoverPhase = (typeof HANDOVER_PHASES)[number];

/** Values of the `instanceType` query parameter a peer sends when it connects to the state server. */
export const InstanceType = Object.freeze({
  Broker: 'scc-broker',
  Worker: 'scc-worker',
} as const);
export type InstanceTypeName = (typeof InstanceType)[keyof typeof InstanceType];

/** Path every SocketCluster protocol v2 endpoint listens on (the trailing slash is required). */
export const SOCKETCLUSTER_PATH = '/socketcluster/';

/** Path of the liveness endpoint every service answers with 200 `OK`. */
export const HEALTH_CHECK_PATH = '/health-check';

/** Path of the readiness endpoint (200 once the service can do its job, 503 before). */
export const READY_PATH = '/ready';

/**
 * Error message the original state server sends a worker that joins during the startup delay.
 * Kept verbatim: operators grep logs for it.
 */
export const STARTUP_DELAY_REFUSAL_MESSAGE = 'The server is waiting for initial broker connections';

/** Close code socketcluster-server uses when handshake middleware blocks a socket (we use it likewise). */
export const HANDSHAKE_REJECTION_CLOSE_CODE = 4008;

/** HTTP status of an upgrade refused for a wrong auth key (socketcluster-server's answer when upgrade middleware blocks). */
export const UPGRADE_REJECTION_HTTP_STATUS = 401;

/**
 * Value a peer without an auth key sends as `authKey`: socketcluster-client serialises a null
 * query value as the literal string "null", and original peers rely on that.
 */
export const NO_AUTH_KEY_QUERY_VALUE = 'null';

/** Close code (WebSocket "Going Away") the state server closes its peers' sockets with when it shuts down. */
export const STATE_SHUTDOWN_CLOSE_CODE = 1001;

/** Query parameter names of the state-server connection. */
export const StateQuery = Object.freeze({
  AuthKey: 'authKey',
  InstancePort: 'instancePort',
  InstanceType: 'instanceType',
  Version: 'version',
} as const);

/** Query parameter names of a worker's connection to a broker. */
export const BrokerQuery = Object.freeze({
  AuthKey: 'authKey',
  PoolIndex: 'poolIndex',
} as const);

/** Major versions of original SCC components our state server accepts besides our own. */
export const COMPATIBLE_ORIGINAL_MAJORS: readonly number[] = Object.freeze([9, 10]);

