/**
 * A read-only view of the cluster on the state server's port: `GET /cluster.json` and the same as
 * the dashboard page at `GET /cluster` (dashboard-page.ts; live through dashboard.ts). With
 * `?channel=NAME` it names the broker that owns the channel, computed with the mapping engine the
 * workers use, over the broker list the workers hold now. Besides membership it shows what the
 * peers report (`sccStats`, peer-stats.ts), the handover in progress and recent membership events.
 * Internal: it lists every instance's address, so it must not be exposed outside the cluster.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_MAPPING_ENGINE, InstanceType, MAPPING_ENGINES, MAX_CLIENT_POOL_SIZE, createMapper, hashToIndex, isMappingEngineName, queryOf, type HandoverPhase, type MappingEngineName } from '@scc-ts/shared';
import type { Member, Registry } from './registry.js';
import type { ListKind } from './notifier.js';
import type { PeerStats } from './peer-stats.js';
import type { EventLog, MembershipEventKind } from './event-log.js';
import type { HandoverProgress } from './handover.js';
import { pagePolicy, renderPage } from './dashboard-page.js';
import type { LinkView as UnreachableLinks } from './links.js';
import type { ReplicaView } from './leadership/replica.js';

export const CLUSTER_VIEW_PATH = '/cluster';
export const CLUSTER_JSON_PATH = '/cluster.json';

/** Random bytes in the page's CSP nonce. */
const NONCE_BYTES = 16;

/** Longest channel name the view maps (names are hashed, not stored). */
const MAX_CHANNEL_LENGTH = 1024;

/** The last broadcast of one list. */
export interface BroadcastRecord {
  /** The list's `time` as sent (ms since the epoch). */
  time: number;
  uris: string[];
}

export interface ChannelOwner {
  name: string;
  engine: MappingEngineName;
  /** Owning broker URI under the list the workers hold now; null without brokers. */
  broker: string | null;
  /** Which of a worker's `poolSize` connections to that broker carries the channel. */
  poolSize: number;
  poolIndex: number;
  /** While a broker-list push is pending: the owner once it lands. */
  brokerAfterPendingPush?: string | null;
}

/** A worker's link to one broker, as its last report said. */
export interface LinkView {
  broker: string;
  up: boolean;
  /** When the worker last heard the broker (as of its report); null: never. */
  lastHeardAt: string | null;
  /** Of the worker's channels, how many this broker owns. */
  channels: number;
}

/** What a member's last good `sccStats` report says; null on a member that sent none (an original peer, or stats off). */
export interface FiguresView {
  receivedAt: string;
  /** How old the report is, ms. */
  ageMs: number;
  uptimeMs: number;
  connections: number;
  channels: number;
  rssBytes: number;
  messagesIn: number;
  messagesOut: number;
  /** Null until two reports (or after the peer restarted). */
  messagesInPerSecond: number | null;
  messagesOutPerSecond: number | null;
  cpuPercent: number | null;
  /** Oldest first, for sparklines. */
  history: { messagesInPerSecond: number[]; messagesOutPerSecond: number[]; connections: number[] };
  /** Workers: one per broker in use. */
  links?: LinkView[];
}

export interface MemberView {
  uri: string;
  instanceId: string | null;
  joinedAt: string;
  figures: FiguresView | null;
  /** Malformed `sccStats` reports refused from this member. */
  statsRefused: number;
  /** Workers: joined with `sccHandover: true` (ours); an original worker does not. */
  sccHandover?: boolean;
}

export interface HandoverView {
  time: number;
  phase: HandoverPhase;
  startedAt: string;
  phaseStartedAt: string;
  /** Worker URIs taking part, and those the phase still waits for. */
  participants: string[];
  waiting: string[];
}

/** Links workers report unreachable (links.ts), and brokers withdrawn from the list for it. */
export interface PartitionView {
  unreachable: Array<{ worker: string; broker: string; since: string }>;
  withdrawn: Array<{ broker: string; since: string; workers: string[] }>;
}

