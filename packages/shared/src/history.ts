/**
 * Channel history and recovery (docs/history.md): the names, shapes and guards that workers and
 * brokers share. A broker keeps the history of the channels it owns and gives each message a
 * position `{epoch, offset}`; a worker replays it to clients that subscribe with a position.
 */
import { MAX_EPOCH_LENGTH, MAX_HISTORY_PAGE, type Position } from '@scc-ts/history-client';
import { InvalidPayloadError, SccError } from './errors.js';

// What clients see (the envelope, the notice, pages, positions, their limits and guards) has its one
// home in the browser-safe client package; the services use the same names through this module.
export {
  CLIENT_HISTORY_PROCEDURE,
  InvalidPositionError,
  MAX_EPOCH_LENGTH,
  MAX_HISTORY_PAGE,
  parseHistoryPage,
  parsePosition,
  RecoveryReason,
  SUBSCRIBE_HISTORY_KEY,
  type HistoryPage,
  type MessageEnvelope,
  type Position,
  type RecoveryNotice,
  type RecoveryReasonName,
} from '@scc-ts/history-client';

/** A channel matches no `SCC_HISTORY_CHANNELS` prefix: it keeps no history. */
export class HistoryNotEnabledError extends SccError {
  override readonly name = 'HistoryNotEnabledError';
}

/** A client asked for the history of a channel it is not subscribed to. */
export class HistoryNotSubscribedError extends SccError {
  override readonly name = 'HistoryNotSubscribedError';
}

/** The owner broker keeps no history (an original broker, or history off there). */
export class HistoryUnavailableError extends SccError {
  override readonly name = 'HistoryUnavailableError';
}

/** Procedures a worker calls on its brokers (docs/history.md, "Broker wire"). */
export const HistoryProcedure = Object.freeze({
  Fetch: 'sccHistoryFetch',
  Moves: 'sccHistoryMoves',
  Export: 'sccHistoryExport',
  Import: 'sccHistoryImport',
  Expect: 'sccHistoryExpect',
} as const);

/** Messages a client's history fetch returns when it names no limit. */
export const DEFAULT_CLIENT_HISTORY_LIMIT = 100;
/** How long a new owner holds the packets of a moved channel waiting for its history, ms. */
export const HISTORY_PENDING_TIMEOUT_MS = 10_000;
/** Most channels one `sccHistoryMoves` answer lists. */
export const MAX_HISTORY_MOVES = 10_000;

/** The value of `SCC_HISTORY_CHANNELS` that means every channel. */
export const ALL_CHANNELS = '*';

/** Fields a broker adds to a relayed packet of a history channel: the position of its first message. */
export interface PositionFields {
  sccEpoch: string;
  sccOffset: number;
}

/** A channel's history as it moves between brokers (`sccHistoryExport` / `sccHistoryImport`). */
export interface HistoryState {
  epoch: string;
  last: number;
  from: number;
  messages: unknown[];
  /** When each message was stored, ms since the Unix epoch (the time-to-live keeps counting). */
  times: number[];
}

/** Whether channel names match a list of prefixes (`*` alone: every channel); empty list: none. */
export function historyMatcher(prefixes: readonly string[]): (channel: string) => boolean {
  if (prefixes.length === 0) return () => false;
  if (prefixes.includes(ALL_CHANNELS)) return () => true;
  const list = [...prefixes];
  return (channel) => {
    for (const prefix of list) if (channel.startsWith(prefix)) return true;
    return false;
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** Guards a page limit: an integer 0 … MAX_HISTORY_PAGE (`fallback` when absent), or InvalidPayloadError. */
export function parseLimit(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_HISTORY_PAGE) {
    throw new InvalidPayloadError(`limit must be an integer 0 … ${MAX_HISTORY_PAGE}, got ${typeof value === 'number' ? String(value) : describe(value)}`);
  }
  return value;
}

/** The positions a broker put on a relayed packet, or null when it has none or they are malformed. */
export function positionOf(packet: unknown): Position | null {
  const p = packet as Partial<PositionFields> | null;
  if (p === null || typeof p !== 'object') return null;
  const { sccEpoch, sccOffset } = p;
  if (typeof sccEpoch !== 'string' || sccEpoch.length === 0 || sccEpoch.length > MAX_EPOCH_LENGTH) return null;
  if (typeof sccOffset !== 'number' || !Number.isSafeInteger(sccOffset) || sccOffset < 1) return null;
  return { epoch: sccEpoch, offset: sccOffset };
}

/** Guards a `HistoryState` (an export), or InvalidPayloadError; null stays null. */
export function parseHistoryState(value: unknown): HistoryState | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidPayloadError(`a history state must be an object or null, got ${describe(value)}`);
  const { epoch, last, from, messages, times } = value as Record<string, unknown>;
  if (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > MAX_EPOCH_LENGTH) throw new InvalidPayloadError('a history state needs an epoch string');
  if (typeof last !== 'number' || !Number.isSafeInteger(last) || last < 0) throw new InvalidPayloadError('a history state\'s last must be an integer ≥ 0');
  if (typeof from !== 'number' || !Number.isSafeInteger(from) || from < 1) throw new InvalidPayloadError('a history state\'s from must be an integer ≥ 1');
  if (!Array.isArray(messages) || !Array.isArray(times) || times.length !== messages.length) throw new InvalidPayloadError('a history state needs messages and times of one length');
  if (messages.length > 0 && from + messages.length - 1 !== last) throw new InvalidPayloadError('a history state\'s messages must end at last');
  if (!times.every((t) => typeof t === 'number' && Number.isFinite(t))) throw new InvalidPayloadError('a history state\'s times must be numbers');
  return { epoch, last, from, messages, times: times as number[] };
}
