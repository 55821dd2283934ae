/**
 * Payload types of the SCC protocol (docs/protocol.md, "Procedures") and runtime guards for every inbound payload.
 * A guard returns a fresh, typed copy holding only the known fields, or throws
 * `InvalidPayloadError` naming the offending field; it never mutates its input.
 * Unknown extra fields are ignored (and dropped), so a newer peer can add fields.
 */
import { isIP } from 'node:net';
import { InvalidPayloadError } from './errors.js';
import { isHostOrIp } from './uri.js';
import { HANDOVER_PHASES, HandoverProcedure, LinkProcedure, Procedure, STATS_EVENT, type HandoverPhase } from './protocol.js';

/** Address families a peer may announce for `instanceIp`, the default first. */
export const IP_FAMILIES = Object.freeze(['IPv4', 'IPv6'] as const);
/** Address family a peer announces for `instanceIp`. */
export type IpFamily = (typeof IP_FAMILIES)[number];

/** Longest `instanceId` accepted (a UUID is 36 characters). */
export const MAX_INSTANCE_ID_LENGTH = 256;
/** Longest `instanceIp` accepted (a DNS name is at most 253 characters). */
export const MAX_INSTANCE_IP_LENGTH = 253;
/** Longest URI accepted in a membership list. */
export const MAX_URI_LENGTH = 2048;
/** Most URIs accepted in one membership list. */
export const MAX_URI_LIST_LENGTH = 10_000;

/** `sccBrokerJoinCluster` request, broker → state. */
export interface BrokerJoinPayload {
  instanceId: string | null;
  instanceIp: string | null;
  instanceIpFamily: IpFamily | null;
  instanceSecure: boolean;
}

/** `sccWorkerJoinCluster` request, worker → state. */
export interface WorkerJoinPayload {
  instanceId: string | null;
  instanceIp: string | null;
  instanceIpFamily: IpFamily | null;
  /** Our extension: the worker takes part in acknowledged handover. Absent from original workers. */
  sccHandover?: boolean;
  /**
   * Our extension, on a re-join: the broker list the worker routes by now. A state server that has
   * just come back (restarted, or healed from a partition) may not yet have every broker back; it
   * then answers `sccPushFollows` and pushes the settled list instead of handing out a partial one.
   */
  sccBrokerURIs?: string[];
}

/** `sccWorkerLinks`, worker → state (our extension): the brokers this worker cannot reach now. */
export interface LinkReport {
  unreachable: string[];
}

/** `sccWorkerHandoverAck`, worker → state (our extension). */
export interface HandoverAck {
  time: number;
  phase: HandoverPhase;
}

/** `sccHandoverSwitch` / `sccHandoverRelease`, state → worker (our extension). */
export interface HandoverSignal {
  time: number;
}

/** `sccBrokerJoinCluster` / `sccBrokerLeaveCluster` push, state → worker. */
export interface BrokerListPush {
  sccBrokerURIs: string[];
  /** Milliseconds since the epoch when the state server built the list; orders pushes. */
  time: number;
  sccSourceWorkerURI?: string;
  /** Our extension: the state server coordinates this list's handover (wait for its signals). */
  sccHandover?: boolean;
  /** Our extension: brokers left out because a worker cannot reach them (still up; see LinkProcedure). */
  sccWithdrawn?: string[];
  /**
   * Our extension: the term of the replicated state server that sent it (grows with every change of
   * leader). A worker refuses a push or reply of a lower term than it has seen (StaleTermError).
   */
  sccTerm?: number;
}

/** `sccWorkerJoinCluster` / `sccWorkerLeaveCluster` push, state → worker. */
export interface WorkerListPush {
  sccWorkerURIs: string[];
  time: number;
  sccSourceWorkerURI?: string;
  /**
   * Our extension: the term of the replicated state server that sent it (grows with every change of
   * leader). A worker refuses a push or reply of a lower term than it has seen (StaleTermError).
   */
  sccTerm?: number;
}

/** Reply to `sccWorkerJoinCluster`: the whole cluster view. */
export interface WorkerJoinReply {
  sccWorkerURIs: string[];
  sccBrokerURIs: string[];
  time: number;
  sccSourceWorkerURI?: string;
  /**
   * Our extension, answering a re-join's `sccBrokerURIs` that differs from `sccBrokerURIs` here: keep
   * routing by your list, a coordinated push of the settled list follows.
   */
  sccPushFollows?: boolean;
  /** Our extension: this state server coordinates handovers and withdraws brokers workers cannot reach. */
  sccHandover?: boolean;
  /** Our extension: brokers withdrawn from `sccBrokerURIs` now (as in a push). */
  sccWithdrawn?: string[];
  /**
   * Our extension: the term of the replicated state server that sent it (grows with every change of
   * leader). A worker refuses a push or reply of a lower term than it has seen (StaleTermError).
   */
  sccTerm?: number;
}

