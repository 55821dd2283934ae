/**
 * Recovery for history channels (docs/history.md), on the worker a client is connected to. A
 * socket that subscribes a history channel is held by this stage until socketcluster-server tells
 * (its `subscription` event) with which options it subscribed:
 *
 * - no `sccHistory` in the options' data: a plain subscriber, handed to the engine's ordinary
 *   fan-out with what arrived meanwhile;
 * - `sccHistory: true` (or `{}`): envelopes with positions, from the live edge on;
 * - `sccHistory: {since: {epoch, offset}}`: the messages after `since` are fetched from the owner
 *   broker page by page (one page in flight per subscription) and replayed, then the live ones,
 *   each once and in order; a recovery notice first says whether the replay is complete.
 *
 * Live messages that arrive while a subscription is held or replaying wait in its buffer and follow
 * the replay, minus those the replay already carried (by offset). A hostile `since` is refused by
 * name: a notice with reason `InvalidPositionError`, then the socket is kicked out of the channel.
 *
 * It also answers the clients' history procedure (`sccHistory`) and the plugin's `history()`.
 */
import {
  CLIENT_HISTORY_PROCEDURE,
  DEFAULT_CLIENT_HISTORY_LIMIT,
  HistoryNotEnabledError,
  HistoryNotSubscribedError,
  HistoryUnavailableError,
  InvalidPayloadError,
  InvalidPositionError,
  MAX_HISTORY_PAGE,
  RecoveryReason,
  SUBSCRIBE_HISTORY_KEY,
  consume,
  parseLimit,
  parsePosition,
  type AGServer,
  type HistoryPage,
  type Logger,
  type MessageEnvelope,
  type Position,
  type RecoveryNotice,
  type RecoveryReasonName,
} from '@scc-ts/shared';
import type { HistoryHooks, SubscriberSocket } from '../broker-engine.js';
import type { ClusterStats } from './stats.js';

/** What recovery needs of the worker's broker engine (WorkerBrokerEngine). */
export interface RecoveryEngine {
  history: HistoryHooks | null;
  addPlainSubscriber(socket: SubscriberSocket, channel: string): void;
  encodePublish(channel: string, data: unknown): string;
  sendEncoded(socket: SubscriberSocket, text: string, channel: string, data: unknown): void;
}

/** A client socket as recovery uses it (AGServerSocket's public members). */
interface ClientSocket extends SubscriberSocket {
  kickOut(channel: string, message?: string): void;
  isSubscribed(channel: string): boolean;
  procedure(name: string): { createConsumer(): { next(): Promise<IteratorResult<HistoryRequest>>; return(): unknown } };
}

/** A client's `sccHistory` request (socketcluster-server's AGRequest). */
interface HistoryRequest {
  data: unknown;
  end(data?: unknown): void;
  error(error: Error): void;
}

/** Fetches a page of a channel's history from its owner broker (the router). */
export type FetchPage = (channel: string, since: Position | undefined, limit: number) => Promise<HistoryPage>;

export interface RecoveryOptions {
  isHistory: (channel: string) => boolean;
  fetch: FetchPage;
  /** Where recoveries, replayed messages and refusals are counted. */
  stats: ClusterStats;
  logger: Logger;
}

/** Live messages one held or replaying subscription may buffer; past it the socket is kicked out of the channel. */
export const MAX_RECOVERY_BUFFER = 10_000;

interface Buffered {
  data: unknown;
  position: Position | null;
}

/** One socket's subscription to one history channel that is not plain. */
interface Session {
  readonly socket: ClientSocket;
  readonly channel: string;
  mode: 'held' | 'replaying' | 'live';
  buffer: Buffered[];
  /** The epoch and last offset sent to the socket (null: none yet). */
  epoch: string | null;
  last: number;
  ended: boolean;
}

export class Recovery implements HistoryHooks {
  private readonly sessions = new Map<string, Map<SubscriberSocket, Session>>();
  private readonly stops: Array<() => void> = [];
  readonly isHistory: (channel: string) => boolean;

