/**
 * Structured readiness: the services' HTTP endpoints (`/health-check`, `/ready`) and the state
 * server's cluster view (`/cluster.json`), polled until they say what the caller waits for. These work
 * for our services from any checkout and, through our state server, for the original brokers and
 * workers too.
 */
import type { ServiceProcess } from './service-process.js';

/** How often an endpoint is polled, ms. */
export const POLL_INTERVAL_MS = 50;
/** Default bound on a readiness wait, ms. */
export const DEFAULT_READY_TIMEOUT_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One member in the state server's `/cluster.json`. */
export interface ClusterMember {
  uri: string;
  instanceId: string | null;
  joinedAt: string;
}

/** The part of `/cluster.json` (packages/scc-state/src/cluster-view.ts) the harness reads. */
export interface ClusterSnapshot {
  brokers: ClusterMember[];
  workers: ClusterMember[];
  pushPending: { brokers: boolean; workers: boolean };
}

export interface PollOptions {
  timeoutMs?: number;
  /** The address to poll; default 127.0.0.1 (a host's address on the network test bed). */
  host?: string;
  /** Fail at once when this process exits (the service the endpoint belongs to). */
  process?: ServiceProcess;
}

/**
 * Polls `check` until it returns a value other than undefined; its last failure reason (a string
 * it returns through `reason`) goes into the timeout error.
 */
async function poll<T>(what: string, check: (reason: (s: string) => void) => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let last = 'not tried';
  const reason = (s: string): void => {
    last = s;
  };
  for (;;) {
    if (options.process && !options.process.alive) {
      throw new Error(`${options.process.name} exited while waiting for ${what}; stderr: ${options.process.stderr.join('\n')}`);
    }
    try {
      const value = await check(reason);
      if (value !== undefined) return value;
    } catch (error) {
      last = String(error);
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms: ${last}`);
    await sleep(POLL_INTERVAL_MS);
  }
}

const LOOPBACK = '127.0.0.1';

/** Waits until `GET http://HOST:port/path` answers 200 (HOST: `options.host`, default 127.0.0.1). */
export function waitHttp(port: number, path: string, options: PollOptions = {}): Promise<void> {
  const host = options.host ?? LOOPBACK;
  return poll(
    `${host}:${port} ${path}`,
    async (reason) => {
      const res = await fetch(`http://${host}:${port}${path}`);
      if (res.ok) {
        await res.body?.cancel();
        return true;
      }
      reason(`${res.status} ${await res.text()}`);
      return undefined;
    },
    options,
  ).then(() => undefined);
}

/**
 * Waits until `GET /ready` answers 200: a broker is joined to the state server; a worker has joined
 * with a broker list and every broker link is up (packages/shared/src/http.ts).
 */
export function waitReady(port: number, timeoutMs = DEFAULT_READY_TIMEOUT_MS, process?: ServiceProcess): Promise<void> {
  return waitHttp(port, '/ready', { timeoutMs, ...(process && { process, host: process.host }) });
}

/** The state server's cluster view now (on `host`, default 127.0.0.1). */
export async function clusterSnapshot(statePort: number, host = LOOPBACK): Promise<ClusterSnapshot> {
  const res = await fetch(`http://${host}:${statePort}/cluster.json`);
  if (!res.ok) throw new Error(`/cluster.json answered ${res.status}`);
  return (await res.json()) as ClusterSnapshot;
}

/** What a wait on the cluster view asks for; every given condition must hold at once. */
export interface MembersCondition {
  /** These broker URIs are joined. */
  brokers?: readonly string[];
  /** These worker URIs are joined. */
  workers?: readonly string[];
  /** Exactly this many brokers are joined. */
  brokerCount?: number;
  /** Exactly this many workers are joined. */
  workerCount?: number;
  /** The listed members joined at or after this time (ms since the epoch): a re-join, not the old entry. */
  since?: number;
  /** No list push is pending (the members' peers have been told). */
  settled?: boolean;
}

/** Waits until the state server's `/cluster.json` shows `condition`; resolves with that snapshot. */
export function waitForMembers(statePort: number, condition: MembersCondition, options: PollOptions = {}): Promise<ClusterSnapshot> {
  const joined = (members: ClusterMember[], uris: readonly string[] | undefined): string[] =>
    (uris ?? []).filter((uri) => !members.some((m) => m.uri === uri && (condition.since === undefined || Date.parse(m.joinedAt) >= condition.since)));
  return poll(
    `cluster view ${JSON.stringify(condition)} on state server ${options.host ?? LOOPBACK}:${statePort}`,
    async (reason) => {
      const s = await clusterSnapshot(statePort, options.host);
      const missing = [...joined(s.brokers, condition.brokers), ...joined(s.workers, condition.workers)];
      const ok =
        missing.length === 0 &&
        (condition.brokerCount === undefined || s.brokers.length === condition.brokerCount) &&
        (condition.workerCount === undefined || s.workers.length === condition.workerCount) &&
        (!condition.settled || (!s.pushPending.brokers && !s.pushPending.workers));
      if (ok) return s;
      reason(`brokers ${s.brokers.map((m) => m.uri).join(' ')}; workers ${s.workers.map((m) => m.uri).join(' ')}; missing ${missing.join(' ')}; pending ${JSON.stringify(s.pushPending)}`);
      return undefined;
    },
    options,
  );
}
