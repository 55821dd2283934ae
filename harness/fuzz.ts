/**
 * The fuzz runner behind `pnpm fuzz` and test/integration/fuzz.test.ts: sends generated hostile
 * input (hostile.ts) to one running service over raw WebSockets (raw.ts) and tallies how each input
 * ended. Inputs that leave the socket open run on a long-lived "session" socket and are followed by
 * a probe, so every input gets an outcome; the rest each get a fresh connection.
 */
import { Rng, binaryFrame, deepJson, hugeFrame, invalidJoinPayload, nonJsonText, randomString, randomValue, unknownEvent, wrongShapeJson } from './hostile.js';
import { RawSocket, outcomeLabel, scUrl, type Outcome } from './raw.js';

/** A service under fuzz. */
export interface FuzzTarget {
  name: 'state' | 'broker' | 'worker';
  port: number;
  /** Query of a well-formed connection (auth key, and for the state server instanceType/port/version). */
  query: Record<string, string>;
  /** The service's `SCC_MAX_PAYLOAD`, bytes. */
  maxPayloadBytes: number;
  /** The service's `SCC_HANDSHAKE_TIMEOUT`, ms. */
  handshakeTimeoutMs: number;
  /** Whether the service requires an auth key (then a wrong one is a hostile input). */
  authRequired: boolean;
}

/** Every kind of hostile input. */
export const INPUT_KINDS = [
  'nonJsonText',
  'binaryFrame',
  'wrongShapeJson',
  'unknownEvent',
  'deepJson',
  'badRequest',
  'hugeFrame',
  'beforeHandshake',
  'badHandshake',
  'neverHandshake',
  'connectDrop',
  'badUpgrade',
] as const;
export type InputKind = (typeof INPUT_KINDS)[number];

export interface FuzzOptions {
  count: number;
  seed: number;
  /** Inputs in flight at once (one session socket per lane). */
  lanes: number;
  /** Stop early after this long, ms (the count is a maximum, the time a bound). */
  timeLimitMs: number;
}

export interface FuzzResult {
  target: string;
  sent: number;
  /** input kind → outcome label → count */
  outcomes: Record<string, Record<string, number>>;
  /** outcome label → count, over all kinds */
  totals: Record<string, number>;
  /** Inputs left without an answer while the socket stayed open (a probe that timed out). */
  unanswered: number;
  elapsedMs: number;
}

/** Outcome of the probe that follows a session input: the input is "ignored" when only the probe answered. */
const PROBE_TIMEOUT_MS = 5000;

/** Runs `options.count` hostile inputs against `target`, `options.lanes` at a time. */
export async function fuzzService(target: FuzzTarget, options: FuzzOptions): Promise<FuzzResult> {
  const started = Date.now();
  const deadline = started + options.timeLimitMs;
  const outcomes: Record<string, Record<string, number>> = {};
  const totals: Record<string, number> = {};
  let next = 0;
  let unanswered = 0;
  const record = (kind: InputKind, label: string): void => {
    const row = (outcomes[kind] ??= {});
    row[label] = (row[label] ?? 0) + 1;
    totals[label] = (totals[label] ?? 0) + 1;
    if (label === 'timeout') unanswered += 1;
  };

  async function lane(index: number): Promise<void> {
    const rng = new Rng(options.seed * 1000 + index);
    let session: RawSocket | null = null;
    try {
      while (next < options.count && Date.now() < deadline) {
        const i = next++;
        const kind = INPUT_KINDS[i % INPUT_KINDS.length]!;
        if (isSessionKind(kind)) {
          if (!session?.open) {
            session?.close();
            session = await openSession(target);
            if (!session) {
              record(kind, 'sessionRefused');
              continue;
            }
          }
          record(kind, outcomeLabel(await sessionInput(session, kind, rng, target)));
        } else {
          record(kind, outcomeLabel(await freshInput(kind, rng, target)));
        }
      }
    } finally {
      session?.close();
    }
  }

  await Promise.all(Array.from({ length: options.lanes }, (_, i) => lane(i)));
  return { target: target.name, sent: next, outcomes, totals, unanswered, elapsedMs: Date.now() - started };
}

function isSessionKind(kind: InputKind): boolean {
  return kind === 'nonJsonText' || kind === 'binaryFrame' || kind === 'wrongShapeJson' || kind === 'unknownEvent' || kind === 'deepJson' || kind === 'badRequest';
}

async function openSession(target: FuzzTarget): Promise<RawSocket | null> {
  const socket = new RawSocket(scUrl(target.port, target.query));
  const outcome = await socket.handshake();
  if (outcome.kind === 'replied') return socket;
  socket.close();
  return null;
}

