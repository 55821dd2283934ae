/**
 * Differential test of the whole routing decision of a worker, ours against scc-broker-client
 * 9.2.0: for broker lists of 1 to 40 brokers and 10,000 channel names, both pick the same broker
 * (our Router with the engine named in the options vs the original ClusterBrokerClient) and the same
 * client of the broker's pool with `clientPoolSize` 3 (our BrokerPool vs the original ClientPool's
 * selectClient). A mixed fleet splits a channel if either differs.
 *
 * The original code runs as published: ClusterBrokerClient is constructed for real (it picks its
 * mapper from `mappingEngine`), and ClientPool's own selectClient runs on a pool of three stand-in
 * clients (a real ClientPool would open sockets). Ours runs as the plugin wires it: createMapper,
 * a Router, and a real BrokerPool (closed at once; only its choice of client is read).
 */
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, createMapper, type MappingEngineName } from '@scc-ts/shared';
import { BrokerPool } from '../src/cluster/broker-pool.js';
import { Router } from '../src/cluster/router.js';
import { createClusterStats } from '../src/cluster/stats.js';
import type { Transport } from '../src/cluster/transport.js';

const require = createRequire(import.meta.url);

interface OriginalClusterBrokerClient {
  mapper: { setSites(sites: string[]): void };
  mapChannelNameToBrokerURI(channel: string): string | null | undefined;
}
const OriginalClusterBrokerClient = require('scc-broker-client/cluster-broker-client.js') as new (
  broker: unknown,
  options: { mappingEngine: MappingEngineName; clientPoolSize: number },
) => OriginalClusterBrokerClient;
const OriginalClientPool = require('scc-broker-client/client-pool.js') as {
  prototype: { selectClient(this: { hasher: unknown; clients: Array<{ poolIndex: number }> }, key: string): { poolIndex: number } };
};
const OriginalHasher = require('scc-broker-client/hasher.js') as new () => unknown;
const sccBrokerClientVersion = (require('scc-broker-client/package.json') as { version: string }).version;

const POOL_SIZE = 3;
const CHANNELS = 10_000;
const MAX_BROKERS = 40;
/** Broker lists each channel name is routed under (the lookups are md5-bound; 2 keeps the test quick). */
const LISTS_PER_CHANNEL = 2;

/** Seeded PRNG (mulberry32), so a failure is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
const random = prng(0x5cc_c0de);
const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;

/** A broker list as the state server sends it: distinct URIs in join order (unsorted), IPv4 bare, IPv6 bracketed. */
function brokerList(size: number): string[] {
  const uris = new Set<string>();
  while (uris.size < size) {
    const ip = random() < 0.8 ? `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}` : `[fd00::${int(1, 0xffff).toString(16)}]`;
    uris.add(`${random() < 0.1 ? 'wss' : 'ws'}://${ip}:${random() < 0.7 ? 8888 : int(1024, 65_535)}`);
  }
  return [...uris];
}

/**
 * Channel names of the kinds apps use, plus the ones the original's hashToIndex treats specially:
 * numeric strings (their value enters the first step), non-ASCII, long and one-character names.
 */
function channelNames(count: number): string[] {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:-_.#@ ';
  const shapes: Array<(i: number) => string> = [
    (i) => `chat/room-${i}`,
    (i) => `user:${int(1, 1e9)}:notifications:${i}`,
    (i) => String(i),
    (i) => `${int(-1e6, 1e6)}${i % 3 === 0 ? '.5' : ''}`,
    (i) => ['0x', '0b', '0o'][i % 3]! + (i % 3 === 1 ? i.toString(2) : i % 3 === 2 ? i.toString(8) : i.toString(16)),
    (i) => `${i}e${i % 5}`,
    (i) => `café/${i}/日本語/${String.fromCodePoint(0x1f600 + (i % 50))}`,
    (i) => `${pick(['Ω', 'é', '中', '\u{1F680}'])}${i}`,
    (i) => `${'x'.repeat(int(100, 300))}/${i}`,
    (i) => Array.from({ length: int(1, 24) }, () => pick([...alphabet])).join('') + `#${i}`,
  ];
  const names = new Set<string>(['a', 'Z', '0', '1', ' ', 'Infinity', '-0', ' 42 ']);
  for (let i = 0; names.size < count; i++) names.add(shapes[i % shapes.length]!(i));
  return [...names];
}

const logger = createLogger({ name: 'compat-mapping', level: 0, format: 'json' });
const pools: BrokerPool[] = [];
afterAll(() => {
  for (const pool of pools) pool.close();
});