export interface ClusterSnapshot {
  generatedAt: string;
  brokers: MemberView[];
  workers: MemberView[];
  lastPush: Record<ListKind, (BroadcastRecord & { at: string }) | null>;
  pushPending: Record<ListKind, boolean>;
  channel?: ChannelOwner;
  /** Channels with a subscriber on each broker, as each reported (null: no figures). */
  channelSpread: Array<{ broker: string; channels: number | null }>;
  handover: HandoverView | null;
  /** Newest first, bounded (event-log.ts). */
  events: Array<{ at: string; kind: MembershipEventKind; text: string; uri?: string }>;
  links: PartitionView;
  dashboard: { intervalMs: number; clients: number; maxClients: number };
  /** Replicated state servers: the leader, its term, the replicas; null for the single state server. */
  replication: ReplicationView | null;
}

/** The replicas as the leader sees them (leadership/replica.ts), with its term and who has yet to re-join. */
export type ReplicationView = ReplicaView & {
  term: number;
  rejoining: { brokers: string[]; workers: string[] };
  /** Whether the leader still waits for members of the last record to re-join. */
  settling: boolean;
};

/** Thrown for unusable query parameters; answered with 400. */
class BadViewQueryError extends Error {
  override readonly name = 'BadViewQueryError';
}

export interface ClusterViewOptions {
  registry: Registry;
  /** Whether a debounced push of the list is waiting to fire. */
  pending: (kind: ListKind) => boolean;
  /** The members' `sccStats` figures; without it every member shows none. */
  figures?: PeerStats;
  events?: EventLog;
  handover?: () => HandoverProgress | null;
  /** Whether the worker on this socket joined with `sccHandover: true`. */
  coordinated?: (socketId: string) => boolean;
  /** The live dashboard's settings and audience. */
  dashboard?: () => ClusterSnapshot['dashboard'];
  /** Unreachable links and withdrawn brokers; none when left out. */
  links?: () => UnreachableLinks;
  /** The broker list published now (joined, less withdrawn); all joined brokers when left out. */
  published?: () => string[];
  /** Replicated state servers only. */
  replication?: () => ReplicationView;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export class ClusterView {
  private readonly last: Record<ListKind, BroadcastRecord | null> = { brokers: null, workers: null };

  constructor(private readonly options: ClusterViewOptions) {}

  /** Records a broadcast (the notifier's `onBroadcast`). */
  recordBroadcast(kind: ListKind, uris: readonly string[], time: number): void {
    this.last[kind] = { time, uris: [...uris] };
  }

  /** The view as data; throws BadViewQueryError for bad parameters. */
  snapshot(query: URLSearchParams, now = Date.now()): ClusterSnapshot {
    const { registry, pending } = this.options;
    const record = (kind: ListKind) => {
      const r = this.last[kind];
      return r ? { ...r, at: iso(r.time) } : null;
    };
    const brokers = registry.brokerMembers().map((m) => this.member(m, now));
    const workerURI = (socketId: string) => registry.memberOf(InstanceType.Worker, socketId)?.uri ?? `(socket ${socketId})`;
    const progress = this.options.handover?.() ?? null;
    const snapshot: ClusterSnapshot = {
      generatedAt: iso(now),
      brokers,
      workers: registry.workerMembers().map((m) => this.member(m, now)),
      lastPush: { brokers: record('brokers'), workers: record('workers') },
      pushPending: { brokers: pending('brokers'), workers: pending('workers') },
      channelSpread: brokers.map((b) => ({ broker: b.uri, channels: b.figures?.channels ?? null })),
      handover: progress && {
        time: progress.time,
        phase: progress.phase,
        startedAt: iso(progress.startedAt),
        phaseStartedAt: iso(progress.phaseStartedAt),
        participants: progress.participants.map(workerURI),
        waiting: progress.waiting.map(workerURI),
      },
      events: (this.options.events?.recent() ?? []).map((e) => ({ ...e, at: iso(e.at) })),
      links: this.links(),
      dashboard: this.options.dashboard?.() ?? { intervalMs: 0, clients: 0, maxClients: 0 },
      replication: this.options.replication?.() ?? null,
    };
    const channel = query.get('channel');
    if (channel !== null) snapshot.channel = this.owner(channel, query);
    return snapshot;
  }

  private member(m: Member, now: number): MemberView {
    const stats = this.options.figures;
    const view: MemberView = { uri: m.uri, instanceId: m.instanceId, joinedAt: iso(m.joinedAt), figures: null, statsRefused: stats?.refused(m.socketId) ?? 0 };
    if (m.instanceType === InstanceType.Worker) view.sccHandover = this.options.coordinated?.(m.socketId) ?? false;
    const f = stats?.figures(m.socketId);
    if (!f) return view;
    const { report, rates } = f;
    view.figures = {
      receivedAt: iso(f.receivedAt),
      ageMs: Math.max(0, now - f.receivedAt),
      uptimeMs: report.uptimeMs,
      connections: report.connections,
      channels: report.channels,
      rssBytes: report.rssBytes,
      messagesIn: report.messagesIn,
      messagesOut: report.messagesOut,
      messagesInPerSecond: rates?.messagesInPerSecond ?? null,
      messagesOutPerSecond: rates?.messagesOutPerSecond ?? null,
      cpuPercent: rates?.cpuPercent ?? null,
      history: {
        messagesInPerSecond: [...f.history.messagesInPerSecond],
        messagesOutPerSecond: [...f.history.messagesOutPerSecond],
        connections: [...f.history.connections],
      },
    };
    if (report.links) {
      view.figures.links = report.links.map((l) => ({
        broker: l.broker,
        up: l.up,
        lastHeardAt: l.lastHeardAgoMs === null ? null : iso(f.receivedAt - l.lastHeardAgoMs),
        channels: l.channels,
      }));
    }
    return view;
  }

  private links(): PartitionView {
    const view = this.options.links?.() ?? { unreachable: [], withdrawn: [] };
    return {
      unreachable: view.unreachable.map((l) => ({ worker: l.worker, broker: l.broker, since: iso(l.since) })),
      withdrawn: view.withdrawn.map((w) => ({ broker: w.broker, since: iso(w.since), workers: w.workers })),
    };
  }

  private owner(name: string, query: URLSearchParams): ChannelOwner {
    if (name.length > MAX_CHANNEL_LENGTH) throw new BadViewQueryError(`channel must be at most ${MAX_CHANNEL_LENGTH} characters`);
    const engine = query.get('engine') ?? DEFAULT_MAPPING_ENGINE;
    if (!isMappingEngineName(engine)) throw new BadViewQueryError(`engine must be one of ${MAPPING_ENGINES.join(', ')}`);
    const poolSize = Number(query.get('poolSize') ?? '1');
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > MAX_CLIENT_POOL_SIZE) {
      throw new BadViewQueryError(`poolSize must be an integer from 1 to ${MAX_CLIENT_POOL_SIZE}`);
    }
    const current = this.options.published?.() ?? this.options.registry.brokerURIs();
    const pushPending = this.options.pending('brokers');
    // Until a pending push lands, workers still route by the last list broadcast to them.
    const inUse = pushPending && this.last.brokers ? this.last.brokers.uris : current;
    const owner: ChannelOwner = { name, engine, broker: ownerOf(engine, inUse, name), poolSize, poolIndex: hashToIndex(name, poolSize) };
    if (pushPending) owner.brokerAfterPendingPush = ownerOf(engine, current, name);
    return owner;
  }

