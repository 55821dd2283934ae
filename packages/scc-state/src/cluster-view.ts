/**
 * A read-only view of the cluster on the state server's port: `GET /cluster.json` and the same as a
 * small page at `GET /cluster`. With `?channel=NAME` it names the broker that owns the channel,
 * computed with the mapping engine the workers use, over the broker list the workers hold now.
 * Internal: it lists every instance's address, so it must not be exposed outside the cluster.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_MAPPING_ENGINE, MAPPING_ENGINES, MAX_CLIENT_POOL_SIZE, createMapper, hashToIndex, isMappingEngineName, queryOf, type MappingEngineName } from '@scc-ts/shared';
import type { Member, Registry } from './registry.js';
import type { ListKind } from './notifier.js';
import type { LinkView } from './links.js';

export const CLUSTER_VIEW_PATH = '/cluster';
export const CLUSTER_JSON_PATH = '/cluster.json';

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

export interface ClusterSnapshot {
  generatedAt: string;
  brokers: Array<{ uri: string; instanceId: string | null; joinedAt: string }>;
  workers: Array<{ uri: string; instanceId: string | null; joinedAt: string }>;
  lastPush: Record<ListKind, (BroadcastRecord & { at: string }) | null>;
  pushPending: Record<ListKind, boolean>;
  /** Worker → broker links reported unreachable, and brokers withdrawn for it (times as ISO strings). */
  links: {
    unreachable: Array<{ worker: string; broker: string; since: string }>;
    withdrawn: Array<{ broker: string; since: string; workers: string[] }>;
  };
  channel?: ChannelOwner;
}

/** Thrown for unusable query parameters; answered with 400. */
class BadViewQueryError extends Error {
  override readonly name = 'BadViewQueryError';
}

export interface ClusterViewOptions {
  registry: Registry;
  /** Whether a debounced push of the list is waiting to fire. */
  pending: (kind: ListKind) => boolean;
  /** Unreachable links and withdrawn brokers; none when left out. */
  links?: () => LinkView;
  /** The broker list published now (joined, less withdrawn); all joined brokers when left out. */
  published?: () => string[];
}

export class ClusterView {
  private readonly last: Record<ListKind, BroadcastRecord | null> = { brokers: null, workers: null };

  constructor(private readonly options: ClusterViewOptions) {}

  /** Records a broadcast (the notifier's `onBroadcast`). */
  recordBroadcast(kind: ListKind, uris: readonly string[], time: number): void {
    this.last[kind] = { time, uris: [...uris] };
  }

  /** The view as data; throws BadViewQueryError for bad parameters. */
  snapshot(query: URLSearchParams): ClusterSnapshot {
    const { registry, pending } = this.options;
    const member = (m: Member) => ({ uri: m.uri, instanceId: m.instanceId, joinedAt: new Date(m.joinedAt).toISOString() });
    const record = (kind: ListKind) => {
      const r = this.last[kind];
      return r ? { ...r, at: new Date(r.time).toISOString() } : null;
    };
    const snapshot: ClusterSnapshot = {
      generatedAt: new Date().toISOString(),
      brokers: registry.brokerMembers().map(member),
      workers: registry.workerMembers().map(member),
      lastPush: { brokers: record('brokers'), workers: record('workers') },
      pushPending: { brokers: pending('brokers'), workers: pending('workers') },
      links: this.links(),
    };
    const channel = query.get('channel');
    if (channel !== null) snapshot.channel = this.owner(channel, query);
    return snapshot;
  }

  private links(): ClusterSnapshot['links'] {
    const view = this.options.links?.() ?? { unreachable: [], withdrawn: [] };
    const iso = (ms: number) => new Date(ms).toISOString();
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
    res.writeHead(200, {
      'Content-Type': html ? 'text/html; charset=utf-8' : 'application/json',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(html ? renderPage(snapshot) : JSON.stringify(snapshot));
    return true;
  }
}

function ownerOf(engine: MappingEngineName, uris: readonly string[], channel: string): string | null {
  if (uris.length === 0) return null;
  const mapper = createMapper(engine);
  mapper.setSites([...uris]);
  return mapper.findSite(channel);
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function renderPage(s: ClusterSnapshot): string {
  const rows = (list: ClusterSnapshot['brokers']) =>
    list.length === 0
      ? '<tr><td colspan="3">(none)</td></tr>'
      : list.map((m) => `<tr><td>${escapeHtml(m.uri)}</td><td>${escapeHtml(m.instanceId ?? '-')}</td><td>${m.joinedAt}</td></tr>`).join('');
  const push = (kind: ListKind) => {
    const r = s.lastPush[kind];
    return `${r ? `${r.at} (${r.uris.length} ${kind})` : 'never'}${s.pushPending[kind] ? ', a push is pending' : ''}`;
  };
  const c = s.channel;
  const channelResult = c
    ? `<p>Channel <code>${escapeHtml(c.name)}</code> → broker <code>${escapeHtml(c.broker ?? '(no brokers)')}</code>, pool index ${c.poolIndex} of ${c.poolSize} (${c.engine})${
        c.brokerAfterPendingPush === undefined ? '' : `; after the pending push: <code>${escapeHtml(c.brokerAfterPendingPush ?? '(no brokers)')}</code>`
      }</p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SCC cluster</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}</style>
</head><body>
<h1>SCC cluster</h1>
<p>Generated ${s.generatedAt}. Internal view: do not expose publicly. JSON at <a href="${CLUSTER_JSON_PATH}">${CLUSTER_JSON_PATH}</a>.</p>
<h2>Brokers (${s.brokers.length})</h2>
<table><tr><th>URI</th><th>instance id</th><th>joined</th></tr>${rows(s.brokers)}</table>
<p>Last broker-list push: ${push('brokers')}</p>
<h2>Workers (${s.workers.length})</h2>
<table><tr><th>URI</th><th>instance id</th><th>joined</th></tr>${rows(s.workers)}</table>
<p>Last worker-list push: ${push('workers')}</p>
<h2>Links</h2>
${linksHtml(s.links)}
<h2>Channel owner</h2>
<form method="get" action="${CLUSTER_VIEW_PATH}"><input name="channel" placeholder="channel name" value="${escapeHtml(c?.name ?? '')}">
<select name="engine">${engineOptions(c?.engine ?? DEFAULT_MAPPING_ENGINE)}</select>
pool size <input name="poolSize" type="number" min="1" max="${MAX_CLIENT_POOL_SIZE}" value="${c?.poolSize ?? 1}" style="width:4em">
<button>Find broker</button></form>
${channelResult}
</body></html>
`;
}

function linksHtml(links: ClusterSnapshot['links']): string {
  const unreachable =
    links.unreachable.length === 0
      ? '<p>Every worker reaches every broker.</p>'
      : `<table><tr><th>worker</th><th>cannot reach broker</th><th>since</th></tr>${links.unreachable
          .map((l) => `<tr><td>${escapeHtml(l.worker)}</td><td>${escapeHtml(l.broker)}</td><td>${l.since}</td></tr>`)
          .join('')}</table>`;
  const withdrawn =
    links.withdrawn.length === 0
      ? ''
      : `<p>Withdrawn from the list: ${links.withdrawn.map((w) => `<code>${escapeHtml(w.broker)}</code> since ${w.since}`).join(', ')}</p>`;
  return unreachable + withdrawn;
}

/** The engine picker's options, the chosen one selected. */
function engineOptions(chosen: MappingEngineName): string {
  return MAPPING_ENGINES.map((name) => `<option${name === chosen ? ' selected' : ''}>${name}</option>`).join('');
}