  constructor(
    private readonly agServer: AGServer,
    private readonly engine: RecoveryEngine,
    private readonly options: RecoveryOptions,
  ) {
    this.isHistory = options.isHistory;
  }

  /** Takes over the engine's history channels and listens for subscriptions and history requests. */
  install(): void {
    this.engine.history = this;
    const server = this.agServer as unknown as {
      listener(name: 'subscription'): { createConsumer(): { next(): Promise<IteratorResult<SubscriptionEvent>>; return(): unknown } };
      listener(name: 'connection'): { createConsumer(): { next(): Promise<IteratorResult<{ socket: ClientSocket }>>; return(): unknown } };
    };
    this.stops.push(consume(server.listener('subscription').createConsumer(), (event) => this.onSubscription(event)));
    this.stops.push(consume(server.listener('connection').createConsumer(), ({ socket }) => this.serveProcedure(socket)));
  }

  subscribed(socket: SubscriberSocket, channel: string): void {
    let sessions = this.sessions.get(channel);
    if (sessions === undefined) {
      sessions = new Map();
      this.sessions.set(channel, sessions);
    }
    // A repeated subscribe of the same socket keeps its session.
    if (sessions.has(socket)) return;
    sessions.set(socket, { socket: socket as ClientSocket, channel, mode: 'held', buffer: [], epoch: null, last: 0, ended: false });
  }

  unsubscribed(socket: SubscriberSocket, channel: string): void {
    const sessions = this.sessions.get(channel);
    const session = sessions?.get(socket);
    if (sessions === undefined || session === undefined) return;
    session.ended = true;
    session.buffer = [];
    sessions.delete(socket);
    if (sessions.size === 0) this.sessions.delete(channel);
  }

  positioned(channel: string, data: unknown, position: Position | null): void {
    const sessions = this.sessions.get(channel);
    if (sessions === undefined) return;
    let text: string | undefined;
    for (const session of sessions.values()) {
      if (session.mode !== 'live') {
        session.buffer.push({ data, position });
        if (session.buffer.length > MAX_RECOVERY_BUFFER) this.kick(session, `SlowRecoveryError: more than ${MAX_RECOVERY_BUFFER} live messages arrived during the replay`);
        continue;
      }
      if (this.isDuplicate(session, position)) continue;
      text ??= this.encodeMessage(channel, data, position);
      if (text === undefined) return;
      this.send(session, text, position);
    }
  }

  /** Whether the session has already been sent the message at `position`. */
  private isDuplicate(session: Session, position: Position | null): boolean {
    return position !== null && position.epoch === session.epoch && position.offset <= session.last;
  }

  private encodeMessage(channel: string, data: unknown, position: Position | null): string | undefined {
    const envelope: MessageEnvelope | { type: 'message'; epoch: null; offset: null; data: unknown } =
      position === null ? { type: 'message', epoch: null, offset: null, data } : { type: 'message', epoch: position.epoch, offset: position.offset, data };
    try {
      return this.engine.encodePublish(channel, envelope);
    } catch (error) {
      this.options.logger.warn(`history: a message on ${JSON.stringify(channel.slice(0, 100))} cannot be encoded: ${(error as Error).message}`);
      return undefined;
    }
  }

  private send(session: Session, text: string, position: Position | null): void {
    if (position !== null) {
      session.epoch = position.epoch;
      session.last = position.offset;
    }
    this.engine.sendEncoded(session.socket, text, session.channel, null);
  }

  private onSubscription(event: SubscriptionEvent): void {
    const { socket, channel } = event;
    const session = this.sessions.get(channel)?.get(socket);
    if (session === undefined || session.mode !== 'held') return;
    const data = event.subscriptionOptions?.data as Record<string, unknown> | null | undefined;
    const asked = data !== null && typeof data === 'object' ? data[SUBSCRIBE_HISTORY_KEY] : undefined;
    if (asked === undefined || asked === null || asked === false) {
      this.makePlain(session);
      return;
    }
    let since: Position | undefined;
    try {
      if (asked !== true) {
        if (typeof asked !== 'object' || Array.isArray(asked)) throw new InvalidPositionError(`${SUBSCRIBE_HISTORY_KEY} must be true or {since: {epoch, offset}}, got ${Array.isArray(asked) ? 'an array' : typeof asked}`);
        const raw = (asked as { since?: unknown }).since;
        if (raw !== undefined) since = parsePosition(raw, `${SUBSCRIBE_HISTORY_KEY}.since`);
      }
    } catch (error) {
      this.refuse(session, error as Error);
      return;
    }
    void this.start(session, since);
  }

