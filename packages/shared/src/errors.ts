/**
 * Error classes with stable `name`s. Peers match on `name` (it travels over the wire when a
 * SocketCluster request is answered with an error), so names of the originals are kept verbatim.
 */

/** Options accepted by every SCC error; `cause` follows the ES2022 convention. */
export interface SccErrorOptions {
  cause?: unknown;
}

/** Base class: sets `name` from the subclass so `instanceof` and `err.name` agree. */
export abstract class SccError extends Error {
  abstract override readonly name: string;
  constructor(message: string, options?: SccErrorOptions) {
    super(message, options);
  }
}

/** A peer presented a missing or wrong `authKey` (refused at the WebSocket upgrade, HTTP 401). */
export class BadClusterAuthError extends SccError {
  override readonly name = 'BadClusterAuthError';
}

/** A peer announced a version whose major this server does not speak (close code 4008). */
export class CompatibilityError extends SccError {
  override readonly name = 'CompatibilityError';
}

/** A peer's handshake query is unusable (unknown `instanceType`, bad `instancePort`). */
export class InvalidHandshakeError extends SccError {
  override readonly name = 'InvalidHandshakeError';
}

/** An inbound payload failed its runtime guard; nothing was changed. */
export class InvalidPayloadError extends SccError {
  override readonly name = 'InvalidPayloadError';
}

/** A peer called a join procedure that does not match the `instanceType` it connected as. */
export class InstanceTypeMismatchError extends SccError {
  override readonly name = 'InstanceTypeMismatchError';
}

/** A worker tried to join during the state server's startup delay (the original's message). */
export class ClusterNotReadyError extends SccError {
  override readonly name = 'ClusterNotReadyError';
}

/**
 * A push or join reply from a state server of an older term than one already heard: a leader that has
 * been replaced (replicated scc-state). Refused, and nothing changes.
 */
export class StaleTermError extends SccError {
  override readonly name = 'StaleTermError';
}

/** Configuration (environment variables or plugin options) is invalid; lists every problem. */
export class ConfigError extends SccError {
  override readonly name = 'ConfigError';
  /** Each problem, one line each, e.g. `SCC_BROKER_SERVER_PORT="abc": must be an integer from 0 to 65535`. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: SccErrorOptions) {
    super(`Invalid configuration: ${problems.join('; ')}`, options);
    this.problems = Object.freeze([...problems]);
  }
}

/** No broker is known for a channel (the cluster has no brokers yet, or all left). */
export class NoMatchingBrokerError extends SccError {
  override readonly name = 'NoMatchingBrokerError';
}

/**
 * A channel's broker is down and its stand-in is not yet known to be heard by every worker; an
 * at-least-once packet waits and is re-sent.
 */
export class BrokerUnavailableError extends SccError {
  override readonly name = 'BrokerUnavailableError';
}

/** A server already holds its connection limit (`SCC_MAX_CONNECTIONS`); refused at the upgrade with HTTP 503. */
export class ConnectionLimitError extends SccError {
  override readonly name = 'ConnectionLimitError';
}

/**
 * A client socket's outbound buffer passed `SCC_MAX_OUTBOUND_BUFFER_BYTES`: it reads slower than it
 * is sent to. The socket is closed with `SLOW_CONSUMER_CLOSE_CODE` and this name as the reason.
 */
export class SlowConsumerError extends SccError {
  override readonly name = 'SlowConsumerError';
}

/** A socket already joined as one member tried to join again as a different one; nothing changed. */
export class AlreadyJoinedError extends SccError {
  override readonly name = 'AlreadyJoinedError';
}

/** A peer asked for something this service does not offer (e.g. pub/sub on the state server). */
export class UnsupportedActionError extends SccError {
  override readonly name = 'UnsupportedActionError';
}

/** A subscribe or publish named a channel that is not a string, or is named like an Object.prototype member. */
export class InvalidChannelError extends SccError {
  override readonly name = 'InvalidChannelError';
}

/** An inbound packet's event is named like an Object.prototype member (`constructor`, `__proto__`, …). */
export class InvalidEventError extends SccError {
  override readonly name = 'InvalidEventError';
}

/** An inbound message nests deeper than `MAX_PACKET_DEPTH` levels (re-encoding it would overflow the stack). */
export class PacketTooDeepError extends SccError {
  override readonly name = 'PacketTooDeepError';
}

/** A frame on an internal SocketCluster link is not JSON or not a packet (sc-wire.ts); it was dropped. */
export class InvalidFrameError extends SccError {
  override readonly name = 'InvalidFrameError';
}

/**
 * A subscribe or unsubscribe was refused. socketcluster-server's name for it, kept because peers
 * (socketcluster-client, our tests of the original) match on it; the message names the cause.
 */
export class BrokerError extends SccError {
  override readonly name = 'BrokerError';
}

/** A request on a broker link failed because the link closed before its answer (or is closed); nothing is known to have been relayed. */
export class BrokerPublishError extends SccError {
  override readonly name = 'BrokerPublishError';
}

/** A request on an internal link got no answer within its ack timeout. */
export class AckTimeoutError extends SccError {
  override readonly name = 'AckTimeoutError';
}
