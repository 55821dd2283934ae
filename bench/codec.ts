/**
 * Codec benchmark: the front servers' decode (packages/shared/src/safe-codec.ts: sc-formatter's
 * format plus the prototype-name and depth refusals) against sc-formatter's own, on typical
 * packets, in alternating rounds. Prints ns per decode (medians) and the ratio, and one JSON line.
 * It replaces a timed unit test: speed is measured here, never asserted in the suite.
 *
 *   pnpm bench:codec [--rounds 9] [--iterations 20000] [--out FILE]
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { safeCodec, type CodecEngine } from '@scc-ts/shared';
import { median, round } from './lib/stats.js';

function usage(message: string): never {
  console.error(`bench:codec: ${message}`);
  process.exit(2);
}

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '9' }, iterations: { type: 'string', default: '20000' }, out: { type: 'string' } } });
const ROUNDS = Number(values.rounds);
const ITERATIONS = Number(values.iterations);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) usage(`--rounds=${values.rounds}: must be a positive integer`);
if (!Number.isInteger(ITERATIONS) || ITERATIONS < 1) usage(`--iterations=${values.iterations}: must be a positive integer`);

const formatter = createRequire(import.meta.url)('sc-formatter') as CodecEngine;
const PACKETS: Record<string, string> = {
  'publish, small object': JSON.stringify({ event: '#publish', data: { channel: 'room/42', data: { id: 'abc', text: 'hello world', n: 7, tags: ['a', 'b'] } } }),
  'publish, 64 KiB string': JSON.stringify({ event: '#publish', data: { channel: 'big', data: { chunk: 'x'.repeat(64 * 1024) } }, cid: 9 }),
  'batch of 2 publishes': JSON.stringify([{ event: '#publish', data: { channel: 'a', data: { v: [1, 2, 3] } } }, { event: '#publish', data: { channel: 'b', data: { v: [4] } } }]),
  'publish, 200 objects': JSON.stringify({ event: '#publish', data: { channel: 'list', data: Array.from({ length: 200 }, (_, i) => ({ i, name: `item ${i}` })) } }),
};

function nsPerDecode(codec: CodecEngine, packet: string): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) codec.decode(packet);
  return Number(process.hrtime.bigint() - started) / ITERATIONS;
}

const rows = Object.entries(PACKETS).map(([name, packet]) => {
  // Warm both up, then alternate (A B A B …) so drift hits both alike.
  nsPerDecode(safeCodec, packet);
  nsPerDecode(formatter, packet);
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    ours.push(nsPerDecode(safeCodec, packet));
    theirs.push(nsPerDecode(formatter, packet));
  }
  const ratios = ours.map((o, i) => o / theirs[i]!);
  return { packet: name, bytes: packet.length, safeCodecNs: round(median(ours)), scFormatterNs: round(median(theirs)), ratio: round(median(ratios)) };
});

console.log(`decode, ns per packet (medians of ${ROUNDS} alternating rounds × ${ITERATIONS})`);
console.log('| packet | bytes | safe codec | sc-formatter | ratio (paired median) |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.packet} | ${r.bytes} | ${r.safeCodecNs} | ${r.scFormatterNs} | ${r.ratio} |`);
const report = { bench: 'codec', node: process.version, cpus: os.cpus().length, rounds: ROUNDS, iterations: ITERATIONS, rows };
console.log(JSON.stringify(report));
if (values.out) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
