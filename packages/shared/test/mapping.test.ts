import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  createMapper,
  hashToIndex,
  md5Hex,
  SimpleMapper,
  SkeletonRendezvousMapper,
  type Mapper,
  type MappingEngineName,
} from '../src/mapping/index.js';

// ---------------------------------------------------------------------------
// The npm originals (CommonJS), loaded the way scc-broker-client 9.2.0 does.
// ---------------------------------------------------------------------------

const require = createRequire(import.meta.url);

interface OriginalMapper {
  setSites(sites: string[]): void;
  getSites(): string[];
  findSite(key: string, salt?: number): string | null | undefined;
}
type OriginalMapperClass = new (options?: Record<string, unknown>) => OriginalMapper;
interface OriginalHasher {
  hashToIndex(key: string, modulo: number): number;
  hashToHex(key: string, algorithm?: string): string;
}

const SkeletonRendezvousHasher = require('skeleton-rendezvous') as OriginalMapperClass;
const skeletonRendezvousVersion = (require('skeleton-rendezvous/package.json') as { version: string }).version;
const sccBrokerClientVersion = (require('scc-broker-client/package.json') as { version: string }).version;
const OriginalSkeletonRendezvousMapper = require(
  'scc-broker-client/mappers/skeleton-rendezvous-mapper.js',
) as OriginalMapperClass;
const OriginalSimpleMapper = require('scc-broker-client/mappers/simple-mapper.js') as OriginalMapperClass;
const OriginalHasherClass = require('scc-broker-client/hasher.js') as new () => OriginalHasher;
const originalHasher = new OriginalHasherClass();

// ---------------------------------------------------------------------------
// Seeded randomness, so any failure is reproducible.
// ---------------------------------------------------------------------------

type Random = () => number;

function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function pick<T>(random: Random, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick() from an empty list');
  return item;
}

function shuffled<T>(random: Random, items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = copy[i] as T;
    copy[i] = copy[j] as T;
    copy[j] = a;
  }
  return copy;
}

function randomCodePoints(random: Random, length: number, ranges: readonly (readonly [number, number])[]): string {
  let text = '';
  for (let i = 0; i < length; i++) {
    const [low, high] = pick(random, ranges);
    text += String.fromCodePoint(randomInt(random, low, high));
  }
  return text;
}

const ASCII: readonly (readonly [number, number])[] = [[0x20, 0x7e]];
const NON_ASCII: readonly (readonly [number, number])[] = [
  [0xa0, 0x17f], // Latin-1 / Latin Extended-A
  [0x400, 0x4ff], // Cyrillic
  [0x4e00, 0x9fff], // CJK
  [0x1f300, 0x1faff], // emoji (surrogate pairs)
  [0x20, 0x7e],
];

function randomNumericLookingKey(random: Random): string {
  const n = randomInt(random, 0, 1e9);
  switch (randomInt(random, 0, 13)) {
    case 0:
      return String(n);
    case 1:
      return String(-n);
    case 2:
      return `${randomInt(random, 1, 9)}e${randomInt(random, -5, 400)}`;
    case 3:
      return ` ${n} `;
    case 4:
      return `0x${n.toString(16)}`;
    case 5:
      return pick(random, ['Infinity', '-Infinity', '+Infinity', 'NaN', '-0', '0', '.5', '5.', '+5']);
    case 6:
      return String(random() * 1e6 - 5e5);
    case 7:
      return `0b${n.toString(2)}`;
    case 8:
      return `0o${n.toString(8)}`;
    case 9:
      return `\t${n}\n`;
    case 10:
      return '9'.repeat(randomInt(random, 10, 400)); // large finite, then Infinity
    case 11:
      return String(randomInt(random, 0, 2 ** 53)); // beyond int32
    case 12:
      return `${n}`.padStart(32, '0'); // md5-hex-shaped but all digits
    default:
      return `${n}abc`; // not numeric
  }
}