/** The frame for a session input, plus the cid of a request whose own answer is the outcome. */
function sessionFrame(socket: RawSocket, kind: InputKind, rng: Rng, target: FuzzTarget): { frame?: string | Buffer; cid?: number } {
  switch (kind) {
    case 'nonJsonText':
      return { frame: nonJsonText(rng) };
    case 'binaryFrame':
      return { frame: binaryFrame(rng) };
    case 'wrongShapeJson':
      return { frame: wrongShapeJson(rng) };
    case 'unknownEvent':
      return { frame: unknownEvent(rng) };
    case 'deepJson': {
      // As deep as fits in the payload limit (each level costs 1 to 5 bytes).
      const depth = rng.int(100, Math.max(100, Math.floor(target.maxPayloadBytes / 8)));
      return { frame: deepJson(rng, depth) };
    }
    default:
      return { cid: badRequest(socket, rng, target) };
  }
}

/** Sends a well-framed request with hostile data to a procedure the service really has. */
function badRequest(socket: RawSocket, rng: Rng, target: FuzzTarget): number {
  if (target.name === 'state') {
    return rng.pick([
      () => socket.invoke('sccWorkerJoinCluster', invalidJoinPayload(rng)),
      () => socket.invoke('sccBrokerJoinCluster', invalidJoinPayload(rng)),
      () => socket.invoke('#subscribe', { channel: randomString(rng, 20) }),
      () => socket.invoke('#publish', { channel: randomString(rng, 20), data: randomValue(rng) }),
      () => socket.invoke(rng.pick(['sccWorkerLeaveCluster', 'sccBrokerLeaveCluster']), randomValue(rng)),
    ])();
  }
  const channel = (): unknown => (rng.next() < 0.7 ? rng.pick(['fz/good', `fz/${rng.int(0, 50)}`, randomString(rng, 40)]) : randomValue(rng, 1));
  return rng.pick([
    () => socket.invoke('#publish', { channel: channel(), data: randomValue(rng, 3) }),
    // A packet in the broker format, some valid, some not: workers must parse what brokers relay.
    () => socket.invoke('#publish', { channel: channel(), data: { sender: randomValue(rng, 0), messages: randomValue(rng, 2) } }),
    () => socket.invoke('#subscribe', { channel: channel() }),
    () => socket.invoke('#unsubscribe', channel()),
    () => socket.invoke('#authenticate', randomValue(rng, 1)),
  ])();
}

async function sessionInput(socket: RawSocket, kind: InputKind, rng: Rng, target: FuzzTarget): Promise<Outcome> {
  const { frame, cid } = sessionFrame(socket, kind, rng, target);
  if (frame !== undefined) socket.send(frame);
  if (cid !== undefined) {
    const own = await socket.outcome(cid, PROBE_TIMEOUT_MS);
    if (own.kind !== 'timeout') return own;
  }
  const probe = await socket.probe(PROBE_TIMEOUT_MS);
  if (probe.kind === 'closed' || probe.kind === 'timeout') return probe;
  // The probe was answered: the input itself was dropped without a word (or, with a cid, unanswered).
  return { kind: 'ignored' };
}

/** A well-formed `#handshake` request sent "before the handshake" would just be the handshake: make it a publish. */
function notAHandshake(frame: string): string {
  const parsed = JSON.parse(frame) as unknown;
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && (parsed as { event?: unknown }).event === '#handshake') {
    return JSON.stringify({ ...parsed, event: '#publish' });
  }
  return frame;
}

