/**
 * Hardening of a socketcluster-server through its public seams only: the options to build one with
 * (`codecEngine`, `wsEngine` and the limits socketcluster-server implements itself), and `harden()`
 * for a server built elsewhere (what can be applied after construction: the codec). Nothing here
 * touches socketcluster-server's prototypes or private members, so an upgrade cannot switch the
 * protection off silently and no other server in the process changes.
 */
import type socketClusterServer from 'socketcluster-server';
import { limitServerOptions, type ServerLimits } from './limits.js';
import type { Logger } from './logger.js';
import { safeCodec, safeCodecFor, type CodecEngine } from './safe-codec.js';
import type { AGServer } from './sc-server.js';
import { SC_LEGACY_PING, SC_PING } from './sc-wire.js';
import { createWsEngine, type WsEngine } from './ws-engine.js';

/**
 * `wsEngine` as @types/socketcluster-server declares it (its `Server` typed as an instance, and
 * against ws's CommonJS typings): our engine is cast to it once, below.
 */
type SocketClusterWsEngine = Exclude<NonNullable<NonNullable<Parameters<typeof socketClusterServer.attach>[1]>['wsEngine']>, string>;

/** The socketcluster-server options `hardenedServerOptions` returns; spread them into `attach(httpServer, {...})`. */
export interface HardenedServerOptions {
  /** sc-formatter's wire format; refuses Object.prototype names and nesting past `MAX_PACKET_DEPTH` at decode. */
  codecEngine: CodecEngine;
  /** ws with `maxConnections`, the outbound buffer limit, repeated-handshake refusal and optional frame batching. Its `counters` and `close()` are for the caller. */
  wsEngine: WsEngine & SocketClusterWsEngine;
  /** Largest inbound message, bytes. */
  maxPayload: number;
  /** Time to finish the SocketCluster handshake, ms. */
  handshakeTimeout: number;
  /** Most channels per socket; falsy: none. */
  socketChannelLimit: number;
  /** With the engine's heartbeat: socketcluster-server's own pings and ping timeout are off, and these are the ones in force. */
  pingTimeoutDisabled?: true;
  pingInterval?: number;
  pingTimeout?: number;
  protocolVersion?: 1 | 2;
}

/** socketcluster's ping settings, by their socketcluster-server option names. */
export interface HeartbeatSettings {
  /** ms between the pings each socket is sent. */
  pingInterval: number;
  /** ms of silence after which a socket is closed with 4001 (also what clients are told in the handshake). */
  pingTimeout: number;
  /** The protocol's ping: `''` for 2, `'#1'` for 1. */
  protocolVersion: 1 | 2;
}

/** Choices beyond the limits. */
export interface HardeningChoices {
  /** Batch each socket's JSON-object frames per event-loop turn (default false). */
  batchFrames?: boolean;
  /** A codec other than sc-formatter whose wire format to keep; the refusals are put in front of it. */
  codec?: CodecEngine;
  /**
   * Pings kept by the ws engine (one timer for every socket, see ws-engine.ts) instead of by
   * socketcluster-server (two timers per socket): the returned options switch the server's own off
   * and carry these settings, so the handshake tells clients the same ping timeout. Absent: the
   * server's own heartbeat, untouched.
   */
  heartbeat?: HeartbeatSettings;
}

/**
 * The socketcluster-server options that harden a server and enforce `limits`:
 * `socketClusterServer.attach(httpServer, { ...hardenedServerOptions(limits, logger), ...yours })`.
 * Call once per server: the ws engine it holds counts that server's connections. Call
 * `wsEngine.close()` when the server closes (it sends frames still batched).
 */
export function hardenedServerOptions(limits: Readonly<ServerLimits>, logger: Logger, choices: HardeningChoices = {}): HardenedServerOptions {
  const heartbeat = choices.heartbeat;
  return {
    codecEngine: choices.codec === undefined ? safeCodec : safeCodecFor(choices.codec),
    wsEngine: createWsEngine({
      maxConnections: limits.maxConnections,
      maxOutboundBufferBytes: limits.maxOutboundBufferBytes,
      batchFrames: choices.batchFrames ?? false,
      heartbeat:
        heartbeat === undefined
          ? null
          : { intervalMs: heartbeat.pingInterval, timeoutMs: heartbeat.pingTimeout, ping: heartbeat.protocolVersion === 1 ? SC_LEGACY_PING : SC_PING },
      logger,
    }) as WsEngine & SocketClusterWsEngine,
    ...limitServerOptions(limits),
    ...(heartbeat === undefined ? {} : { pingTimeoutDisabled: true, ...heartbeat }),
  };
}

/**
 * Hardens a server that was built without `hardenedServerOptions` (a cluster plugin user's own):
 * installs the refusing codec with `setCodecEngine`, in front of the codec the server has (pass it
 * as `codec` if it is not sc-formatter, so its wire format is kept). Connection and buffer limits
 * need the `wsEngine` option at construction and are not applied here.
 */
export function harden(agServer: AGServer, codec?: CodecEngine): void {
  agServer.setCodecEngine(codec === undefined ? safeCodec : safeCodecFor(codec));
}
