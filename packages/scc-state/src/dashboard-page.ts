/**
 * The /cluster page: the membership tables rendered on the server (readable without scripts), then
 * a small inline script (no external script or CDN: the state server may have no internet, and the
 * page's CSP allows only this nonce) that follows `/cluster/events` and redraws every section with
 * live figures, sparklines, link health, the channel spread, the handover in progress and recent
 * events. With `?playground=http://127.0.0.1:PORT` it also shows the local playground's controls,
 * which POST to that API (loopback only). Internal: it must not be exposed publicly.
 */
import { DEFAULT_MAPPING_ENGINE, MAPPING_ENGINES, MAX_CLIENT_POOL_SIZE, type MappingEngineName } from '@scc-ts/shared';
import type { ClusterSnapshot } from './cluster-view.js';
import { DASHBOARD_EVENTS_PATH } from './dashboard.js';
import type { ListKind } from './notifier.js';

/** The playground API's actions (its `POST /actions/{name}`), in the order the buttons show them. */
export const PLAYGROUND_ACTIONS = Object.freeze(['add-broker', 'drain-broker', 'kill-broker', 'add-worker', 'remove-worker', 'restart-state'] as const);

/**
 * The page's Content-Security-Policy: only the inline script and style carrying `nonce`, requests
 * to this server and to a loopback playground API, nothing else.
 */
export function pagePolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    'img-src data:',
    "connect-src 'self' http://127.0.0.1:* http://localhost:*",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The whole page for `snapshot`; `nonce` marks the inline script and style the CSP allows. */
