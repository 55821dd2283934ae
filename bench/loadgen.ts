/**
 * The load generator, a child process of bench/run.ts (forked with IPC). It speaks the system's own
 * wire protocol over raw `ws` (lib/wire.ts), so its cost per message is alike for every system.
 *
 * Workload: C channels × S subscriber connections each (one channel per connection) on the subscriber
 * ports, P publisher connections on the publisher ports. Message k goes to channel k mod C from
 * publisher k mod P and carries {s: k, t: send time (performance.now(), ms), p: padding}. Each expected
 * delivery (k, subscriber) is counted, so lost and duplicated deliveries are exact.
 *
 * IPC: parent sends {type:'run', config}; we connect, subscribe and prime, then send {type:'ready'};
 * the parent samples CPU and sends {type:'go'}; we publish, drain and send {type:'done', result}.
 * Idle mode: {type:'idle', ...} → connect N idle clients → {type:'idle-ready'} → {type:'close'}.
 * Huge mode (lib/gen-huge.ts; several generator processes each hold a slice of one channel's
 * subscribers): {type:'huge-subscribe'} → {type:'huge-subscribed'}; {type:'huge-prime'} (repeated) →
 * {type:'huge-primed'} once every subscriber of the slice saw a marker; {type:'huge-arm'} (record from now on)
 * → {type:'huge-armed'}; once every slice is armed, {type:'huge-go'} → {type:'huge-done'}.
 * Storm mode (lib/gen-storm.ts): {type:'storm-connect'} → {type:'storm-done'}; {type:'storm-close'} →
 * {type:'storm-closed'}; the flow: {type:'flow-start'} → {type:'flow-ready'}; {type:'flow-stop'} → {type:'flow-done'}.
 */
import { performance } from 'node:perf_hooks';
import { HugeSlice, type HugeGo, type HugeSliceResult } from './lib/gen-huge.js';
import { Flow, StormClients, type FlowFigures, type FlowPhase, type FlowStart, type StormConnect, type StormSliceResult } from './lib/gen-storm.js';
import { connectWire, type Protocol, type WireClient } from './lib/wire.js';
import { percentile } from './lib/stats.js';

export interface LoadConfig {
  protocol: Protocol;
  publisherPorts: number[];
  subscriberPorts: number[];
  channels: number;
  subscribersPerChannel: number;
  publishers: number;
  /** 'burst': publish `messages` as fast as the in-flight window allows; 'paced': `rate` publishes/s for `durationS`. */
  mode: 'burst' | 'paced';
  messages: number;
  window: number;
  rate: number;
  durationS: number;
  /** Approximate JSON size of one message, bytes. */
  size: number;
  /** ms without any delivery after which the run ends and the rest counts as lost. */
  stallMs: number;
}

export interface LoadResult {
  /** Messages the workload meant to publish (burst: `messages`; paced: rate × duration). */
  planned: number;
  /** Messages actually published: less than planned when the run stalled. */
  published: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  misrouted: number;
  seconds: number;
  deliveriesPerS: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
}

export type ParentMessage =
  | { type: 'run'; config: LoadConfig }
  | { type: 'go' }
  | { type: 'idle'; protocol: Protocol; port: number; count: number }
  | HugeSubscribe
  | { type: 'huge-prime' }
  | { type: 'huge-arm'; go: HugeGo }
  | { type: 'huge-go' }
  | ({ type: 'storm-connect' } & StormConnect)
  | { type: 'storm-close' }
  | ({ type: 'flow-start' } & FlowStart)
  | { type: 'flow-stop'; phases: FlowPhase[]; drainMs: number }
  | { type: 'close' };

/** Connect this slice's subscribers of the huge channel (global indexes first … first + count - 1). */
export interface HugeSubscribe {
  type: 'huge-subscribe';
  protocol: Protocol;
  channel: string;
  /** Subscriber i connects to ports[i mod ports.length]. */
  ports: number[];
  first: number;
  count: number;
  /** Given to one slice: it also connects the publisher there. */
  publisherPort?: number;
}

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'done'; result: LoadResult }
  | { type: 'idle-ready'; connected: number }
  | { type: 'huge-subscribed' }
  | { type: 'huge-primed' }
  | { type: 'huge-armed' }
  | { type: 'huge-done'; result: HugeSliceResult }
  | { type: 'storm-done'; result: StormSliceResult }
  | { type: 'storm-closed' }
  | { type: 'flow-ready' }
  | { type: 'flow-done'; figures: Record<string, FlowFigures> }
  | { type: 'error'; message: string };