  /** The socket wants plain data: it joins the ordinary fan-out after what was held for it. */
  private makePlain(session: Session): void {
    const buffered = session.buffer;
    this.unsubscribed(session.socket, session.channel);
    for (const { data } of buffered) this.sendPlain(session, data);
    this.engine.addPlainSubscriber(session.socket, session.channel);
  }

  private sendPlain(session: Session, data: unknown): void {
    let text: string;
    try {
      text = this.engine.encodePublish(session.channel, data);
    } catch {
      return;
    }
    this.engine.sendEncoded(session.socket, text, session.channel, data);
  }

  /** Fetches and replays what followed `since` (or only the live edge without it), then goes live. */
  private async start(session: Session, since: Position | undefined): Promise<void> {
    session.mode = 'replaying';
    const { channel } = session;
    let page: HistoryPage;
    try {
      page = await this.options.fetch(channel, since, since === undefined ? 0 : MAX_HISTORY_PAGE);
    } catch (error) {
      if (session.ended) return;
      const err = error as Error;
      if (err.name === 'InvalidPositionError') {
        this.refuse(session, err);
        return;
      }
      if (err.name !== HistoryUnavailableError.name) this.options.logger.warn(`history: recovery on ${JSON.stringify(channel.slice(0, 100))} failed: ${err.name}: ${err.message}`);
      this.notice(session, false, RecoveryReason.HistoryUnavailable, null, 0, 0);
      this.goLive(session);
      return;
    }
    if (session.ended) return;
    if (since === undefined) {
      this.notice(session, false, RecoveryReason.NoPosition, page.epoch, page.last, 0);
      this.goLive(session, page.epoch, page.last);
      return;
    }
    if (page.epoch !== since.epoch) {
      this.notice(session, false, RecoveryReason.EpochChanged, page.epoch, page.last, 0);
      this.goLive(session, page.epoch, page.last);
      return;
    }
    const missedFrom = since.offset + 1;
    if (page.last >= missedFrom && page.from !== missedFrom) {
      this.notice(session, false, RecoveryReason.TooOld, page.epoch, page.last, 0);
      this.goLive(session, page.epoch, page.last);
      return;
    }
    const target = page.last;
    this.notice(session, true, null, page.epoch, since.offset, target - since.offset);
    session.epoch = since.epoch;
    session.last = since.offset;
    this.sendPage(session, page);
    while (session.last < target && !session.ended) {
      try {
        page = await this.options.fetch(channel, { epoch: since.epoch, offset: session.last }, MAX_HISTORY_PAGE);
      } catch (error) {
        this.options.logger.warn(`history: replay on ${JSON.stringify(channel.slice(0, 100))} stopped: ${(error as Error).name}: ${(error as Error).message}`);
        break;
      }
      if (session.ended) return;
      // Evicted or lost meanwhile: what is left of the replay is gone; the live messages follow.
      if (page.epoch !== since.epoch || page.from !== session.last + 1 || page.messages.length === 0) break;
      this.sendPage(session, page);
    }
    if (session.ended) return;
    this.options.stats.historyReplayed += target - since.offset;
    this.goLive(session);
  }

  private sendPage(session: Session, page: HistoryPage): void {
    const epoch = page.epoch as string;
    for (let i = 0; i < page.messages.length; i++) {
      const position = { epoch, offset: page.from + i };
      if (this.isDuplicate(session, position)) continue;
      const text = this.encodeMessage(session.channel, page.messages[i], position);
      if (text !== undefined) this.send(session, text, position);
      else session.last = position.offset;
    }
  }