function randomKey(random: Random): string {
  const kind = randomInt(random, 0, 9);
  switch (kind) {
    case 0:
      return '';
    case 1:
      return randomNumericLookingKey(random);
    case 2:
      return randomCodePoints(random, randomInt(random, 1, 12), NON_ASCII);
    case 3:
      return randomCodePoints(random, randomInt(random, 200, 3000), NON_ASCII);
    case 4:
      // Lone surrogates: md5 sees U+FFFD for them, in both implementations.
      return `x${String.fromCharCode(randomInt(random, 0xd800, 0xdfff))}${randomInt(random, 0, 99)}`;
    case 5:
      return `chat/${randomInt(random, 0, 100000)}`;
    default:
      return randomCodePoints(random, randomInt(random, 1, 24), ASCII);
  }
}

function randomSite(random: Random): string {
  switch (randomInt(random, 0, 3)) {
    case 0:
      return `ws://[fd00::${randomInt(random, 0, 0xffff).toString(16)}]:8888`;
    case 1:
      return `ws://10.0.${randomInt(random, 0, 3)}.${randomInt(random, 0, 255)}:${pick(random, [8888, 8889, 443])}`;
    case 2:
      return `wss://broker-${randomInt(random, 0, 500)}.example.com:${randomInt(random, 1, 65535)}`;
    default:
      return `ws://10.0.0.${randomInt(random, 0, 40)}:8888`;
  }
}

/** Random, unsorted site list of `count` entries, with duplicates now and then. */
function randomSites(random: Random, count: number): string[] {
  const sites: string[] = [];
  while (sites.length < count) {
    if (sites.length > 0 && random() < 0.1) sites.push(pick(random, sites));
    else sites.push(randomSite(random));
  }
  return sites;
}

function describeCase(key: string, sites: readonly string[]): string {
  return `key=${JSON.stringify(key.length > 200 ? `${key.slice(0, 200)}…(${key.length} chars)` : key)} sites=${JSON.stringify(sites)}`;
}

interface DifferentialOptions {
  seed: number;
  siteSets: number;
  keysPerSet: number;
  minSites: number;
  maxSites: number;
  makeOriginal: () => OriginalMapper;
  makeOurs: () => Mapper;
  /** Expected findSite result of the original, mapped to our conventions. */
  expectedFrom?: (original: string | null | undefined, sites: readonly string[]) => string | null | undefined;
  compareGetSites: boolean;
}

