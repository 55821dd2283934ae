/**
 * A subscriber and a publisher client on each of several workers (ours or original), every
 * subscriber on every channel, and an exactly-once exchange that needs no sleep to rule out
 * duplicates: after every message has arrived, each publisher sends a fence on each channel, and
 * the counts are read once every fence has arrived everywhere. A duplicate is relayed before the
 * fence on the same channel and connection, so it would be counted.
 */
import { expect } from 'vitest';
import { Collector, connect, waitUntil, type Client, type TestMessage } from '../../harness/clients.js';
import type { ServiceProcess } from './processes.js';
import type { BrokerSpy } from '../../harness/spy.js';

export interface Mesh {
  readonly workers: readonly ServiceProcess[];
  /** `w0`, `w1`, … one per worker, in order. */
  readonly labels: readonly string[];
  readonly collector: Collector;
  readonly publishers: readonly Client[];
}

/** Connects a subscriber (on every channel) and a publisher to each worker, and primes the channels from each publisher. */
export async function startMesh(workers: readonly ServiceProcess[], channels: readonly string[]): Promise<Mesh> {
  const collector = new Collector();
  const labels = workers.map((_, i) => `w${i}`);
  const subscribers = await Promise.all(workers.map((w) => connect(w.port)));
  await Promise.all(subscribers.map((client, i) => Promise.all(channels.map((c) => collector.subscribe(labels[i]!, client, c)))));
  const publishers = await Promise.all(workers.map((w) => connect(w.port)));
  const mesh = { workers, labels, collector, publishers };
  await prime(mesh, channels);
  return mesh;
}

let primings = 0;

/**
 * Publishes fresh probes from every publisher on every channel until every subscriber has heard one
 * from each: the upstream subscriptions are asynchronous (and move when the broker list changes),
 * and this is the only observable sign that each worker's are where every other worker publishes.
 * Only this call's probes count. Bounded by `timeoutMs`.
 */
export async function prime(mesh: Mesh, channels: readonly string[], timeoutMs = 10_000): Promise<void> {
  const { collector, labels, publishers } = mesh;
  const deadline = Date.now() + timeoutMs;
  const prefix = `prime-${++primings}/`;
  const heard = (label: string, channel: string, w: number): boolean =>
    (collector.received.get(`${label}|${channel}`) ?? []).some((m) => m.probe && m.id.startsWith(`${prefix}${w}/`));
  let pending: Array<{ w: number; c: string }> = [];
  for (let round = 0; Date.now() < deadline; round++) {
    pending = publishers.flatMap((_, w) => channels.filter((c) => labels.some((l) => !heard(l, c, w))).map((c) => ({ w, c })));
    if (pending.length === 0) return;
    await Promise.all(pending.map(({ w, c }) => publishers[w]!.invokePublish(c, { id: `${prefix}${w}/${round}`, probe: true })));
    await collector.until(() => pending.every(({ w, c }) => labels.every((l) => heard(l, c, w))), 300, 'probes').catch(() => undefined);
  }
  const shown = pending.slice(0, 5).map(({ w, c }) => `${c} from w${w}`).join(', ');
  throw new Error(`channels not primed within ${timeoutMs} ms: ${pending.length} (channel, publisher) pairs not heard by every worker, e.g. ${shown}`);
}

/** What one exchange published: ids per publishing worker index and channel, in publish order. */
export interface Exchange {
  readonly tag: string;
  readonly channels: readonly string[];
  readonly sent: ReadonlyMap<string, readonly string[]>;
  readonly perChannel: number;
}

const key = (worker: number, channel: string): string => `${worker}|${channel}`;

/**
 * Every publisher sends `perChannel` messages on every channel (ids `${tag}/${worker}/${channel}/${i}`),
 * waits until every subscriber has at least all of them, then fences each channel from each publisher
 * and waits for every fence at every subscriber (and, with `spies`, at some spy).
 */