/** Connections opened at once while setting up (bounds the handshake storm). */
const CONNECT_CONCURRENCY = 200;
/** Time allowed to prime every channel end to end, ms. */
const PRIME_TIMEOUT_MS = 20_000;
const PRIME_INTERVAL_MS = 100;
/** Paced mode publishes what is due every tick, ms. */
const PACE_TICK_MS = 2;

const send = (message: ChildMessage): void => void process.send!(message);
const clients: WireClient[] = [];

async function connectMany(protocol: Protocol, ports: readonly number[], count: number): Promise<WireClient[]> {
  const out: WireClient[] = new Array(count);
  for (let i = 0; i < count; i += CONNECT_CONCURRENCY) {
    const batch = Array.from({ length: Math.min(CONNECT_CONCURRENCY, count - i) }, (_, j) => connectWire(protocol, ports[(i + j) % ports.length]!));
    const opened = await Promise.all(batch);
    opened.forEach((c, j) => (out[i + j] = c));
    clients.push(...opened);
  }
  return out;
}

function waitFor(type: ParentMessage['type']): Promise<void> {
  return new Promise((resolve) => {
    const listener = (message: ParentMessage): void => {
      if (message.type !== type) return;
      process.off('message', listener);
      resolve();
    };
    process.on('message', listener);
  });
}

async function run(config: LoadConfig): Promise<LoadResult> {
  const { channels: C, subscribersPerChannel: S, publishers: P } = config;
  const names = Array.from({ length: C }, (_, c) => `bench/${c}`);
  const channelIndex = new Map(names.map((n, c) => [n, c]));
  const subscribers = await connectMany(config.protocol, config.subscriberPorts, C * S);
  // Subscriber k listens to channel k mod C and is number ⌊k / C⌋ among that channel's S.
  await Promise.all(subscribers.map((client, k) => client.subscribe(names[k % C]!)));
  const publishers = await connectMany(config.protocol, config.publisherPorts, P);

  // Prime: publish a marker on every channel until every subscriber has seen one, so the cluster's
  // upstream subscriptions are in place before anything is measured.
  const primed = new Uint8Array(C * S);
  let primedCount = 0;
  subscribers.forEach((client, k) => {
    client.onDelivery = (_channel, data) => {
      if ((data as { prime?: number }).prime === 1 && primed[k] === 0) {
        primed[k] = 1;
        primedCount += 1;
      }
    };
  });
  const primeDeadline = Date.now() + PRIME_TIMEOUT_MS;
  while (primedCount < C * S) {
    if (Date.now() > primeDeadline) throw new Error(`priming: only ${primedCount}/${C * S} subscribers got a message within ${PRIME_TIMEOUT_MS} ms`);
    names.forEach((name, c) => publishers[c % P]!.publish(name, '{"prime":1}'));
    await new Promise((r) => setTimeout(r, PRIME_INTERVAL_MS));
  }

  const total = config.mode === 'burst' ? config.messages : Math.round(config.rate * config.durationS);
  const expected = total * S;
  const counts = new Uint8Array(expected);
  const latencies = new Float64Array(expected);
  let delivered = 0;
  let duplicated = 0;
  let misrouted = 0;
  let lastDeliveryAt = 0;
  let onProgress: (() => void) | undefined;
  subscribers.forEach((client, k) => {
    const channel = k % C;
    const rank = Math.floor(k / C);
    client.onDelivery = (name, raw) => {
      const data = raw as { s?: number; t?: number };
      if (data.s === undefined || data.t === undefined) return; // a late priming marker
      const now = performance.now();
      if (data.s % C !== channel || channelIndex.get(name) !== channel) {
        misrouted += 1;
        return;
      }
      const slot = data.s * S + rank;
      if (counts[slot]! > 0) duplicated += 1;
      else latencies[delivered++] = now - data.t;
      counts[slot] = Math.min(255, counts[slot]! + 1);
      lastDeliveryAt = now;
      onProgress?.();
    };
  });

  // Pad so that one message's JSON is about `size` bytes ({"s":…,"t":…,"p":"…"} is ~40 bytes of frame).
  const pad = 'x'.repeat(Math.max(0, config.size - 40));
  let published = 0;
  const publishOne = (): void => {
    const k = published++;
    publishers[k % P]!.publish(names[k % C]!, `{"s":${k},"t":${performance.now()},"p":"${pad}"}`);
  };

  send({ type: 'ready' });
  await waitFor('go');
  const startedAt = performance.now();
  lastDeliveryAt = startedAt;

  // Ends when every expected delivery arrived, or when nothing arrived for stallMs after the last
  // publish (burst: at any time, since a stalled closed loop publishes nothing more).
  let stalled = false;
  let finish: () => void = () => {};
  const drained = new Promise<void>((resolve) => (finish = resolve));
  const complete = (): boolean => published >= total && delivered >= published * S;
  const stallTimer = setInterval(() => {
    if (complete()) return finish();
    if (performance.now() - lastDeliveryAt > config.stallMs && (published >= total || config.mode === 'burst')) {
      stalled = true;
      finish();
    }
  }, 50);
  const onProgressCheck = (): void => {
    if (complete()) finish();
  };

  if (config.mode === 'burst') {
    // Closed loop: keep at most `window` messages in flight (published but not fully delivered).
    const inFlight = (): number => published - Math.floor(delivered / S);
    const pump = (): void => {
      while (published < total && inFlight() < config.window && !stalled) publishOne();
    };
    let scheduled = false;
    onProgress = () => {
      onProgressCheck();
      if (!scheduled && published < total && inFlight() < config.window / 2) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          pump();
        });
      }
    };
    pump();
  } else {
    onProgress = () => onProgressCheck();
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - startedAt) / 1000) * config.rate));
      while (published < due) publishOne();
      if (published >= total) clearInterval(timer);
    }, PACE_TICK_MS);
    void drained.then(() => clearInterval(timer));
  }
  await drained;
  clearInterval(stallTimer);
  const seconds = ((lastDeliveryAt > startedAt ? lastDeliveryAt : performance.now()) - startedAt) / 1000;

  let lost = 0;
  const expectedPublished = published * S;
  for (let i = 0; i < expectedPublished; i++) if (counts[i] === 0) lost += 1;
  // Messages never published (a stalled burst) are not counted as lost here; `published` < `planned` says
  // the run fell short, and the bench reports such a run as not loss-free.
  const sorted = latencies.subarray(0, delivered).sort();
  return {
    planned: total,
    published,
    expected: expectedPublished,
    delivered,
    lost,
    duplicated,
    misrouted,
    seconds,
    deliveriesPerS: delivered / seconds,
    latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : NaN },
  };
}

