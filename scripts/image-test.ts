/**
 * `pnpm image:test [--rounds N] [--no-baseline]`: the container image built and run for real (see
 * harness/image/check.ts). Prints the figures, writes them to bench/results/image.json, and exits 1
 * when any check failed (2 when docker cannot be used).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ROUNDS, runImageCheck, STOP_LIMIT_MS } from '../harness/image/check.js';
import { DockerUnavailableError } from '../harness/image/docker.js';

const RESULTS_DIR = fileURLToPath(new URL('../bench/results/', import.meta.url));

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

const rounds = Number(flag('--rounds') ?? DEFAULT_ROUNDS);
if (!Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write(`image:test: --rounds must be a positive integer, not ${flag('--rounds')}\n`);
  process.exit(2);
}
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const log = (line: string): void => void process.stdout.write(`image: ${line}\n`);

try {
  const report = await runImageCheck({ rounds, baseline: !process.argv.includes('--no-baseline'), log });
  const worst = (phase: string): number => Math.max(0, ...report.stops.filter((s) => s.phase === phase).map((s) => s.ms));
  const lines = [
    `image ${report.image.tag}: ${mib(report.image.sizeBytes)}, base ${mib(report.base.sizeBytes)} + ${mib(report.image.addedBytes)}; docker build ${(report.image.buildMs / 1000).toFixed(1)} s`,
    report.baseline ? `baseline (base + pnpm deploy --prod per service): ${mib(report.baseline.sizeBytes)}, base + ${mib(report.baseline.addedBytes)}` : 'baseline: not built (--no-baseline)',
    `base image: ${report.base.built ? `built in ${(report.base.buildMs / 1000).toFixed(1)} s` : 'cached'}`,
    `cross-worker delivery ${report.delivery.received}/${report.delivery.sent}`,
    `SIGTERM: ${report.stops.length} exits, ${report.stops.filter((s) => s.code === 0 && s.ms <= STOP_LIMIT_MS).length} with code 0 within ${STOP_LIMIT_MS} ms; slowest idle ${Math.round(worst('idle'))} ms, under load ${Math.round(worst('load'))} ms`,
    `total ${(report.totalMs / 1000).toFixed(1)} s`,
  ];
  for (const line of lines) log(line);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}image.json`, `${JSON.stringify({ date: new Date().toISOString(), rounds, ...report }, null, 2)}\n`);
  log('wrote bench/results/image.json');
  if (report.problems.length > 0) {
    for (const p of report.problems) process.stderr.write(`image:test FAILED: ${p}\n`);
    process.exit(1);
  }
} catch (error) {
  if (error instanceof DockerUnavailableError) {
    process.stderr.write(`docker not available: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
