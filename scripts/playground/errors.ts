/**
 * The playground's refusals, each with a stable `name` (the control API answers it as
 * `{ error: { name, message } }`, the dashboard shows it) and the HTTP status it is answered with.
 * They belong to this local tool, not to the services' wire protocol (packages/shared/src/errors.ts).
 */
export abstract class PlaygroundError extends Error {
  abstract override readonly name: string;
  /** The control API's HTTP status for this refusal. */
  abstract readonly status: number;
}

/** Drain or kill asked for with no broker running. */
export class NoBrokerLeftError extends PlaygroundError {
  override readonly name = 'NoBrokerLeftError';
  readonly status = 409;
}

/** Remove asked for with no worker running. */
export class NoWorkerLeftError extends PlaygroundError {
  override readonly name = 'NoWorkerLeftError';
  readonly status = 409;
}

/** Another action is still in progress (one runs at a time, so each settles before the next). */
export class PlaygroundBusyError extends PlaygroundError {
  override readonly name = 'PlaygroundBusyError';
  readonly status = 409;
}

/** The playground is starting or stopping. */
export class PlaygroundNotReadyError extends PlaygroundError {
  override readonly name = 'PlaygroundNotReadyError';
  readonly status = 409;
}

/** `POST /actions/<name>` with a name that is no action. */
export class UnknownActionError extends PlaygroundError {
  override readonly name = 'UnknownActionError';
  readonly status = 404;
}

/** A request from a page other than the state server's dashboard, or a change without an Origin. */
export class ForbiddenOriginError extends PlaygroundError {
  override readonly name = 'ForbiddenOriginError';
  readonly status = 403;
}

/** A Host header other than this loopback address (a DNS-rebinding page names its own host). */
export class ForbiddenHostError extends PlaygroundError {
  override readonly name = 'ForbiddenHostError';
  readonly status = 403;
}

/** A method the path does not take (changes are POST only). */
export class MethodNotAllowedError extends PlaygroundError {
  override readonly name = 'MethodNotAllowedError';
  readonly status = 405;
}

/** No such path. */
export class NotFoundError extends PlaygroundError {
  override readonly name = 'NotFoundError';
  readonly status = 404;
}

/** The action was tried and failed (a process did not start, a wait ran out); the message says which. */
export class ActionFailedError extends PlaygroundError {
  override readonly name = 'ActionFailedError';
  readonly status = 500;
}