  /** Serves `/cluster.json` and `/cluster`; returns false for other paths. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== CLUSTER_JSON_PATH && path !== CLUSTER_VIEW_PATH) return false;
    const html = path === CLUSTER_VIEW_PATH;
    let snapshot: ClusterSnapshot;
    try {
      snapshot = this.snapshot(queryOf(req.url));
    } catch (error) {
      if (!(error instanceof BadViewQueryError)) throw error;
      res.writeHead(400, { 'Content-Type': html ? 'text/plain; charset=utf-8' : 'application/json' });
      res.end(html ? error.message : JSON.stringify({ error: error.name, message: error.message }));
      return true;
    }
    // A fresh nonce per page: the CSP then runs only the page's own inline script and style.
    const nonce = html ? randomBytes(NONCE_BYTES).toString('base64') : '';
    res.writeHead(200, {
      'Content-Type': html ? 'text/html; charset=utf-8' : 'application/json',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...(html && { 'Content-Security-Policy': pagePolicy(nonce), 'Referrer-Policy': 'no-referrer' }),
    });
    res.end(html ? renderPage(snapshot, { json: CLUSTER_JSON_PATH, view: CLUSTER_VIEW_PATH }, nonce) : JSON.stringify(snapshot));
    return true;
  }
}

function ownerOf(engine: MappingEngineName, uris: readonly string[], channel: string): string | null {
  if (uris.length === 0) return null;
  const mapper = createMapper(engine);
  mapper.setSites([...uris]);
  return mapper.findSite(channel);
}
