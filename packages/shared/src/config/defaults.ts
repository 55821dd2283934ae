/**
 * Every default and bound of the settings table (definitions.ts) as a named constant, unit in the
 * name. Code that needs a default imports it from here (through the package entry), never retypes it.
 */
import { IP_FAMILIES, type IpFamily } from '../payloads.js';

/** Largest delay `setTimeout` honours, in milliseconds. */
export const MAX_TIMER_MS = 2_147_483_647;
/** Upper bound accepted for any byte limit (ws keeps a whole message in memory): 1 GiB. */
export const MAX_BYTES_LIMIT = 1024 * 1024 * 1024;
/** Smallest byte limit accepted: below it a SocketCluster handshake does not fit. */
export const MIN_BYTES_LIMIT = 1024;
/** Upper bound for counts of sockets or channels: past it the value is a typo, not a plan. */
export const MAX_COUNT_LIMIT = 10_000_000;
/** Highest TCP port. */
export const MAX_PORT = 65_535;

export const DEFAULT_STATE_SERVER_PORT = 7777;
export const DEFAULT_BROKER_SERVER_PORT = 8888;
export const DEFAULT_WORKER_PORT = 8000;
/** State server: retry interval for a failed push to a worker, ms. */
export const DEFAULT_STATE_RETRY_DELAY_MS = 2000;
/** State server: debounce before pushing a grown broker/worker list, ms. */
export const DEFAULT_SCALE_OUT_DELAY_MS = 5000;
/** State server: debounce before pushing a shrunk broker/worker list, ms. */
export const DEFAULT_SCALE_BACK_DELAY_MS = 1000;
/** State server: longest wait for every worker's acknowledgement of one handover phase, ms. */
export const DEFAULT_HANDOVER_TIMEOUT_MS = 20_000;
/** State server: how long worker joins are refused after boot, waiting for brokers, ms. */
export const DEFAULT_STARTUP_DELAY_MS = 5000;
/** Broker and worker: interval between state-server reconnects and join retries, ms. */
export const DEFAULT_RETRY_DELAY_MS = 2000;
/** Random extra added to each reconnect delay so peers do not reconnect in lockstep, ms. */
export const DEFAULT_RECONNECT_RANDOMNESS_MS = 1000;
/** Broker and worker: state-server connect timeout, ms. */
export const DEFAULT_STATE_CONNECT_TIMEOUT_MS = 3000;
/** Broker and worker: state-server acknowledgement timeout, ms. */
export const DEFAULT_STATE_ACK_TIMEOUT_MS = 2000;
/** Broker: socketcluster-server ackTimeout for worker requests, ms. */
export const DEFAULT_BROKER_ACK_TIMEOUT_MS = 10_000;
/** Worker: client sockets per broker. */
export const DEFAULT_CLIENT_POOL_SIZE = 1;
/** Most client sockets per broker a worker may keep (`SCC_CLIENT_POOL_SIZE`). */
export const MAX_CLIENT_POOL_SIZE = 64;
/** Log levels on the originals' scale: 0 silent, 1 errors, 2 warnings, 3 info, 4 debug (ours). */
export const DEFAULT_STATE_LOG_LEVEL = 3;
export const DEFAULT_BROKER_LOG_LEVEL = 1;
export const DEFAULT_WORKER_LOG_LEVEL = 2;
/** Highest log level (debug). */
export const MAX_LOG_LEVEL = 4;
/**
 * Broker and worker: longest graceful drain after SIGTERM/SIGINT (`SCC_DRAIN_TIMEOUT`), ms. Kept
 * under Kubernetes' default terminationGracePeriodSeconds (30 s) with room for the final close.
 */