/** Runs both implementations over random inputs; returns the first mismatch, or null, and the number of keys. */
function runDifferential(options: DifferentialOptions): { mismatch: string | null; keys: number } {
  const random = mulberry32(options.seed);
  // One instance of each reused across site sets: setSites must replace, not add.
  const original = options.makeOriginal();
  const ours = options.makeOurs();
  let keys = 0;
  for (let set = 0; set < options.siteSets; set++) {
    const sites = randomSites(random, randomInt(random, options.minSites, options.maxSites));
    original.setSites([...sites]);
    ours.setSites([...sites]);
    if (options.compareGetSites) {
      const expected = JSON.stringify(original.getSites());
      const actual = JSON.stringify(ours.getSites?.());
      if (expected !== actual) {
        return { mismatch: `getSites() for sites=${JSON.stringify(sites)}: expected ${expected}, got ${actual}`, keys };
      }
    }
    for (let k = 0; k < options.keysPerSet; k++) {
      const key = randomKey(random);
      keys++;
      const raw = original.findSite(key);
      const expected = options.expectedFrom ? options.expectedFrom(raw, sites) : raw;
      const actual = ours.findSite(key);
      if (actual !== expected) {
        return {
          mismatch: `${describeCase(key, sites)}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
          keys,
        };
      }
    }
  }
  return { mismatch: null, keys };
}

// ---------------------------------------------------------------------------
// Fixed vectors
// ---------------------------------------------------------------------------

describe('skeleton rendezvous: fixed vectors', () => {
  const cases: readonly { name: string; sites: string[]; expected: Record<string, string> }[] = [
    {
      name: 'two local brokers',
      sites: ['ws://127.0.0.1:8888', 'ws://127.0.0.1:8889'],
      expected: {
        room1: 'ws://127.0.0.1:8888',
        foo: 'ws://127.0.0.1:8889',
        bar: 'ws://127.0.0.1:8888',
        'chat/42': 'ws://127.0.0.1:8888',
        '': 'ws://127.0.0.1:8888',
        x: 'ws://127.0.0.1:8888',
      },
    },
    {
      name: 'three brokers given unsorted',
      sites: ['ws://127.0.0.1:8889', 'ws://127.0.0.1:8888', 'ws://127.0.0.1:8890'],
      expected: {
        room1: 'ws://127.0.0.1:8890',
        foo: 'ws://127.0.0.1:8889',
        bar: 'ws://127.0.0.1:8888',
        'chat/42': 'ws://127.0.0.1:8888',
        news: 'ws://127.0.0.1:8888',
        'a/b/c': 'ws://127.0.0.1:8889',
      },
    },
    {
      name: '40 IPv4 brokers (two clusters of 20)',
      sites: Array.from({ length: 40 }, (_, i) => `ws://10.0.0.${i}:8888`),
      expected: {
        room1: 'ws://10.0.0.5:8888',
        foo: 'ws://10.0.0.0:8888',
        bar: 'ws://10.0.0.38:8888',
        'chat/42': 'ws://10.0.0.4:8888',
        news: 'ws://10.0.0.34:8888',
        'a/b/c': 'ws://10.0.0.8:8888',
      },
    },
    {
      name: '17 IPv6 brokers (one cluster)',
      sites: Array.from({ length: 17 }, (_, i) => `ws://[fd00::${i}]:8888`),
      expected: {
        room1: 'ws://[fd00::10]:8888',
        foo: 'ws://[fd00::6]:8888',
        bar: 'ws://[fd00::14]:8888',
        'chat/42': 'ws://[fd00::13]:8888',
        news: 'ws://[fd00::14]:8888',
      },
    },
  ];

  // docs/protocol.md publishes these vectors: its table and these cases must be the same rows.
  it('are exactly the vectors of docs/protocol.md', () => {
    const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('### Test vectors'));
    const rows = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split('|')[2]?.trim() ?? '');
    expect(rows).toHaveLength(cases.length);
    rows.forEach((row, i) => {
      const { sites, expected } = cases[i]!;
      const pairs = row.split(', ').map((pair) => pair.split(' → ') as [string, string]);
      const keys = pairs.map(([key]) => (key === '""' ? '' : key));
      expect(keys, `row ${i + 1}`).toEqual(Object.keys(expected));
      for (const [key, short] of pairs) {
        // The table writes a site by what tells it apart: its port, its last IPv4 octet or its IPv6 suffix.
        const named = sites.filter((site) => site.endsWith(`:${short}`) || site.includes(`${short}:`) || site.includes(`${short}]`));
        expect(named, `row ${i + 1}, ${short}`).toHaveLength(1);
        expect(named[0], `row ${i + 1}, key ${key}`).toBe(expected[key === '""' ? '' : key]);
      }
    });
  });

  for (const { name, sites, expected } of cases) {
    it(name, () => {
      const mapper = new SkeletonRendezvousMapper();
      mapper.setSites(sites);
      const actual = Object.fromEntries(Object.keys(expected).map((key) => [key, mapper.findSite(key)]));
      expect(actual).toEqual(expected);
    });
  }

  it('splits 40 sites into two clusters of 20, dealing the short last cluster round-robin', () => {
    const sites = Array.from({ length: 40 }, (_, i) => `ws://10.0.0.${i}:8888`);
    const mapper = new SkeletonRendezvousMapper();
    mapper.setSites(sites);
    const sorted = [...sites].sort();
    const expected = [
      ...sorted.slice(0, 16),
      ...sorted.slice(32).filter((_, i) => i % 2 === 0),
      ...sorted.slice(16, 32),
      ...sorted.slice(32).filter((_, i) => i % 2 === 1),
    ];
    expect(mapper.getSites()).toEqual(expected);
  });

  it('maps every key to null when there are no sites', () => {
    const mapper = new SkeletonRendezvousMapper();
    expect(mapper.findSite('room1')).toBeNull();
    mapper.setSites([]);
    expect(mapper.findSite('')).toBeNull();
    expect(mapper.getSites()).toEqual([]);
    mapper.setSites(['ws://a:1']);
    mapper.setSites([]);
    expect(mapper.findSite('room1')).toBeNull();
  });
});

// ---------------------------------------------------------------------------
// Differential tests against the npm originals
// ---------------------------------------------------------------------------

