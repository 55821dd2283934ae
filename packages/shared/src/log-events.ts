/**
 * Stable `event` fields on the service log lines that launchers and operators wait on. The message
 * text is for people and may change; these names and their fields do not (see README, "Log events").
 */
export const LogEvent = Object.freeze({
  /** Any service: its HTTP port is bound. Fields: `port` (number). */
  Listening: 'listening',
  /** scc-broker: joined (or re-joined) the state server. Fields: `rejoin` (boolean). */
  Joined: 'joined',
  /** scc-worker: applied a broker list. Fields: `brokers` (count), `source` ('join' | 'push'). */
  BrokerList: 'brokerList',
  /** scc-worker: publishes go through the new broker list (its handover is over). Fields: `brokers` (count). */
  PublishingThrough: 'publishingThrough',
  /** scc-worker: the worker list changed size. Fields: `workers` (count). */
  WorkerList: 'workerList',
  /** scc-broker, scc-worker: a drain began (SIGTERM or drain()). Fields: broker `connections`, `subscriptions`, `channels`; worker `clients`. */
  DrainStarted: 'drainStarted',
  /**
   * scc-broker, scc-worker: the drain is over. Fields: `durationMs`; broker `outcome` ('drained' | 'timeout') and
   * `subscriptionsLeft`, `historyChannelsLeft`; worker `clients` and `left` (whether leaving the cluster finished in time).
   */
  DrainFinished: 'drainFinished',
  /** scc-state: a broker or worker left. Fields: `instanceType`, `uri`, `how` ('announced', or 'socket closed, code N'), `remaining` (count of its kind). */
  MemberLeft: 'memberLeft',
  /** scc-broker, scc-worker: the state server link dropped; it reconnects. Fields: `code`, `reason`. */
  StateDisconnected: 'stateDisconnected',
  /** scc-worker: a broker of its list cannot be reached (silent for the link timeout, or never connected). Fields: `broker` (URI), `silentMs`. */
  BrokerUnreachable: 'brokerUnreachable',
  /** scc-worker: a broker it could not reach answers again. Fields: `broker` (URI), `unreachableMs`. */
  BrokerReachable: 'brokerReachable',
  /** scc-state: a broker was withdrawn from the list because workers cannot reach it. Fields: `broker`, `workers` (URIs). */
  BrokerWithdrawn: 'brokerWithdrawn',
  /** scc-state: a withdrawn broker is back in the list (every worker reaches it again). Fields: `broker`, `withdrawnMs`. */
  BrokerRestored: 'brokerRestored',
  /** scc-state replica: it leads now. Fields: `term`, `store` ('etcd' | 'kubernetes'), `electedMs` (since it last saw a leader, or since start). */
  Elected: 'elected',
  /** scc-state replica: it no longer leads (and has stopped serving peers). Fields: `term`, `reason`. */
  SteppedDown: 'steppedDown',
  /** scc-state replica: the leader it passes connections through to changed. Fields: `leader` ({id, address, term} or null). */
  LeaderChanged: 'leaderChanged',
  /** scc-state leader: it starts from the last membership record. Fields: `term`, `brokers`, `workers` (counts), `handover` (phase or null). */
  RecordLoaded: 'recordLoaded',
  /** scc-state leader: every member of the record re-joined, or the re-join timeout passed. Fields: `why`, `forgotten` (URIs). */
  Settled: 'settled',
} as const);

export type LogEventName = (typeof LogEvent)[keyof typeof LogEvent];
