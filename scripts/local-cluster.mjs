#!/usr/bin/env node
// Starts a local SCC cluster — 1 state server, 2 brokers, 2 workers — each as `node server` in its
// package folder, with prefixed logs. Prints the demo URLs once every worker is ready; Ctrl-C (or
// SIGTERM) stops every child by its pid. Environment variables set by the caller pass through, so
// e.g. `SCC_AUTH_KEY=secret pnpm start` runs the whole cluster with an auth key.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const STATE_PORT = 7777;
const BROKER_PORTS = [8888, 8889];
const WORKER_PORTS = [8000, 8001];
/** How long to wait for the workers to report ready before giving up, ms. */
const READY_TIMEOUT_MS = 60_000;
/** How long children get to exit after SIGTERM before SIGKILL, ms. */
const STOP_TIMEOUT_MS = 12_000;

const color = process.stdout.isTTY ? (code, s) => `\x1b[${code}m${s}\x1b[0m` : (_code, s) => s;
const shared = {
  SCC_LOG_FORMAT: 'pretty',
  SCC_INSTANCE_IP: '127.0.0.1',
  SCC_STATE_SERVER_HOST: '127.0.0.1',
  SCC_STATE_SERVER_PORT: String(STATE_PORT),
};
const specs = [
  { name: 'state', pkg: 'scc-state', colour: 35, env: { SCC_STATE_LOG_LEVEL: '3' } },
  ...BROKER_PORTS.map((port) => ({
    name: `broker:${port}`, pkg: 'scc-broker', colour: 36, env: { SCC_BROKER_SERVER_PORT: String(port), SCC_BROKER_SERVER_LOG_LEVEL: '3' },
  })),
  ...WORKER_PORTS.map((port) => ({
    name: `worker:${port}`, pkg: 'scc-worker', colour: 32, env: { SOCKETCLUSTER_PORT: String(port), SOCKETCLUSTER_LOG_LEVEL: '3' },
  })),
];
const width = Math.max(...specs.map((s) => s.name.length));

const children = [];
let stopping = false;

function log(line) {
  process.stdout.write(`${color(1, 'cluster'.padEnd(width))} | ${line}\n`);
}

function start(spec) {
  const child = spawn(process.execPath, ['server'], {
    cwd: join(root, 'packages', spec.pkg),
    env: { ...process.env, ...shared, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: a terminal's Ctrl-C reaches only this runner, which then stops the
    // children in order (a second signal would make them exit without leaving the cluster).
    detached: true,
  });
  const prefix = color(spec.colour, spec.name.padEnd(width));
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${prefix} | ${line}\n`));
  }
  child.on('exit', (code, signal) => {
    if (!stopping) {
      log(`${spec.name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the cluster`);
      void stop(1);
    }
  });
  children.push({ spec, child });
  return child;
}

async function waitFor(port, path) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

function running(child) {
  return child.exitCode === null && child.signalCode === null;
}

async function stop(exitCode) {
  if (stopping) return;
  stopping = true;
  log('stopping the cluster…');
  // Workers first (they leave the cluster), then brokers (they leave too), then the state server.
  const timer = setTimeout(() => {
    for (const { child } of children) if (running(child)) process.kill(child.pid, 'SIGKILL');
  }, STOP_TIMEOUT_MS);
  for (const pkg of ['scc-worker', 'scc-broker', 'scc-state']) {
    const stage = children.filter(({ spec, child }) => spec.pkg === pkg && running(child));
    for (const { child } of stage) process.kill(child.pid, 'SIGTERM');
    await Promise.all(stage.map(({ child }) => (running(child) ? new Promise((r) => child.once('exit', r)) : undefined)));
  }
  clearTimeout(timer);
  log('all processes stopped');
  process.exit(exitCode);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

log(`starting 1 state server (:${STATE_PORT}), ${BROKER_PORTS.length} brokers (:${BROKER_PORTS.join(', :')}), ${WORKER_PORTS.length} workers (:${WORKER_PORTS.join(', :')})`);
// The state server first, so brokers join at once instead of after a reconnect delay.
start(specs[0]);
await waitFor(STATE_PORT, '/health-check');
for (const spec of specs.slice(1)) start(spec);
const ready = await Promise.all(WORKER_PORTS.map((port) => waitFor(port, '/ready')));
if (stopping) {
  // a child died while we waited; stop() is already running
} else if (ready.every(Boolean)) {
  log(color(1, 'cluster ready. Open the demo in two tabs:'));
  for (const port of WORKER_PORTS) log(color(1, `  http://localhost:${port}/`));
  log('Ctrl-C stops every process.');
} else {
  log(`workers not ready after ${READY_TIMEOUT_MS / 1000} s; stopping`);
  void stop(1);
}