describe('differential: skeleton-rendezvous@1.1.3', () => {
  it('is the version we claim to match', () => {
    expect(skeletonRendezvousVersion).toBe('1.1.3');
    expect(sccBrokerClientVersion).toBe('9.2.0');
  });

  it('matches findSite and getSites for 10,000 random keys over 1-40 random sites', () => {
    const { mismatch, keys } = runDifferential({
      seed: 0x5eed_0001,
      siteSets: 400,
      keysPerSet: 25,
      minSites: 1,
      maxSites: 40,
      makeOriginal: () => new SkeletonRendezvousHasher(),
      makeOurs: () => new SkeletonRendezvousMapper(),
      compareGetSites: true,
    });
    expect(mismatch).toBeNull();
    expect(keys).toBe(10_000);
  });

  it('matches with 0-300 sites (several levels, salted retries) and counts the retries', () => {
    let saltedCalls = 0;
    const { mismatch } = runDifferential({
      seed: 0x5eed_0002,
      siteSets: 120,
      keysPerSet: 25,
      minSites: 0,
      maxSites: 300,
      makeOriginal: () => {
        const hasher = new SkeletonRendezvousHasher();
        const findSite = hasher.findSite.bind(hasher);
        // The original retries by calling this.findSite(key, salt + 1): count those calls.
        hasher.findSite = (key: string, salt?: number) => {
          if (salt) saltedCalls++;
          return findSite(key, salt);
        };
        return hasher;
      },
      makeOurs: () => new SkeletonRendezvousMapper(),
      compareGetSites: true,
    });
    expect(mismatch).toBeNull();
    // Otherwise this test would not exercise the retry path at all.
    expect(saltedCalls).toBeGreaterThan(100);
  });

  it('drops sites named like Object.prototype members, as the original de-duplication does', () => {
    const sites = ['ws://b:1', 'constructor', 'ws://a:1', 'toString', '__proto__', 'ws://a:1', 'hasOwnProperty', 'valueOf'];
    const original = new SkeletonRendezvousHasher();
    original.setSites([...sites]);
    const ours = new SkeletonRendezvousMapper();
    ours.setSites(sites);
    expect(ours.getSites()).toEqual(original.getSites());
    expect(ours.getSites()).toEqual(['ws://a:1', 'ws://b:1']);
    for (const key of ['room1', 'foo', '', 'constructor']) {
      expect(ours.findSite(key)).toBe(original.findSite(key));
    }
  });
});

describe('differential: scc-broker-client@9.2.0 mappers', () => {
  it('skeletonRendezvous engine matches SkeletonRendezvousMapper for 10,000 random keys', () => {
    const { mismatch, keys } = runDifferential({
      seed: 0x5eed_0003,
      siteSets: 400,
      keysPerSet: 25,
      minSites: 0,
      maxSites: 40,
      makeOriginal: () => new OriginalSkeletonRendezvousMapper(),
      makeOurs: () => createMapper('skeletonRendezvous'),
      compareGetSites: true,
    });
    expect(mismatch).toBeNull();
    expect(keys).toBe(10_000);
  });

  it('simple engine matches SimpleMapper for 10,000 random keys (unsorted, duplicates, empty)', () => {
    const { mismatch, keys } = runDifferential({
      seed: 0x5eed_0004,
      siteSets: 400,
      keysPerSet: 25,
      minSites: 0,
      maxSites: 40,
      makeOriginal: () => new OriginalSimpleMapper(),
      makeOurs: () => createMapper('simple'),
      // The original returns undefined (sites[NaN]) for an empty list; we return null.
      expectedFrom: (original, sites) => (sites.length === 0 ? null : original),
      compareGetSites: true,
    });
    expect(mismatch).toBeNull();
    expect(keys).toBe(10_000);
  });

  it('simple engine uses the list as received: order and duplicates matter', () => {
    const mapper = new SimpleMapper();
    const original = new OriginalSimpleMapper();
    const sites = ['ws://c:1', 'ws://a:1', 'ws://a:1', 'ws://b:1'];
    mapper.setSites(sites);
    original.setSites([...sites]);
    expect(mapper.getSites()).toEqual(sites);
    for (let i = 0; i < 200; i++) {
      expect(mapper.findSite(`k${i}`)).toBe(original.findSite(`k${i}`));
    }
    expect(new SimpleMapper().findSite('room1')).toBeNull();
  });

  it('simple engine is not affected by later mutation of the caller array', () => {
    const mapper = new SimpleMapper();
    const sites = ['ws://a:1', 'ws://b:1'];
    mapper.setSites(sites);
    sites.length = 0;
    expect(mapper.findSite('room1')).not.toBeNull();
  });
});