export async function exchange(mesh: Mesh, channels: readonly string[], tag: string, perChannel: number, spies: readonly BrokerSpy[] = []): Promise<Exchange> {
  const sent = new Map<string, string[]>();
  const sends: Promise<unknown>[] = [];
  mesh.publishers.forEach((publisher, w) => {
    for (const channel of channels) {
      const ids = Array.from({ length: perChannel }, (_, i) => `${tag}/${w}/${channel}/${i}`);
      sent.set(key(w, channel), ids);
      // Sent back to back: one connection keeps them in order, and a batching worker gets them in one window.
      for (const id of ids) sends.push(publisher.invokePublish(channel, { id }));
    }
  });
  await Promise.all(sends);
  const expected = perChannel * mesh.publishers.length;
  const { collector, labels } = mesh;
  await collector.until(
    () => labels.every((l) => channels.every((c) => collector.messages(l, c).filter((m) => m.id.startsWith(`${tag}/`)).length >= expected)),
    20_000,
    `all ${tag} deliveries`,
  );
  if (spies.length > 0) {
    const allIds = [...sent.entries()].flatMap(([k, ids]) => ids.map((id) => ({ channel: k.slice(k.indexOf('|') + 1), id })));
    await waitUntil(() => allIds.every(({ channel, id }) => spies.some((s) => s.relayed(channel, id))), 10_000, `spies hearing ${tag}`);
  }
  const fenceId = (w: number, c: string): string => `${tag}-fence/${w}/${c}`;
  await Promise.all(mesh.publishers.flatMap((p, w) => channels.map((c) => p.invokePublish(c, { id: fenceId(w, c), probe: true }))));
  const heard = (label: string, channel: string, id: string): boolean =>
    (collector.received.get(`${label}|${channel}`) ?? []).some((m) => m.id === id);
  await collector.until(
    () => labels.every((l) => channels.every((c) => mesh.publishers.every((_, w) => heard(l, c, fenceId(w, c))))),
    10_000,
    `${tag} fences`,
  );
  if (spies.length > 0) {
    await waitUntil(() => channels.every((c) => mesh.publishers.every((_, w) => spies.some((s) => s.relayed(c, fenceId(w, c))))), 10_000, `spies hearing ${tag} fences`);
  }
  return { tag, channels, sent, perChannel };
}

/** Every subscriber got every message of the exchange exactly once, each publisher's in publish order. */
export function expectExactlyOnce(mesh: Mesh, result: Exchange): void {
  const problems: string[] = [];
  for (const label of mesh.labels) {
    for (const channel of result.channels) {
      const got = mesh.collector.messages(label, channel).filter((m: TestMessage) => m.id.startsWith(`${result.tag}/`)).map((m) => m.id);
      mesh.publishers.forEach((_, w) => {
        const want = result.sent.get(key(w, channel)) ?? [];
        const fromW = got.filter((id) => id.startsWith(`${result.tag}/${w}/`));
        if (fromW.join() !== want.join()) problems.push(`${label} ${channel} from w${w}: got ${fromW.length} [${fromW.slice(0, 3).join(' ')}…], want ${want.length}`);
      });
    }
  }
  expect(problems.slice(0, 10), `${problems.length} (subscriber, channel, publisher) mismatches`).toEqual([]);
}

/**
 * For each channel: the URI of every broker whose spy relayed any of the exchange's messages, per
 * publishing worker. A healthy cluster has exactly one broker per channel, the same for all workers.
 */
export function relayingBrokers(result: Exchange, spies: readonly BrokerSpy[], workers: number): Map<string, string[][]> {
  const out = new Map<string, string[][]>();
  for (const channel of result.channels) {
    const perWorker: string[][] = [];
    for (let w = 0; w < workers; w++) {
      const ids = result.sent.get(key(w, channel)) ?? [];
      perWorker.push(spies.filter((s) => ids.some((id) => s.relayed(channel, id))).map((s) => s.uri));
    }
    out.set(channel, perWorker);
  }
  return out;
}
