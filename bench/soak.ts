/**
 * Soak: connect / subscribe / publish / disconnect churn against a local cluster (1 state, 2 brokers,
 * 2 workers as child processes) for `--duration` seconds, sampling every process's RSS (/proc) and
 * live heap (after a full GC, by a preloaded sampler). Prints a table and one JSON line; exits 1 if
 * a stable subscription lost or duplicated a message, a process crashed, or a trend after warm-up
 * passed its bound.
 *
 *   pnpm soak [--duration 600] [--warmup 60] [--sample 2000] [--churners 20] [--channels 20]
 *             [--interval 10] [--max-heap-slope 1] [--max-rss-slope 4]
 */
import { parseArgs } from 'node:util';
import { formatSoak, runSoak } from '../harness/soak.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    warmup: { type: 'string', default: '60' },
    sample: { type: 'string', default: '2000' },
    churners: { type: 'string', default: '20' },
    channels: { type: 'string', default: '20' },
    interval: { type: 'string', default: '10' },
    'max-heap-slope': { type: 'string', default: '1' },
    'max-rss-slope': { type: 'string', default: '4' },
  },
});
const n = (name: keyof typeof values): number => {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`pnpm soak: --${name} must be a positive number\n`);
    process.exit(2);
  }
  return v;
};
const durationS = n('duration');
const warmupS = Number(values.warmup);
if (!(warmupS >= 0 && warmupS < durationS)) {
  process.stderr.write('pnpm soak: --warmup must be from 0 to less than --duration\n');
  process.exit(2);
}
const maxHeapSlope = n('max-heap-slope');
const maxRssSlope = n('max-rss-slope');

const report = await runSoak({
  durationMs: durationS * 1000,
  warmupMs: warmupS * 1000,
  sampleMs: n('sample'),
  churners: n('churners'),
  stableChannels: n('channels'),
  publishIntervalMs: n('interval'),
  log: (l) => process.stdout.write(`${l}\n`),
});
process.stdout.write(`${formatSoak(report)}\n`);
const overBound = report.processes.filter((p) => p.heapSlopeMBPerMin > maxHeapSlope || p.rssSlopeMBPerMin > maxRssSlope).map((p) => p.name);
process.stdout.write(`  bounds: heap slope ≤ ${maxHeapSlope} MB/min, rss slope ≤ ${maxRssSlope} MB/min: ${overBound.length ? `exceeded by ${overBound.join(', ')}` : 'held'}\n`);
process.stdout.write(`${JSON.stringify({ ...report, bounds: { maxHeapSlopeMBPerMin: maxHeapSlope, maxRssSlopeMBPerMin: maxRssSlope, exceededBy: overBound } })}\n`);
const lost = report.stable.missing !== 0 || report.stable.duplicates !== 0;
process.exit(lost || report.crashCount > 0 || overBound.length > 0 ? 1 : 0);