async function idle(protocol: Protocol, port: number, count: number): Promise<number> {
  const opened = await connectMany(protocol, [port], count);
  return opened.length;
}

let huge: { slice: HugeSlice; channel: string } | undefined;
const storm = new StormClients();
const flow = new Flow();

async function hugeSubscribe(m: HugeSubscribe): Promise<void> {
  // Rotated so that global subscriber first + j lands on ports[(first + j) mod n], as connectMany counts from 0.
  const shift = m.first % m.ports.length;
  const ports = [...m.ports.slice(shift), ...m.ports.slice(0, shift)];
  const subscribers = await connectMany(m.protocol, ports, m.count);
  await Promise.all(subscribers.map((client) => client.subscribe(m.channel)));
  const publisher = m.publisherPort === undefined ? undefined : (await connectMany(m.protocol, [m.publisherPort], 1))[0];
  huge = { slice: new HugeSlice(subscribers, publisher, () => send({ type: 'huge-primed' })), channel: m.channel };
}

process.on('message', (message: ParentMessage) => {
  const fail = (error: unknown): void => send({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) });
  if (message.type === 'storm-connect') storm.connect(message).then((result) => send({ type: 'storm-done', result }), fail);
  else if (message.type === 'storm-close') {
    storm.closeAll();
    send({ type: 'storm-closed' });
  } else if (message.type === 'flow-start') flow.start(message).then(() => send({ type: 'flow-ready' }), fail);
  else if (message.type === 'flow-stop') flow.stop(message.phases, message.drainMs).then((figures) => send({ type: 'flow-done', figures }), fail);
  else if (message.type === 'huge-subscribe') hugeSubscribe(message).then(() => send({ type: 'huge-subscribed' }), fail);
  else if (message.type === 'huge-prime') huge?.slice.prime(huge.channel);
  else if (message.type === 'huge-arm') {
    if (huge === undefined) fail(new Error('huge-arm before huge-subscribe'));
    else {
      huge.slice.arm(message.go);
      send({ type: 'huge-armed' });
    }
  } else if (message.type === 'huge-go') {
    if (huge === undefined) fail(new Error('huge-go before huge-subscribe'));
    else huge.slice.run(huge.channel).then((result) => send({ type: 'huge-done', result }), fail);
  } else if (message.type === 'run') run(message.config).then((result) => send({ type: 'done', result }), fail);
  else if (message.type === 'idle') idle(message.protocol, message.port, message.count).then((connected) => send({ type: 'idle-ready', connected }), fail);
  else if (message.type === 'close') {
    for (const client of clients) client.close();
    storm.closeAll();
    flow.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