export const DEFAULT_DRAIN_TIMEOUT_MS = 20_000;
/** Default largest inbound message per service, bytes (`SCC_MAX_PAYLOAD`): joins are tiny, broker packets batch. */
export const DEFAULT_STATE_MAX_PAYLOAD_BYTES = 64 * 1024;
export const DEFAULT_BROKER_MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;
export const DEFAULT_WORKER_MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Default time to finish the SocketCluster handshake, ms (`SCC_HANDSHAKE_TIMEOUT`; socketcluster-server's default). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default most channels one client socket of a worker may subscribe to (`SCC_SOCKET_CHANNEL_LIMIT`). */
export const DEFAULT_WORKER_SOCKET_CHANNEL_LIMIT = 1000;
/** Default most connections (pending and open) one service holds (`SCC_MAX_CONNECTIONS`). */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** Default most bytes queued for one socket before it is closed as a slow consumer (`SCC_MAX_OUTBOUND_BUFFER`). */
export const DEFAULT_STATE_MAX_OUTBOUND_BUFFER_BYTES = 16 * 1024 * 1024;
export const DEFAULT_BROKER_MAX_OUTBOUND_BUFFER_BYTES = 64 * 1024 * 1024;
export const DEFAULT_WORKER_MAX_OUTBOUND_BUFFER_BYTES = 8 * 1024 * 1024;
/**
 * Worker: publish batching window per channel, ms. 0 sends what was published on a channel in one
 * event-loop turn as one packet: no added latency, far fewer packets under load.
 */
export const DEFAULT_PUB_SUB_BATCH_DURATION_MS = 0;
/**
 * Worker: with the 0 window, the least time between two flushes under sustained load, ms. A message
 * after a quiet spell still goes at once; under load each broker link carries a frame per interval.
 */
export const DEFAULT_PUB_SUB_BATCH_INTERVAL_MS = 10;
/** Worker: wait between subscribing a moved channel on its new broker and publishing there, ms. */
export const DEFAULT_HANDOVER_DELAY_MS = 1000;
/** Worker: wait between publishing to a channel's new broker and leaving the old one, ms. */
export const DEFAULT_HANDOVER_GRACE_MS = 1000;
/** Worker: how long a packet after a gap in a sender's numbering waits for the gap to fill, ms. */
export const DEFAULT_REORDER_WINDOW_MS = 500;
/**
 * Internal links (worker → broker, and every link to the state server): silence after which a link
 * counts as dead, ms. Heartbeats go every third of it. Far below socketcluster's 20 s ping timeout,
 * so a silent partition is noticed (and routed around) within seconds.
 */
export const DEFAULT_LINK_TIMEOUT_MS = 3000;
/** Heartbeats per link timeout: a link that loses one or two heartbeats in a row survives. */
export const HEARTBEATS_PER_LINK_TIMEOUT = 3;
/** Shortest link timeout accepted, ms: below it a busy event loop or a GC pause reads as a partition. */
export const MIN_LINK_TIMEOUT_MS = 300;
/** State server: how long every worker must reach a withdrawn broker again before it is restored, ms (bounds flapping). */
export const DEFAULT_LINK_RESTORE_DELAY_MS = 10_000;
/** Replicated scc-state: the leader's lease time-to-live, ms (a dead leader is replaced within about this). */
export const DEFAULT_LEASE_TTL_MS = 3000;
/** The shortest lease etcd grants with its default election timeout (1 s × 3/2), ms. */
export const MIN_LEASE_TTL_MS = 1500;
/** Replicated scc-state: how long a new leader keeps a member of the last record that has not re-joined, ms. */
export const DEFAULT_REJOIN_TIMEOUT_MS = 10_000;
/** Replicated scc-state: the etcd key prefix of one cluster's election and record. */
export const DEFAULT_ETCD_PREFIX = '/scc-state/';
/** Worker, at-least-once: how long a packet is re-sent before it is given up, ms. */
export const DEFAULT_PUBLISH_RETRY_TIMEOUT_MS = 30_000;
/** Worker: send what a client socket gets in one event-loop turn as one frame. */
export const DEFAULT_BATCH_CLIENT_FRAMES = true;
/** Plugin: hold a client's subscribe acknowledgement until the brokers confirmed the subscription. */
export const DEFAULT_HOLD_SUBSCRIBE_ACKS = true;

/** Broker and worker: interval of the figures pushed to the state server for its dashboard (`SCC_STATS_INTERVAL`), ms; 0: none. */
export const DEFAULT_STATS_INTERVAL_MS = 2000;
/** State server: least time between two live updates of the /cluster dashboard (`SCC_STATE_DASHBOARD_INTERVAL`), ms. */
export const DEFAULT_DASHBOARD_INTERVAL_MS = 1000;
/** Shortest dashboard interval accepted, ms: a bound on what one watching browser costs the coordinator. */
export const MIN_DASHBOARD_INTERVAL_MS = 100;
/** State server: most browsers watching the live dashboard at once (`SCC_STATE_DASHBOARD_MAX_CLIENTS`). */
export const DEFAULT_DASHBOARD_MAX_CLIENTS = 10;
/** Highest `SCC_STATE_DASHBOARD_MAX_CLIENTS` accepted: the dashboard is for operators, not an audience. */
export const MAX_DASHBOARD_CLIENTS = 1000;

/** Delivery modes of a channel, the default first. */
export const DELIVERY_MODES = Object.freeze(['at-most-once', 'at-least-once'] as const);
export type DeliveryModeName = (typeof DELIVERY_MODES)[number];
export const DEFAULT_DELIVERY_MODE: DeliveryModeName = DELIVERY_MODES[0];
/** The address family assumed when a peer announces none. */
export const DEFAULT_IP_FAMILY: IpFamily = IP_FAMILIES[0];
/** `SCC_LOG_FORMAT` values. */
export const LOG_FORMATS = Object.freeze(['json', 'pretty'] as const);
/** Broker: most messages of history kept per channel (`SCC_HISTORY_SIZE`). */
export const DEFAULT_HISTORY_SIZE = 1000;
/** Broker: how long a history message is kept, ms (`SCC_HISTORY_TTL`; 0: no time limit). */
export const DEFAULT_HISTORY_TTL_MS = 300_000;
/** Broker: most bytes of history kept per channel (`SCC_HISTORY_CHANNEL_MAX_BYTES`). */
export const DEFAULT_HISTORY_CHANNEL_MAX_BYTES = 1024 * 1024;
/** Broker: most bytes of history kept over all channels (`SCC_HISTORY_MAX_BYTES`). */
export const DEFAULT_HISTORY_MAX_BYTES = 128 * 1024 * 1024;