async function freshInput(kind: InputKind, rng: Rng, target: FuzzTarget): Promise<Outcome> {
  const closeWait = target.handshakeTimeoutMs + 2000;
  switch (kind) {
    case 'hugeFrame': {
      const socket = new RawSocket(scUrl(target.port, target.query), { maxPayload: 0 });
      try {
        const before = rng.bool();
        if (!before) {
          const hs = await socket.handshake();
          if (hs.kind !== 'replied') return hs;
        } else {
          const early = await socket.opened;
          if (early) return early;
        }
        socket.send(hugeFrame(rng, target.maxPayloadBytes));
        const closed = await socket.closedWithin(closeWait);
        return closed ? { kind: 'closed', ...closed } : { kind: 'timeout' };
      } finally {
        socket.close();
      }
    }
    case 'beforeHandshake': {
      const socket = new RawSocket(scUrl(target.port, target.query));
      try {
        const early = await socket.opened;
        if (early) return early;
        const frame = rng.pick([
          () => '',
          () => nonJsonText(rng),
          () => notAHandshake(wrongShapeJson(rng)),
          () => JSON.stringify({ event: '#publish', data: { channel: 'fz/good', data: randomValue(rng) }, cid: 7 }),
          () => JSON.stringify({ event: '#subscribe', data: { channel: 'fz/good' }, cid: 7 }),
          () => JSON.stringify({ event: rng.pick(['sccWorkerJoinCluster', 'sccBrokerJoinCluster']), data: {}, cid: 7 }),
        ])();
        socket.send(frame);
        const closed = await socket.closedWithin(closeWait);
        return closed ? { kind: 'closed', ...closed } : { kind: 'timeout' };
      } finally {
        socket.close();
      }
    }
    case 'badHandshake': {
      const socket = new RawSocket(scUrl(target.port, target.query));
      try {
        const early = await socket.opened;
        if (early) return early;
        if (rng.bool()) {
          socket.send(JSON.stringify({ event: '#handshake', data: randomValue(rng, 2) }));
          const closed = await socket.closedWithin(closeWait);
          return closed ? { kind: 'closed', ...closed } : { kind: 'timeout' };
        }
        const data = rng.pick([() => randomValue(rng, 2), () => ({ authToken: randomString(rng, 200) }), () => ({ authToken: randomValue(rng, 2) })])();
        return await socket.outcome(socket.invoke('#handshake', data), closeWait);
      } finally {
        socket.close();
      }
    }
    case 'neverHandshake': {
      const socket = new RawSocket(scUrl(target.port, target.query));
      try {
        const early = await socket.opened;
        if (early) return early;
        const closed = await socket.closedWithin(closeWait);
        return closed ? { kind: 'closed', ...closed } : { kind: 'timeout' };
      } finally {
        socket.close();
      }
    }
    case 'connectDrop': {
      const socket = new RawSocket(scUrl(target.port, target.query));
      // Half the drops happen mid-upgrade, half right after the socket opened.
      if (rng.bool()) {
        await new Promise((r) => setImmediate(r));
        socket.terminate();
        return { kind: 'ignored' };
      }
      const early = await socket.opened;
      socket.terminate();
      return early ?? { kind: 'ignored' };
    }
    default: {
      // badUpgrade: wrong key, wrong path, or (state) a bad version or instanceType.
      const choices: (() => string)[] = [() => scUrl(target.port, target.query, rng.pick(['/', '/socketcluster', '/sc/', `/${randomString(rng, 8).replace(/[^a-z]/g, 'x')}/`]))];
      if (target.authRequired) choices.push(() => scUrl(target.port, { ...target.query, authKey: randomString(rng, 30) }));
      if (target.name === 'state') {
        choices.push(() => scUrl(target.port, { ...target.query, version: rng.pick(['8.0.0', '99.1.0', 'x', '']) }));
        choices.push(() => scUrl(target.port, { ...target.query, instanceType: randomString(rng, 12), instancePort: rng.pick(['0', '-1', '70000', 'abc', '1']) }));
      }
      const socket = new RawSocket(rng.pick(choices)());
      try {
        return await socket.handshake(closeWait);
      } finally {
        socket.close();
      }
    }
  }
}

/** Renders results as a fixed-width table: one row per input kind, one column per outcome label. */
export function formatTable(results: FuzzResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    lines.push(`${result.target}: ${result.sent} inputs in ${(result.elapsedMs / 1000).toFixed(1)} s, ${result.unanswered} unanswered`);
    for (const kind of INPUT_KINDS) {
      const row = result.outcomes[kind];
      if (!row) continue;
      const cells = Object.entries(row)
        .sort((a, b) => b[1] - a[1])
        .map(([label, n]) => `${label}=${n}`)
        .join('  ');
      lines.push(`  ${kind.padEnd(16)} ${cells}`);
    }
  }
  return lines.join('\n');
}

/** What a burst of opened-and-dropped connections met. */
export interface BurstResult {
  target: string;
  attempted: number;
  /** outcome label → count: `opened` (then dropped), `http:503` (connection limit), … */
  outcomes: Record<string, number>;
  elapsedMs: number;
}

/**
 * Opens `count` connections, `concurrency` at a time, and drops each at once (half with a close
 * frame, half by destroying the TCP socket). Bounded by `timeLimitMs`.
 */
export async function connectionBurst(target: FuzzTarget, count: number, concurrency: number, timeLimitMs: number): Promise<BurstResult> {
  const started = Date.now();
  const outcomes: Record<string, number> = {};
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count && Date.now() - started < timeLimitMs) {
      const i = next++;
      const socket = new RawSocket(scUrl(target.port, target.query));
      const early = await socket.opened;
      const label = early ? outcomeLabel(early) : 'opened';
      outcomes[label] = (outcomes[label] ?? 0) + 1;
      if (i % 2 === 0) socket.terminate();
      else socket.close();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => lane()));
  return { target: target.name, attempted: next, outcomes, elapsedMs: Date.now() - started };
}
