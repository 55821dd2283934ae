/**
 * The playground's control API, for the state server's dashboard page: HTTP on 127.0.0.1 only.
 *
 *   GET  /status             the children (role, port, pid, state) and what is in progress
 *   POST /actions/<action>   one of ACTIONS; answers what was done and the membership after it
 *
 * Any page in the user's browser can send a request to a loopback port, so only the dashboard's
 * origin may change anything: a POST must carry an Origin header naming it (a browser always sends
 * one on a cross-origin POST, and a "simple" POST needs no preflight, so the check is on the POST
 * itself); GET /status also admits no Origin (curl, a tab opened on it). A Host header other than
 * this loopback address is refused too, so a DNS-rebinding page cannot pose as same-origin.
 * Preflight (OPTIONS) is answered for the dashboard's origin only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ForbiddenHostError, ForbiddenOriginError, MethodNotAllowedError, NotFoundError, PlaygroundError, UnknownActionError } from './errors.js';
import { isAction, type ActionName, type ActionResult, type PlaygroundStatus } from './playground.js';

/** The control API's well-known port (the dashboard is given it as `?playground=http://127.0.0.1:7770`). */
export const DEFAULT_CONTROL_PORT = 7770;
/** The only address it listens on. */
export const CONTROL_HOST = '127.0.0.1';
const ACTIONS_PREFIX = '/actions/';
/** How long a browser may cache a preflight answer, s. */
const PREFLIGHT_MAX_AGE_S = 600;

export interface ControlApiOptions {
  /** 0: any free port. */
  port: number;
  /** Origins allowed to act: the state server's dashboard, e.g. `http://127.0.0.1:7777` and `http://localhost:7777`. */
  allowedOrigins: () => readonly string[];
  status: () => PlaygroundStatus;
  act: (action: ActionName) => Promise<ActionResult>;
}

export interface ControlApi {
  readonly port: number;
  /** Stops listening and ends open connections. Safe to call twice. */
  close(): Promise<void>;
}

/** The dashboard origins for a state server on `statePort`. */
export function dashboardOrigins(statePort: number): string[] {
  return [`http://127.0.0.1:${statePort}`, `http://localhost:${statePort}`];
}

function send(res: ServerResponse, status: number, body: unknown, origin: string | null): void {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', Vary: 'Origin' };
  if (origin !== null) headers['Access-Control-Allow-Origin'] = origin;
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}

function refuse(res: ServerResponse, error: PlaygroundError, origin: string | null, extra: Record<string, string> = {}): void {
  for (const [name, value] of Object.entries(extra)) res.setHeader(name, value);
  send(res, error.status, { error: { name: error.name, message: error.message } }, origin);
}

/** Starts the control API on 127.0.0.1; rejects if the port is taken. */
export async function startControlApi(options: ControlApiOptions): Promise<ControlApi> {
  let port = options.port;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // The request body (if any) is never read: nothing takes input beyond the path.
    req.resume();
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const origin = req.headers.origin ?? null;
    const allowed = origin !== null && options.allowedOrigins().includes(origin);
    // CORS headers go only to the dashboard: no other page may read an answer.
    const corsOrigin = allowed ? origin : null;
    const host = req.headers.host ?? '';
    if (host !== `${CONTROL_HOST}:${port}` && host !== `localhost:${port}`) {
      return refuse(res, new ForbiddenHostError(`Host ${JSON.stringify(host)} is not this control API (${CONTROL_HOST}:${port})`), null);
    }
    if (origin !== null && !allowed) {
      return refuse(res, new ForbiddenOriginError(`Origin ${origin} may not use the playground's control API; only the state server's dashboard (${options.allowedOrigins().join(', ')}) may`), null);
    }
    if (req.method === 'OPTIONS') {
      if (!allowed) return refuse(res, new ForbiddenOriginError('a preflight must come from the state server dashboard'), null);
      res.writeHead(204, {
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Methods': 'GET, POST',
        'Access-Control-Allow-Headers': 'Content-Type',
        'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_S),
        Vary: 'Origin',
      });
      res.end();
      return;
    }
    if (path === '/status') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, new MethodNotAllowedError(`${path} takes GET`), corsOrigin, { Allow: 'GET' });
      return send(res, 200, options.status(), corsOrigin);
    }
    if (path.startsWith(ACTIONS_PREFIX)) {
      if (req.method !== 'POST') return refuse(res, new MethodNotAllowedError(`${path} takes POST`), corsOrigin, { Allow: 'POST' });
      if (!allowed) return refuse(res, new ForbiddenOriginError("a change must come from the state server's dashboard: its Origin header is missing"), null);
      const name = path.slice(ACTIONS_PREFIX.length);
      if (!isAction(name)) return refuse(res, new UnknownActionError(`no action ${JSON.stringify(name.slice(0, 64))}`), corsOrigin);
      try {
        return send(res, 200, await options.act(name), corsOrigin);
      } catch (error) {
        if (error instanceof PlaygroundError) return refuse(res, error, corsOrigin);
        throw error;
      }
    }
    return refuse(res, new NotFoundError(`no ${path} here; try GET /status or POST ${ACTIONS_PREFIX}<action>`), corsOrigin);
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: { name: (error as Error).name, message: (error as Error).message } }, null);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, CONTROL_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