describe('differential: hashToIndex vs scc-broker-client@9.2.0 hasher.js', () => {
  const targeted: readonly string[] = [
    '',
    '123',
    '-5',
    '1e3',
    ' 12 ',
    '0x1f',
    'Infinity',
    '-Infinity',
    '3.7',
    '-0',
    '0',
    'NaN',
    '.5',
    '5.',
    '+5',
    '0b11',
    '0o17',
    '0x',
    '1_000',
    '\n7\t',
    '2147483647',
    '2147483648',
    '-2147483649',
    '4294967296',
    '9007199254740993',
    '1'.repeat(25),
    '9'.repeat(400),
    'ünïcødé',
    '频道',
    '🚀x',
    'x🚀',
    '\ud800',
    'a',
    'abc',
    'room1',
    'chat/42',
    'a'.repeat(100_000),
    '频'.repeat(50_000),
    '12345678901234567890123456789012',
    '1e345678901234567890123456789012',
    md5Hex('room1'),
  ];

  it('matches on targeted keys (numeric, empty, non-ASCII, very long) for moduli 1..7', () => {
    const mismatches: string[] = [];
    for (const key of targeted) {
      for (let modulo = 1; modulo <= 7; modulo++) {
        const expected = originalHasher.hashToIndex(key, modulo);
        const actual = hashToIndex(key, modulo);
        if (!Object.is(actual, expected)) {
          mismatches.push(`${describeCase(key, [])} modulo=${modulo}: expected ${expected}, got ${actual}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('feeds the numeric value of a numeric first step in (the keys differ from their non-numeric twins)', () => {
    // Sanity check that the targeted cases really hit the coercion paths of the original.
    const big = 1_000_003;
    expect(originalHasher.hashToIndex('123', big)).not.toBe(originalHasher.hashToIndex('a23', big));
    expect(originalHasher.hashToIndex('abc', big)).toBe(originalHasher.hashToIndex('xbc', big));
    expect(hashToIndex('123', big)).not.toBe(hashToIndex('a23', big));
    expect(hashToIndex('abc', big)).toBe(hashToIndex('xbc', big));
  });

  it('matches on modulo 0 (NaN) and large moduli', () => {
    for (const key of targeted) {
      for (const modulo of [0, 8, 16, 31, 1000, 2 ** 31, 2 ** 32 + 1]) {
        expect(Object.is(hashToIndex(key, modulo), originalHasher.hashToIndex(key, modulo))).toBe(true);
      }
    }
  });

  it('matches on 20,000 random keys and md5 hex keys for moduli 1..40', () => {
    const random = mulberry32(0x5eed_0005);
    let mismatch: string | null = null;
    for (let i = 0; i < 20_000 && mismatch === null; i++) {
      const raw = randomKey(random);
      const key = i % 2 === 0 ? raw : md5Hex(raw);
      const modulo = randomInt(random, 1, 40);
      const expected = originalHasher.hashToIndex(key, modulo);
      const actual = hashToIndex(key, modulo);
      if (!Object.is(actual, expected)) {
        mismatch = `${describeCase(key, [])} modulo=${modulo}: expected ${expected}, got ${actual}`;
      }
    }
    expect(mismatch).toBeNull();
  });

  it('md5Hex equals the original hashToHex / createHash md5 (including lone surrogates)', () => {
    const random = mulberry32(0x5eed_0006);
    let mismatch: string | null = null;
    for (let i = 0; i < 2_000 && mismatch === null; i++) {
      const key = randomKey(random);
      const expected = originalHasher.hashToHex(key);
      const viaCreateHash = createHash('md5').update(key).digest('hex');
      const actual = md5Hex(key);
      if (actual !== expected || actual !== viaCreateHash) mismatch = describeCase(key, []);
    }
    expect(mismatch).toBeNull();
  });
});

// ---------------------------------------------------------------------------
// Stability properties
// ---------------------------------------------------------------------------

describe('skeleton rendezvous: stability', () => {
  it('gives the same mapping for the same set of sites in any order (with duplicates)', () => {
    const random = mulberry32(0x5eed_0007);
    let mismatch: string | null = null;
    for (let set = 0; set < 30 && mismatch === null; set++) {
      const sites = randomSites(random, randomInt(random, 1, 120));
      const reordered = [...shuffled(random, sites), ...sites.slice(0, randomInt(random, 0, 3))];
      const a = new SkeletonRendezvousMapper();
      const b = new SkeletonRendezvousMapper();
      a.setSites(sites);
      b.setSites(reordered);
      if (JSON.stringify(a.getSites()) !== JSON.stringify(b.getSites())) {
        mismatch = `getSites() differs for ${JSON.stringify(sites)}`;
        break;
      }
      for (let k = 0; k < 100; k++) {
        const key = randomKey(random);
        if (a.findSite(key) !== b.findSite(key)) {
          mismatch = `${describeCase(key, sites)} vs reordered ${JSON.stringify(reordered)}`;
          break;
        }
      }
    }
    expect(mismatch).toBeNull();
  });

  // Only meaningful while the cluster layout does not change: with at most 31
  // distinct sites there is a single cluster (a short second cluster is merged
  // into the first), so the mapping is plain rendezvous hashing. With several
  // clusters, removing a site re-cuts the sorted list into clusters, and keys of
  // other sites may move too; the original behaves the same way.
  it('moves only the keys of a removed site (single-cluster layouts, 2-31 sites)', () => {
    const random = mulberry32(0x5eed_0008);
    const keys = Array.from({ length: 3_000 }, (_, i) => (i % 3 === 0 ? randomKey(random) : `channel-${i}`));
    let mismatch: string | null = null;
    let movedKeys = 0;
    for (let set = 0; set < 12 && mismatch === null; set++) {
      const sites = [...new Set(randomSites(random, randomInt(random, 2, 31)))];
      const removed = pick(random, sites);
      const remaining = sites.filter((site) => site !== removed);
      const before = new SkeletonRendezvousMapper();
      const after = new SkeletonRendezvousMapper();
      before.setSites(sites);
      after.setSites(remaining);
      for (const key of keys) {
        const was = before.findSite(key);
        const now = after.findSite(key);
        if (was === removed) {
          movedKeys++;
          if (now === null || now === removed || !remaining.includes(now)) {
            mismatch = `${describeCase(key, sites)}: key of removed ${removed} went to ${now}`;
            break;
          }
        } else if (was !== now) {
          mismatch = `${describeCase(key, sites)}: removing ${removed} moved key from ${was} to ${now}`;
          break;
        }
      }
    }
    expect(mismatch).toBeNull();
    expect(movedKeys).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------
// createMapper
// ---------------------------------------------------------------------------

describe('createMapper', () => {
  it('maps engine names to fresh instances of the engine classes', () => {
    const skeleton = createMapper('skeletonRendezvous');
    const simple = createMapper('simple');
    expect(skeleton).toBeInstanceOf(SkeletonRendezvousMapper);
    expect(simple).toBeInstanceOf(SimpleMapper);
    expect(createMapper('simple')).not.toBe(simple);
  });

  it('returns a custom Mapper object as is', () => {
    const custom: Mapper = {
      setSites: () => undefined,
      getSites: () => ['ws://custom:1'],
      findSite: () => 'ws://custom:1',
    };
    expect(createMapper(custom)).toBe(custom);
  });

  it('throws a TypeError naming an unknown engine', () => {
    expect(() => createMapper('rendezvous' as MappingEngineName)).toThrow(TypeError);
    expect(() => createMapper('rendezvous' as MappingEngineName)).toThrow(/'rendezvous'/);
    expect(() => createMapper('' as MappingEngineName)).toThrow(TypeError);
  });

  it('throws a TypeError for values that are not Mapper objects', () => {
    for (const bad of [null, undefined, 42, {}, { findSite: () => null }]) {
      expect(() => createMapper(bad as unknown as Mapper)).toThrow(TypeError);
    }
  });
});