/** Our routing: the Router as attach() builds it, with transports that open no sockets (no channel is carried). */
function ourRouter(engine: MappingEngineName, uris: readonly string[]): Router {
  const router = new Router({
    mappingEngine: engine,
    delayMs: 0,
    graceMs: 0,
    stats: createClusterStats(),
    logger,
    linkTimeoutMs: 3000,
    createTransport: () => ({ close() {}, subscriptions: () => [] }) as unknown as Transport,
  });
  router.setBrokers(uris);
  return router;
}

/** Our pool choice: a real BrokerPool of POOL_SIZE clients, closed at once, asked which client carries a channel. */
function ourPoolIndex(): (channel: string) => number {
  const pool = new BrokerPool({ uri: 'ws://127.0.0.1:9', size: POOL_SIZE, authKey: null, retryDelayMs: 60_000, reconnectRandomnessMs: 0, linkTimeoutMs: 3000, logger, onPacket: () => {} });
  pool.close();
  pools.push(pool);
  // The pool's one routing decision: which link (by its poolIndex query value) carries the channel.
  return (channel) => pool.poolIndexFor(channel);
}

function originalPoolIndex(): (channel: string) => number {
  const stand = { hasher: new OriginalHasher(), clients: Array.from({ length: POOL_SIZE }, (_, poolIndex) => ({ poolIndex })) };
  return (channel) => OriginalClientPool.prototype.selectClient.call(stand, channel).poolIndex;
}

describe(`worker routing, ours vs scc-broker-client ${sccBrokerClientVersion}`, () => {
  it('compares against scc-broker-client 9.2.0', () => {
    expect(sccBrokerClientVersion).toBe('9.2.0');
  });

  const names = channelNames(CHANNELS);
  const lists = Array.from({ length: MAX_BROKERS }, (_, i) => brokerList(i + 1));

  it('picks the same pool client (clientPoolSize 3) for every one of 10,000 channel names', () => {
    const ours = ourPoolIndex();
    const original = originalPoolIndex();
    const mismatches = names.filter((name) => ours(name) !== original(name));
    expect(mismatches.slice(0, 5).map((n) => JSON.stringify(n))).toEqual([]);
    // All three clients are used, so the comparison is not vacuous.
    expect(new Set(names.map(ours))).toEqual(new Set([0, 1, 2]));
  });

  it.each(['skeletonRendezvous', 'simple'] as const)(
    '%s: picks the same broker and pool client for 10,000 channel names over broker lists of 1 to 40',
    (engine) => {
      const ourRouters = lists.map((uris) => ourRouter(engine, uris));
      const originals = lists.map((uris) => {
        const client = new OriginalClusterBrokerClient({ subscriptions: () => [] }, { mappingEngine: engine, clientPoolSize: POOL_SIZE });
        // What ClusterBrokerClient.setBrokers does for the mapping (the rest of it opens sockets).
        client.mapper.setSites(uris.concat());
        return client;
      });
      const ourPool = ourPoolIndex();
      const originalPool = originalPoolIndex();
      const mismatches: string[] = [];
      const sizesSeen = new Set<number>();
      let compared = 0;
      names.forEach((name, i) => {
        for (let k = 0; k < LISTS_PER_CHANNEL; k++) {
          const l = (i + k * (MAX_BROKERS / LISTS_PER_CHANNEL)) % MAX_BROKERS;
          const ours = [ourRouters[l]!.ownerOf(name), ourPool(name)];
          const original = [originals[l]!.mapChannelNameToBrokerURI(name), originalPool(name)];
          compared += 1;
          sizesSeen.add(l + 1);
          if (ours[0] !== original[0] || ours[1] !== original[1]) {
            mismatches.push(`${JSON.stringify(name)} over ${l + 1} brokers: ours ${JSON.stringify(ours)}, original ${JSON.stringify(original)}`);
          }
        }
      });
      expect(mismatches.slice(0, 5), `${mismatches.length} of ${compared} differ`).toEqual([]);
      expect(compared).toBe(CHANNELS * LISTS_PER_CHANNEL);
      expect(sizesSeen.size).toBe(MAX_BROKERS);
      // Every broker of the largest list owns some names: the comparison spans the whole list.
      const owners = new Set(names.map((n) => ourRouters[MAX_BROKERS - 1]!.ownerOf(n)));
      expect(owners.size).toBe(MAX_BROKERS);
    },
  );
});
