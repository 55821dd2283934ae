/**
 * The broker's side of the history wire (docs/history.md, "Broker wire"): a publish packet made
 * ready for positions (each message encoded once, so its length is known and the relayed text is
 * spliced, never encoded twice), and the guards of the five procedures' requests. Every guard
 * throws a named error before anything changes.
 */
import {
  MAX_HISTORY_MOVES,
  MAX_URI_LENGTH,
  MAX_URI_LIST_LENGTH,
  DEFAULT_CLIENT_HISTORY_LIMIT,
  HistoryNotEnabledError,
  InvalidPayloadError,
  MAPPING_ENGINES,
  encodePublishText,
  encodeValue,
  parseHistoryState,
  parseLimit,
  parsePosition,
  type HistoryState,
  type MappingEngineName,
  type Position,
} from '@scc-ts/shared';
import { channelProblem } from './channel-table.js';

/** A publish of a history channel, encoded but for its position. */
export interface PreparedPacket {
  messages: unknown[];
  /** Length of each message's JSON text. */
  lengths: number[];
  /** The packet's fields as JSON text without braces (the messages spliced in), sccEpoch/sccOffset left out. */
  body: string;
  /** The messages' lengths summed. */
  bytes: number;
}

/** The fields a peer cannot set: the broker writes them. */
const POSITION_KEYS = new Set(['sccEpoch', 'sccOffset']);

/**
 * Encodes a history channel's packet data for positions, or null when it gets none (not an object
 * with a non-empty `messages` array): such a packet is relayed as it is. Throws
 * what JSON.stringify throws (nesting too deep).
 */
export function preparePacket(data: unknown): PreparedPacket | null {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return null;
  const fields = data as Record<string, unknown>;
  const messages = fields['messages'];
  if (!Array.isArray(messages) || messages.length === 0) return null;
  const texts = messages.map((message) => encodeValue(message));
  const lengths = texts.map((text) => text.length);
  const parts: string[] = [];
  for (const key of Object.keys(fields)) {
    if (POSITION_KEYS.has(key)) continue;
    parts.push(`${JSON.stringify(key)}:${key === 'messages' ? `[${texts.join(',')}]` : encodeValue(fields[key])}`);
  }
  let bytes = 0;
  for (const length of lengths) bytes += length;
  return { messages, lengths, body: parts.join(','), bytes };
}

/** The relayed `#publish` text of a prepared packet: its fields plus `sccEpoch` and `sccOffset`. */
export function positionedText(channel: string, packet: PreparedPacket, position: Position): string {
  return encodePublishText(channel, `{${packet.body},"sccEpoch":${JSON.stringify(position.epoch)},"sccOffset":${position.offset}}`);
}

/** What the procedure guards need of the relay. */
export interface ChannelRules {
  refuseChannel?: ((channel: string) => Error | null) | undefined;
  isHistory: (channel: string) => boolean;
}

function bodyOf(data: unknown, procedure: string): Record<string, unknown> {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InvalidPayloadError(`${procedure} needs an object, got ${data === null ? 'null' : Array.isArray(data) ? 'an array' : typeof data}`);
  }
  return data as Record<string, unknown>;
}

/** The request's channel: a name the relay carries (InvalidChannelError) that keeps history (HistoryNotEnabledError). */
function historyChannel(body: Record<string, unknown>, rules: ChannelRules): string {
  const channel = body['channel'];
  const problem = channelProblem(channel, rules.refuseChannel);
  if (problem) throw problem;
  if (!rules.isHistory(channel as string)) throw new HistoryNotEnabledError(`channel ${JSON.stringify(channel)} matches no SCC_HISTORY_CHANNELS prefix`);
  return channel as string;
}

export interface FetchRequest {
  channel: string;
  since: Position | undefined;
  limit: number;
}

/** `sccHistoryFetch {channel, since?, limit}` (since null or absent: the newest messages). */
export function parseFetchRequest(data: unknown, rules: ChannelRules): FetchRequest {
  const body = bodyOf(data, 'sccHistoryFetch');
  const channel = historyChannel(body, rules);
  const given = body['since'];
  const since = given === undefined || given === null ? undefined : parsePosition(given, 'since');
  return { channel, since, limit: parseLimit(body['limit'], DEFAULT_CLIENT_HISTORY_LIMIT) };
}

/** `sccHistoryExport {channel}`. */
export function parseExportRequest(data: unknown, rules: ChannelRules): string {
  return historyChannel(bodyOf(data, 'sccHistoryExport'), rules);
}

/**
 * `sccHistoryExpect {channels}`: the history channels a handover is about to move here (at most
 * MAX_HISTORY_MOVES); every name is checked before any is used.
 */
export function parseExpectRequest(data: unknown, rules: ChannelRules): string[] {
  const body = bodyOf(data, 'sccHistoryExpect');
  const channels = body['channels'];
  if (!Array.isArray(channels) || channels.length > MAX_HISTORY_MOVES) throw new InvalidPayloadError(`sccHistoryExpect needs channels, an array of at most ${MAX_HISTORY_MOVES} names`);
  return channels.map((channel) => historyChannel({ channel }, rules));
}

export interface ImportRequest {
  channel: string;
  state: HistoryState | null;
  /** The length of each imported message's JSON text. */
  lengths: number[];
}

/** `sccHistoryImport {channel, state}`; `state` must be present (null: start a new epoch). */
export function parseImportRequest(data: unknown, rules: ChannelRules): ImportRequest {
  const body = bodyOf(data, 'sccHistoryImport');
  const channel = historyChannel(body, rules);
  if (!Object.hasOwn(body, 'state')) throw new InvalidPayloadError('sccHistoryImport needs a state (null: a new epoch)');
  const state = parseHistoryState(body['state']);
  let lengths: number[] = [];
  if (state !== null) {
    try {
      lengths = state.messages.map((message) => encodeValue(message).length);
    } catch (error) {
      throw new InvalidPayloadError(`the imported messages cannot be encoded: ${(error as Error).message}`, { cause: error });
    }
  }
  return { channel, state, lengths };
}


export interface MovesRequest {
  brokers: string[];
  self: string;
  mapping: MappingEngineName;
}

function isUri(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_URI_LENGTH;
}

/** `sccHistoryMoves {brokers, self, mapping}`. */
export function parseMovesRequest(data: unknown): MovesRequest {
  const body = bodyOf(data, 'sccHistoryMoves');
  const { brokers, self, mapping } = body;
  if (!Array.isArray(brokers) || brokers.length > MAX_URI_LIST_LENGTH || !brokers.every(isUri)) {
    throw new InvalidPayloadError(`sccHistoryMoves needs brokers: an array of at most ${MAX_URI_LIST_LENGTH} URI strings`);
  }
  if (!isUri(self)) throw new InvalidPayloadError('sccHistoryMoves needs self: this broker\'s URI');
  if (typeof mapping !== 'string' || !(MAPPING_ENGINES as readonly string[]).includes(mapping)) {
    throw new InvalidPayloadError(`sccHistoryMoves needs mapping: one of ${MAPPING_ENGINES.join(', ')}`);
  }
  return { brokers: [...brokers], self, mapping: mapping as MappingEngineName };
}