/** What a worker publishes to a broker and receives back: messages from one sender on one channel. */
export interface PublishPacket {
  /** The publishing worker's instanceId; receivers skip their own packets. */
  sender: string | null;
  messages: unknown[];
  /**
   * Our extension: the packet's number in its sender's stream on this channel (0, 1, 2, …). Receivers
   * use it to drop duplicates, restore order across a handover and count losses. Original workers
   * ignore the field; packets from original workers have none and are delivered as they come.
   */
  seq?: number;
}

/**
 * Most broker links one `sccStats` report may describe (a worker has one per broker in use; it
 * reports the first this many). Sized so a full report stays far below the state server's default
 * 64 KiB payload limit: an oversized frame would cost the sender its state link.
 */
export const MAX_STATS_LINKS = 256;

/** A worker's link to one broker, as its `sccStats` report describes it. */
export interface StatsLinkReport {
  /** The broker's URI, as in the broker list. */
  broker: string;
  /** Whether every connection of the worker's pool to that broker is up. */
  up: boolean;
  /** Milliseconds since the worker last heard anything from that broker; null: never. */
  lastHeardAgoMs: number | null;
  /** Of this worker's channels, how many that broker owns under the newest list. */
  channels: number;
}

/**
 * `sccStats`, broker or worker → state (our extension): the figures the sender already keeps, as
 * totals since it started; the state server turns two reports into rates. Times are durations on
 * the sender's clock, so the hosts' clocks need not agree.
 */
export interface StatsReport {
  /** How long the sender's process has run, ms (a drop means it restarted: totals start again). */
  uptimeMs: number;
  /** CPU time (user + system) the process has used since it started, µs. */
  cpuMicros: number;
  /** Resident set size, bytes. */
  rssBytes: number;
  /** Broker: worker sockets; worker: client sockets. */
  connections: number;
  /** Broker: channels with a subscriber; worker: channels with a local subscriber. */
  channels: number;
  /** Messages received since start (broker: inside worker packets; worker: delivered from other workers). */
  messagesIn: number;
  /** Messages sent since start (broker: packets relayed to subscribers; worker: published by its clients). */
  messagesOut: number;
  /** Worker only: its link to each broker in use. */
  links?: StatsLinkReport[];
}

type Fields = Record<string, unknown>;