export function renderPage(s: ClusterSnapshot, paths: { json: string; view: string }, nonce: string): string {
  const rows = (list: ClusterSnapshot['brokers']) =>
    list.length === 0
      ? '<tr><td colspan="3">(none)</td></tr>'
      : list.map((m) => `<tr data-uri="${escapeHtml(m.uri)}"><td>${escapeHtml(m.uri)}</td><td>${escapeHtml(m.instanceId ?? '-')}</td><td>${m.joinedAt}</td></tr>`).join('');
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
  const r = s.replication;
  const replication = r
    ? `${escapeHtml(r.store)}, term ${r.term}: leader <code>${escapeHtml(r.self.id)}</code> (${escapeHtml(r.self.address)})${
        r.replicas ? `; replicas ${r.replicas.map((x) => `${escapeHtml(x.id)} (${x.role})`).join(', ')}` : ''
      }${r.settling ? '; waiting for members of the last record to re-join' : ''}`
    : 'a single state server';
  const config = JSON.stringify({ events: DASHBOARD_EVENTS_PATH, actions: PLAYGROUND_ACTIONS }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>SCC cluster</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head><body>
<header><h1>SCC cluster</h1><span id="live" class="badge off">static</span></header>
<p class="warn"><strong>Internal view: do not expose publicly.</strong> It lists every instance's address and answers without authentication: keep the state server's port inside the cluster.
JSON at <a href="${paths.json}">${paths.json}</a>, live updates at <code>${DASHBOARD_EVENTS_PATH}</code>.</p>
<p class="meta">Generated <span id="generated">${s.generatedAt}</span><span id="refresh"></span>.</p>
<p>State servers: <span id="replication">${replication}</span></p>
<section id="playground" hidden><h2>Playground</h2><div id="playground-buttons"></div><pre id="playground-answer"></pre></section>
<h2>Brokers (<span id="broker-count">${s.brokers.length}</span>)</h2>
<table id="brokers"><tr><th>URI</th><th>instance id</th><th>joined</th></tr>${rows(s.brokers)}</table>
<p>Last broker-list push: <span id="push-brokers">${push('brokers')}</span></p>
<h2>Channels over brokers</h2>
<div id="spread"><p class="meta">waiting for live figures…</p></div>
<h2>Workers (<span id="worker-count">${s.workers.length}</span>)</h2>
<table id="workers"><tr><th>URI</th><th>instance id</th><th>joined</th></tr>${rows(s.workers)}</table>
<p>Last worker-list push: <span id="push-workers">${push('workers')}</span></p>
<h2>Links between workers and brokers</h2>
<div id="links"><p class="meta">waiting for live figures…</p></div>
<h2>Partitions</h2>
<div id="partitions"><p class="meta">none reported</p></div>
<h2>Handover</h2>
<p id="handover">${s.handover ? `broker list ${s.handover.time}: phase ${s.handover.phase}` : 'none in progress'}</p>
<h2>Recent membership events</h2>
<ul id="events" class="events"></ul>
<h2>Channel owner</h2>
<form method="get" action="${paths.view}"><input name="channel" placeholder="channel name" value="${escapeHtml(c?.name ?? '')}">
<select name="engine">${engineOptions(c?.engine ?? DEFAULT_MAPPING_ENGINE)}</select>
pool size <input name="poolSize" type="number" min="1" max="${MAX_CLIENT_POOL_SIZE}" value="${c?.poolSize ?? 1}" class="narrow">
<button>Find broker</button></form>
${channelResult}
<script nonce="${nonce}">var SCC_DASHBOARD = ${config};
${SCRIPT}</script>
</body></html>
`;
}

/** The engine picker's options, the chosen one selected. */
function engineOptions(chosen: MappingEngineName): string {
  return MAPPING_ENGINES.map((name) => `<option${name === chosen ? ' selected' : ''}>${name}</option>`).join('');
}

const STYLE = `
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
header{display:flex;align-items:center;gap:1em}h1{margin:0}h2{margin:1.2em 0 .4em;font-size:1.1em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:middle}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}th{background:#f4f4f4}
.warn{background:#fff4e5;border:1px solid #f0b566;padding:.4em .7em}.meta{color:#666}
.badge{padding:.1em .6em;border-radius:1em;font-size:.85em;color:#fff;background:#888}.badge.on{background:#2a7d2a}.badge.err{background:#b33}
.spark{vertical-align:middle;margin-left:.4em}.spark polyline{fill:none;stroke:#2566c4;stroke-width:1.5}
.none{color:#777;font-style:italic}.up{background:#e6f4e6}.down{background:#fbe3e3}
.bar{display:flex;align-items:center;gap:.5em;margin:.15em 0}.bar span.fill{display:inline-block;height:.9em;background:#2566c4;min-width:1px}
.bar code{min-width:14em}.events{max-height:18em;overflow:auto;list-style:none;padding-left:0}.events .kind{font-weight:600}
.narrow{width:4em}#playground button{margin:0 .4em .4em 0}#playground-answer{background:#f6f6f6;padding:.4em;white-space:pre-wrap;max-height:12em;overflow:auto}
`;

/**
 * The page's script: plain ES2017 for any current browser, DOM built with textContent (nothing the
 * server sends is parsed as HTML). Written without template literals, as it sits inside one.
 */
const SCRIPT = String.raw`(function () {
  'use strict';
  var cfg = SCC_DASHBOARD;
  var SVG = 'http://www.w3.org/2000/svg';
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function num(v) {
    if (v == null) return '–';
    return Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
  }
  // A UUID's first block tells instances apart at a glance; the whole id is in the tooltip.
  function short(id) { return !id ? '-' : id.length > 12 ? id.slice(0, 8) + '…' : id; }
  function mb(bytes) { return (bytes / 1048576).toFixed(1) + ' MB'; }
  function clock(iso) { return new Date(iso).toLocaleTimeString(); }
  function ago(iso, now) {
    if (!iso) return 'never';
    var s = (now - Date.parse(iso)) / 1000;
    return s < 0.1 ? 'just now' : s.toFixed(1) + ' s ago';
  }
  function spark(values, label) {
    var w = 80, h = 20, svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('width', w); svg.setAttribute('height', h); svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('class', 'spark'); svg.setAttribute('role', 'img'); svg.setAttribute('aria-label', label);
    if (values.length < 2) return svg;
    var max = Math.max.apply(null, values.concat([1]));
    var points = values.map(function (v, i) {
      return (i * w / (values.length - 1)).toFixed(1) + ',' + (h - 1 - (v / max) * (h - 2)).toFixed(1);
    });
    var line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', points.join(' '));
    svg.appendChild(line);
    return svg;
  }
  function cell(cls, text, series, label) {
    return el('td', { class: 'n ' + cls }, [el('span', { class: 'v', text: text }), series ? spark(series, label) : null]);
  }
  function noFigures(m) {
    if (m.sccHandover === true) return 'no figures yet';
    return 'original (no figures)';
  }
  var HEAD = ['URI', 'instance id', 'joined', 'connections', 'channels', 'msgs in/s', 'msgs out/s', 'CPU', 'RSS', 'figures'];
  function memberTable(id, list) {
    var table = el('table', { id: id }, [el('tr', {}, HEAD.map(function (h) { return el('th', { text: h }); }))]);
    if (list.length === 0) table.appendChild(el('tr', {}, [el('td', { colspan: HEAD.length, class: 'none', text: '(none)' })]));
    list.forEach(function (m) {
      var row = el('tr', { 'data-uri': m.uri }, [el('td', {}, [el('code', { text: m.uri })]), el('td', { title: m.instanceId || '', text: short(m.instanceId) }), el('td', { text: clock(m.joinedAt) })]);
      var f = m.figures;
      if (!f) {
        row.appendChild(el('td', { colspan: HEAD.length - 3, class: 'none figures', title: 'no sccStats report received: an original peer, or SCC_STATS_INTERVAL=0', text: noFigures(m) }));
      } else {
        row.appendChild(cell('connections', String(f.connections), f.history.connections, 'connections'));
        row.appendChild(cell('channels', String(f.channels)));
        row.appendChild(cell('in', num(f.messagesInPerSecond), f.history.messagesInPerSecond, 'messages in per second'));
        row.appendChild(cell('out', num(f.messagesOutPerSecond), f.history.messagesOutPerSecond, 'messages out per second'));
        row.appendChild(cell('cpu', f.cpuPercent == null ? '–' : num(f.cpuPercent) + ' %'));
        row.appendChild(cell('rss', mb(f.rssBytes)));
        row.appendChild(el('td', { class: 'figures', text: (f.ageMs / 1000).toFixed(1) + ' s old' + (m.statsRefused ? ', ' + m.statsRefused + ' refused' : '') }));
      }
      table.appendChild(row);
    });
    return table;
  }
  function pushText(s, kind) {
    var r = s.lastPush[kind];
    return (r ? clock(r.at) + ' (' + r.uris.length + ' ' + kind + ')' : 'never') + (s.pushPending[kind] ? ', a push is pending' : '');
  }
  function spread(s) {
    var box = el('div', { id: 'spread' });
    var total = s.channelSpread.reduce(function (a, b) { return a + (b.channels || 0); }, 0);
    if (s.channelSpread.length === 0) box.appendChild(el('p', { class: 'none', text: 'no brokers' }));
    s.channelSpread.forEach(function (b) {
      var fill = el('span', { class: 'fill' });
      fill.style.width = (total ? (b.channels || 0) / total * 20 : 0) + 'em';
      box.appendChild(el('div', { class: 'bar', 'data-broker': b.broker }, [
        el('code', { text: b.broker }), fill,
        el('span', { text: b.channels == null ? 'no figures' : b.channels + (b.channels === 1 ? ' channel' : ' channels') + (total ? ' (' + Math.round(b.channels / total * 100) + ' %)' : '') }),
      ]));
    });
    return box;
  }
  function links(s, now) {
    var box = el('div', { id: 'links' });
    var brokers = s.brokers.map(function (b) { return b.uri; });
    s.workers.forEach(function (w) {
      ((w.figures && w.figures.links) || []).forEach(function (l) { if (brokers.indexOf(l.broker) < 0) brokers.push(l.broker); });
    });
    if (s.workers.length === 0 || brokers.length === 0) {
      box.appendChild(el('p', { class: 'none', text: 'no workers or no brokers' }));
      return box;
    }
    var table = el('table', { id: 'link-table' }, [el('tr', {}, [el('th', { text: 'worker \\ broker' })].concat(brokers.map(function (b) {
      // A broker workers still hold a link to after it left the list (a handover still releasing it).
      var listed = s.brokers.some(function (m) { return m.uri === b; });
      return el('th', { 'data-broker': b }, [el('code', { text: b }), listed ? null : ' (left the list)']);
    })))]);
    var unreachable = {};
    ((s.links && s.links.unreachable) || []).forEach(function (u) { unreachable[u.worker + ' ' + u.broker] = true; });
    s.workers.forEach(function (w) {
      var row = el('tr', { 'data-worker': w.uri }, [el('td', {}, [el('code', { text: w.uri })])]);
      var byBroker = {};
      ((w.figures && w.figures.links) || []).forEach(function (l) { byBroker[l.broker] = l; });
      brokers.forEach(function (b) {
        var l = byBroker[b];
        if (!w.figures) row.appendChild(el('td', { class: 'none', text: noFigures(w) }));
        else if (!l) row.appendChild(el('td', { class: 'none', 'data-broker': b, text: 'not in use' }));
        // Never heard and not reported unreachable: the worker's first report came before its link
        // connected (right after a join), not a fault.
        else if (!l.up && l.lastHeardAt === null && !unreachable[w.uri + ' ' + b]) row.appendChild(el('td', { class: 'none', 'data-broker': b, text: 'connecting…, ' + l.channels + ' ch' }));
        else row.appendChild(el('td', { class: l.up ? 'up' : 'down', 'data-broker': b, text: (l.up ? 'up' : 'down') + ', heard ' + ago(l.lastHeardAt, now) + ', ' + l.channels + ' ch' }));
      });
      table.appendChild(row);
    });
    box.appendChild(table);
    return box;
  }
  function partitions(s) {
    var box = el('div', { id: 'partitions' });
    var p = { unreachable: (s.links && s.links.unreachable) || [], withdrawn: (s.links && s.links.withdrawn) || [] };
    if (p.unreachable.length === 0 && p.withdrawn.length === 0) {
      box.appendChild(el('p', { class: 'meta', text: 'none reported' }));
      return box;
    }
    var list = el('ul');
    p.unreachable.forEach(function (u) { list.appendChild(el('li', { class: 'down', text: u.worker + ' cannot reach ' + u.broker + ' since ' + clock(u.since) })); });
    p.withdrawn.forEach(function (w) { list.appendChild(el('li', { class: 'down', text: 'broker ' + w.broker + ' withdrawn since ' + clock(w.since) + (w.workers && w.workers.length ? ' (reported by ' + w.workers.join(', ') + ')' : '') })); });
    box.appendChild(list);
    return box;
  }
  function handover(s) {
    var h = s.handover;
    if (!h) return 'none in progress';
    return 'broker list ' + h.time + ': phase ' + h.phase + ' since ' + clock(h.phaseStartedAt) + ', waiting for ' + h.waiting.length + ' of ' + h.participants.length + ' workers' + (h.waiting.length ? ' (' + h.waiting.join(', ') + ')' : '');
  }
  function events(s) {
    var list = el('ul', { id: 'events', class: 'events' });
    if (s.events.length === 0) list.appendChild(el('li', { class: 'none', text: 'none yet' }));
    s.events.forEach(function (e) {
      list.appendChild(el('li', { 'data-kind': e.kind }, [clock(e.at) + ' ', el('span', { class: 'kind', text: e.kind }), ' ' + e.text]));
    });
    return list;
  }
  function replication(s) {
    var r = s.replication;
    if (!r) return 'a single state server';
    var text = r.store + ', term ' + r.term + ': leader ' + r.self.id + ' (' + r.self.address + ')';
    if (r.replicas) text += '; replicas ' + r.replicas.map(function (x) { return x.id + ' (' + x.role + ')'; }).join(', ');
    if (r.settling) text += '; waiting for ' + (r.rejoining.brokers.length + r.rejoining.workers.length) + ' members of the last record to re-join';
    return text;
  }
  function replace(id, node) { var old = $(id); if (old) old.replaceWith(node); }
  function render(s) {
    var now = Date.parse(s.generatedAt);
    $('generated').textContent = clock(s.generatedAt);
    $('refresh').textContent = s.dashboard.intervalMs ? ', updated every ' + s.dashboard.intervalMs + ' ms (' + s.dashboard.clients + ' of at most ' + s.dashboard.maxClients + ' watching)' : '';
    $('broker-count').textContent = String(s.brokers.length);
    $('worker-count').textContent = String(s.workers.length);
    replace('brokers', memberTable('brokers', s.brokers));
    replace('workers', memberTable('workers', s.workers));
    $('push-brokers').textContent = pushText(s, 'brokers');
    $('push-workers').textContent = pushText(s, 'workers');
    replace('spread', spread(s));
    replace('links', links(s, now));
    replace('partitions', partitions(s));
    $('handover').textContent = handover(s);
    $('replication').textContent = replication(s);
    replace('events', events(s));
  }
  function status(text, cls) { var b = $('live'); b.textContent = text; b.className = 'badge ' + cls; }
  var RETRY_AFTER_REFUSAL_MS = 10000;
  function follow() {
    var source = new EventSource(cfg.events);
    source.onopen = function () { status('live', 'on'); };
    source.onmessage = function (m) { render(JSON.parse(m.data)); };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (503: too many watchers, or shutting down): try again later, not in a loop.
        status('live updates refused; retrying', 'err');
        setTimeout(follow, RETRY_AFTER_REFUSAL_MS);
      } else {
        status('reconnecting…', 'err');
      }
    };
  }
  function playground() {
    var raw = new URLSearchParams(location.search).get('playground');
    if (raw === null) return;
    var section = $('playground');
    section.hidden = false;
    var answer = $('playground-answer');
    var base;
    try { base = new URL(raw); } catch (e) { base = null; }
    if (!base || base.protocol !== 'http:' || (base.hostname !== '127.0.0.1' && base.hostname !== 'localhost')) {
      answer.textContent = 'playground ignored: it must be a loopback http URL such as http://127.0.0.1:7770';
      return;
    }
    var origin = base.origin;
    var box = $('playground-buttons');
    var buttons = cfg.actions.map(function (name) {
      var b = el('button', { type: 'button', 'data-action': name, text: name.replace('-', ' ') });
      b.addEventListener('click', function () {
        buttons.forEach(function (x) { x.disabled = true; });
        answer.textContent = 'POST ' + origin + '/actions/' + name + ' …';
        fetch(origin + '/actions/' + name, { method: 'POST' })
          .then(function (res) { return res.text().then(function (body) { return res.status + ' ' + res.statusText + '\n' + pretty(body); }); })
          .catch(function (error) { return 'no answer from the playground: ' + error.message; })
          .then(function (text) { answer.textContent = text; buttons.forEach(function (x) { x.disabled = false; }); });
      });
      box.appendChild(b);
      return b;
    });
    fetch(origin + '/status').then(function (res) { return res.text(); }).then(
      function (body) { answer.textContent = 'playground at ' + origin + ':\n' + pretty(body); },
      function (error) { answer.textContent = 'playground at ' + origin + ' does not answer: ' + error.message; },
    );
  }
  function pretty(body) { try { return JSON.stringify(JSON.parse(body), null, 2); } catch (e) { return body; } }
  playground();
  if (typeof EventSource === 'function') follow();
})();`;