  /** After the replay: what was buffered (minus what the replay carried), then live. */
  private goLive(session: Session, epoch?: string | null, last?: number): void {
    if (epoch !== undefined) {
      session.epoch = epoch;
      session.last = last ?? 0;
    }
    const buffered = session.buffer;
    session.buffer = [];
    for (const { data, position } of buffered) {
      if (this.isDuplicate(session, position)) continue;
      const text = this.encodeMessage(session.channel, data, position);
      if (text !== undefined) this.send(session, text, position);
    }
    session.mode = 'live';
  }

  private notice(session: Session, recovered: boolean, reason: RecoveryReasonName | null, epoch: string | null, offset: number, replayed: number): void {
    if (recovered) this.options.stats.historyRecovered += 1;
    else this.options.stats.historyNotRecovered += 1;
    const notice: RecoveryNotice = { type: 'recovery', recovered, reason, epoch, offset, replayed };
    this.engine.sendEncoded(session.socket, this.engine.encodePublish(session.channel, notice), session.channel, notice);
  }

  /** A hostile position: a notice naming the refusal, then out of the channel. */
  private refuse(session: Session, error: Error): void {
    this.options.stats.historyRefused += 1;
    this.notice(session, false, RecoveryReason.InvalidPosition, null, 0, 0);
    this.kick(session, `${error.name}: ${error.message}`);
  }

  private kick(session: Session, message: string): void {
    this.unsubscribed(session.socket, session.channel);
    try {
      session.socket.kickOut(session.channel, message);
    } catch {
      // The socket is closing: nothing to tell it.
    }
  }

  /** The clients' history procedure, on every socket (ended by socketcluster-server when the socket closes). */
  private serveProcedure(socket: ClientSocket): void {
    consume(socket.procedure(CLIENT_HISTORY_PROCEDURE).createConsumer(), (request) => {
      this.answer(socket, request).then(
        (page) => request.end(page),
        (error: Error) => request.error(error),
      );
    });
  }

  private async answer(socket: ClientSocket, request: HistoryRequest): Promise<HistoryPage> {
    const body = request.data;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidPayloadError(`${CLIENT_HISTORY_PROCEDURE} needs {channel, limit?, since?}`);
    const { channel, limit, since } = body as { channel?: unknown; limit?: unknown; since?: unknown };
    if (typeof channel !== 'string') throw new InvalidPayloadError(`${CLIENT_HISTORY_PROCEDURE} needs a channel name string`);
    // Checked by history(), as what server code passes.
    return this.history(channel, { limit, since }, socket);
  }

  /**
   * A page of a history channel's history: the last `limit` messages, or what followed `since`. With
   * `socket`, only for a channel it is subscribed to.
   */
  history(channel: string, query: { limit?: unknown; since?: unknown } = {}, socket?: ClientSocket): Promise<HistoryPage> {
    let limit: number;
    let since: Position | undefined;
    try {
      limit = parseLimit(query.limit, DEFAULT_CLIENT_HISTORY_LIMIT);
      since = query.since === undefined ? undefined : parsePosition(query.since, 'since');
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (!this.isHistory(channel)) return Promise.reject(new HistoryNotEnabledError(`${JSON.stringify(channel.slice(0, 100))} keeps no history (it matches no SCC_HISTORY_CHANNELS prefix)`));
    if (socket !== undefined && !socket.isSubscribed(channel)) {
      return Promise.reject(new HistoryNotSubscribedError(`subscribe to ${JSON.stringify(channel.slice(0, 100))} before asking for its history`));
    }
    return this.options.fetch(channel, since, limit);
  }

  close(): void {
    for (const stop of this.stops) stop();
    if (this.engine.history === this) this.engine.history = null;
    for (const sessions of this.sessions.values()) for (const session of sessions.values()) session.ended = true;
    this.sessions.clear();
  }
}

/** socketcluster-server's `subscription` event. */
interface SubscriptionEvent {
  socket: ClientSocket;
  channel: string;
  subscriptionOptions?: { data?: unknown } | null;
}