function asObject(value: unknown, what: string): Fields {
  // A missing payload is treated as empty, as the originals do (`req.data || {}`).
  if (value == null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidPayloadError(`${what}: expected an object, got ${describe(value)}`);
  }
  return value as Fields;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string of length ${value.length}`;
  return `a ${typeof value}`;
}

function optionalString(fields: Fields, key: string, max: number, what: string): string | null {
  const value = fields[key];
  if (value == null) return null;
  if (typeof value !== 'string') throw new InvalidPayloadError(`${what}.${key}: expected a string, got ${describe(value)}`);
  if (value.length > max) throw new InvalidPayloadError(`${what}.${key}: longer than ${max} characters`);
  return value;
}


function instanceAddress(fields: Fields, what: string): { instanceIp: string | null; instanceIpFamily: IpFamily | null } {
  const instanceIp = optionalString(fields, 'instanceIp', MAX_INSTANCE_IP_LENGTH, what);
  // An empty string is what an unset env var becomes in some deployments: treat it as absent.
  const ip = instanceIp === '' ? null : instanceIp;
  if (ip !== null && !isHostOrIp(ip)) {
    throw new InvalidPayloadError(`${what}.instanceIp: "${ip.slice(0, 64)}" is neither an IP address nor a host name`);
  }
  const family = fields['instanceIpFamily'];
  if (family != null && !(IP_FAMILIES as readonly unknown[]).includes(family)) {
    throw new InvalidPayloadError(`${what}.instanceIpFamily: expected ${IP_FAMILIES.map((f) => `"${f}"`).join(' or ')}`);
  }
  if (ip !== null && family === 'IPv4' && isIP(ip) === 6) {
    throw new InvalidPayloadError(`${what}.instanceIp: "${ip}" is an IPv6 address but instanceIpFamily is IPv4`);
  }
  return { instanceIp: ip, instanceIpFamily: (family ?? null) as IpFamily | null };
}

/** Guards a `sccBrokerJoinCluster` request. */
export function parseBrokerJoin(data: unknown): BrokerJoinPayload {
  const what = Procedure.BrokerJoinCluster;
  const fields = asObject(data, what);
  const secure = fields['instanceSecure'];
  if (secure != null && typeof secure !== 'boolean') {
    throw new InvalidPayloadError(`${what}.instanceSecure: expected a boolean, got ${describe(secure)}`);
  }
  return {
    instanceId: optionalString(fields, 'instanceId', MAX_INSTANCE_ID_LENGTH, what),
    ...instanceAddress(fields, what),
    instanceSecure: secure === true,
  };
}

/** Guards a `sccWorkerJoinCluster` request. */
export function parseWorkerJoin(data: unknown): WorkerJoinPayload {
  const what = Procedure.WorkerJoinCluster;
  const fields = asObject(data, what);
  return {
    instanceId: optionalString(fields, 'instanceId', MAX_INSTANCE_ID_LENGTH, what),
    ...instanceAddress(fields, what),
    ...(fields['sccHandover'] === true ? { sccHandover: true } : {}),
    ...(fields['sccBrokerURIs'] == null ? {} : { sccBrokerURIs: uriList(fields, 'sccBrokerURIs', what) }),
  };
}

/** Guards `sccWorkerLinks`. */
export function parseLinkReport(data: unknown): LinkReport {
  const what = LinkProcedure.Report;
  return { unreachable: [...new Set(uriList(asObject(data, what), 'unreachable', what))] };
}

/** Guards `sccWorkerHandoverAck`. */
export function parseHandoverAck(data: unknown): HandoverAck {
  const what = HandoverProcedure.Ack;
  const fields = asObject(data, what);
  const phase = fields['phase'];
  if (!(HANDOVER_PHASES as readonly unknown[]).includes(phase)) {
    throw new InvalidPayloadError(`${what}.phase: expected ${HANDOVER_PHASES.map((p) => `'${p}'`).join(' or ')}, got ${describe(phase)}`);
  }
  return { time: listTime(fields, what), phase: phase as HandoverPhase };
}

/** Guards `sccHandoverSwitch` / `sccHandoverRelease`. */
export function parseHandoverSignal(data: unknown): HandoverSignal {
  const what = 'handoverSignal';
  return { time: listTime(asObject(data, what), what) };
}

function uriList(fields: Fields, key: string, what: string): string[] {
  const value = fields[key];
  if (!Array.isArray(value)) throw new InvalidPayloadError(`${what}.${key}: expected an array, got ${describe(value)}`);
  if (value.length > MAX_URI_LIST_LENGTH) throw new InvalidPayloadError(`${what}.${key}: more than ${MAX_URI_LIST_LENGTH} entries`);
  for (const uri of value) {
    if (typeof uri !== 'string' || uri.length > MAX_URI_LENGTH || !/^wss?:\/\//.test(uri)) {
      throw new InvalidPayloadError(`${what}.${key}: every entry must be a ws:// or wss:// URI`);
    }
  }
  return [...(value as string[])];
}

function listTime(fields: Fields, what: string): number {
  const time = fields['time'];
  if (typeof time !== 'number' || !Number.isFinite(time)) {
    throw new InvalidPayloadError(`${what}.time: expected a finite number, got ${describe(time)}`);
  }
  return time;
}

/** The optional `sccTerm` (replicated state servers): a whole number ≥ 0. */
function term(fields: Fields, what: string): { sccTerm?: number } {
  const value = fields['sccTerm'];
  if (value == null) return {};
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidPayloadError(`${what}.sccTerm: expected a whole number ≥ 0, got ${describe(value)}`);
  }
  return { sccTerm: value };
}

function sourceWorker(fields: Fields, what: string): { sccSourceWorkerURI?: string } {
  const uri = optionalString(fields, 'sccSourceWorkerURI', MAX_URI_LENGTH, what);
  return uri === null ? {} : { sccSourceWorkerURI: uri };
}

/** Guards a broker-list push from the state server. */
export function parseBrokerListPush(data: unknown): BrokerListPush {
  const what = 'brokerListPush';
  const fields = asObject(data, what);
  return {
    sccBrokerURIs: uriList(fields, 'sccBrokerURIs', what),
    time: listTime(fields, what),
    ...sourceWorker(fields, what),
    ...(fields['sccHandover'] === true ? { sccHandover: true } : {}),
    ...(fields['sccWithdrawn'] == null ? {} : { sccWithdrawn: uriList(fields, 'sccWithdrawn', what) }),
    ...term(fields, what),
  };
}

