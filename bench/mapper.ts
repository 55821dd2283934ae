/**
 * Mapper benchmark: the share of channels that change broker when the cluster grows from N to N+1
 * brokers (N = 1 … max), against the ideal 1/(N+1) of a perfectly consistent hash. Uses our shared
 * mapper (packages/shared/src/mapping), the one every worker uses. Prints a table and one JSON line.
 *
 *   pnpm bench:mapper [--channels 100000] [--max 16] [--engine skeletonRendezvous|simple] [--out FILE]
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createMapper, type MappingEngineName } from '@scc-ts/shared';
import { round } from './lib/stats.js';

/** A bad flag: one line on stderr, exit code 2. */
function usage(message: string): never {
  console.error(`bench:mapper: ${message}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    channels: { type: 'string', default: '100000' },
    max: { type: 'string', default: '16' },
    engine: { type: 'string', default: 'skeletonRendezvous' },
    out: { type: 'string' },
  },
});
const CHANNELS = Number(values.channels);
const MAX = Number(values.max);
if (!Number.isInteger(CHANNELS) || CHANNELS < 1) usage(`--channels=${values.channels}: must be a positive integer`);
if (!Number.isInteger(MAX) || MAX < 1) usage(`--max=${values.max}: must be a positive integer`);
if (values.engine !== 'skeletonRendezvous' && values.engine !== 'simple') usage(`--engine=${values.engine}: skeletonRendezvous or simple`);
const engine: MappingEngineName = values.engine;

const names = Array.from({ length: CHANNELS }, (_, i) => `room/${i.toString(36)}/chat`);
// Broker URIs as the state server writes them (one IP per broker pod).
const sites = Array.from({ length: MAX + 1 }, (_, i) => `ws://10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:8888`);

function owners(n: number): { owner: Int32Array; usPerLookup: number } {
  const mapper = createMapper(engine);
  mapper.setSites(sites.slice(0, n));
  const index = new Map(sites.map((s, i) => [s, i]));
  const owner = new Int32Array(CHANNELS);
  const start = performance.now();
  for (let i = 0; i < CHANNELS; i++) owner[i] = index.get(mapper.findSite(names[i]!) ?? '') ?? -1;
  return { owner, usPerLookup: ((performance.now() - start) * 1000) / CHANNELS };
}

const rows: Array<{ from: number; to: number; moved: number; ideal: number; ratio: number; usPerLookup: number }> = [];
let before = owners(1);
for (let n = 1; n <= MAX; n++) {
  const after = owners(n + 1);
  let moved = 0;
  for (let i = 0; i < CHANNELS; i++) if (before.owner[i] !== after.owner[i]) moved += 1;
  const share = moved / CHANNELS;
  const ideal = 1 / (n + 1);
  rows.push({ from: n, to: n + 1, moved: round(share, 4), ideal: round(ideal, 4), ratio: round(share / ideal), usPerLookup: round(after.usPerLookup) });
  before = after;
}

console.log(`channels moved when a broker joins (${engine}, ${CHANNELS} channels); ratio = moved ÷ ideal 1/(N+1)`);
console.table(rows);
const worst = Math.max(...rows.map((r) => r.ratio));
console.log(`worst ratio ${worst} (target ≤ 1.2)`);
const report = { bench: 'mapper', date: new Date().toISOString(), engine, channels: CHANNELS, machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version }, worstRatio: worst, rows };
if (values.out) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report));