/** Guards a worker-list push from the state server. */
export function parseWorkerListPush(data: unknown): WorkerListPush {
  const what = 'workerListPush';
  const fields = asObject(data, what);
  return { sccWorkerURIs: uriList(fields, 'sccWorkerURIs', what), time: listTime(fields, what), ...sourceWorker(fields, what), ...term(fields, what) };
}

/** Guards the state server's reply to `sccWorkerJoinCluster`. */
export function parseWorkerJoinReply(data: unknown): WorkerJoinReply {
  const what = `${Procedure.WorkerJoinCluster} reply`;
  if (data == null) throw new InvalidPayloadError(`${what}: missing`);
  const fields = asObject(data, what);
  return {
    sccWorkerURIs: uriList(fields, 'sccWorkerURIs', what),
    sccBrokerURIs: uriList(fields, 'sccBrokerURIs', what),
    time: listTime(fields, what),
    ...sourceWorker(fields, what),
    ...(fields['sccPushFollows'] === true ? { sccPushFollows: true } : {}),
    ...(fields['sccHandover'] === true ? { sccHandover: true } : {}),
    ...(fields['sccWithdrawn'] == null ? {} : { sccWithdrawn: uriList(fields, 'sccWithdrawn', what) }),
    ...term(fields, what),
  };
}

/**
 * Guards a packet relayed by a broker. Returns the packet itself (not a copy): this runs once per
 * message on the hot path, and the messages are handed on untouched.
 */
export function parsePublishPacket(data: unknown): PublishPacket {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InvalidPayloadError(`publish packet: expected an object, got ${describe(data)}`);
  }
  const packet = data as Fields;
  const sender = packet['sender'];
  if (sender != null && typeof sender !== 'string') {
    throw new InvalidPayloadError(`publish packet.sender: expected a string, got ${describe(sender)}`);
  }
  if (!Array.isArray(packet['messages'])) {
    throw new InvalidPayloadError(`publish packet.messages: expected an array, got ${describe(packet['messages'])}`);
  }
  const seq = packet['seq'];
  if (seq !== undefined && !(Number.isSafeInteger(seq) && (seq as number) >= 0)) {
    throw new InvalidPayloadError(`publish packet.seq: expected a non-negative integer, got ${describe(seq)}`);
  }
  return data as PublishPacket;
}

function count(fields: Fields, key: string, what: string): number {
  const value = fields[key];
  if (!(Number.isSafeInteger(value) && (value as number) >= 0)) {
    throw new InvalidPayloadError(`${what}.${key}: expected a non-negative integer, got ${describe(value)}`);
  }
  return value as number;
}

function statsLinkReport(value: unknown, what: string): StatsLinkReport {
  const fields = asObject(value, what);
  const broker = fields['broker'];
  if (typeof broker !== 'string' || broker.length > MAX_URI_LENGTH || !/^wss?:\/\//.test(broker)) {
    throw new InvalidPayloadError(`${what}.broker: expected a ws:// or wss:// URI`);
  }
  if (typeof fields['up'] !== 'boolean') throw new InvalidPayloadError(`${what}.up: expected a boolean, got ${describe(fields['up'])}`);
  return {
    broker,
    up: fields['up'],
    lastHeardAgoMs: fields['lastHeardAgoMs'] == null ? null : count(fields, 'lastHeardAgoMs', what),
    channels: count(fields, 'channels', what),
  };
}

/** Guards a `sccStats` report: every figure a non-negative integer, at most MAX_STATS_LINKS links. */
export function parseStatsReport(data: unknown): StatsReport {
  const what = STATS_EVENT;
  if (data == null) throw new InvalidPayloadError(`${what}: missing`);
  const fields = asObject(data, what);
  const report: StatsReport = {
    uptimeMs: count(fields, 'uptimeMs', what),
    cpuMicros: count(fields, 'cpuMicros', what),
    rssBytes: count(fields, 'rssBytes', what),
    connections: count(fields, 'connections', what),
    channels: count(fields, 'channels', what),
    messagesIn: count(fields, 'messagesIn', what),
    messagesOut: count(fields, 'messagesOut', what),
  };
  const links = fields['links'];
  if (links != null) {
    if (!Array.isArray(links)) throw new InvalidPayloadError(`${what}.links: expected an array, got ${describe(links)}`);
    if (links.length > MAX_STATS_LINKS) throw new InvalidPayloadError(`${what}.links: more than ${MAX_STATS_LINKS} entries`);
    report.links = links.map((link, i) => statsLinkReport(link, `${what}.links[${i}]`));
  }
  return report;
}
