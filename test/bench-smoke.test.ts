/**
 * Keeps the benchmarks from rotting: runs `bench/run.ts --smoke` (a few seconds of small numbers) for
 * ours and the original, and the mapper benchmark on a small key set. Asserts only that they complete
 * and that every planned message was sent and none lost or duplicated — never a speed (figures come from `pnpm bench`).
 * Socket.IO + Redis and the single-process ceiling are left out here to keep the suite fast; the full
 * benchmark runs them.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a bench script under tsx (as `pnpm bench` does) with a hard time bound. */
function tsx(script: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 2 ** 20 });
}

interface SmokeReport {
  lossFree: boolean;
  summary: Record<string, Record<string, { deliveriesPerS: number; lost: number; duplicated: number; runs: number }>>;
  runs: Array<{ system: string; workload: string; load: { planned: number; published: number; delivered: number; expected: number; lost: number; duplicated: number } }>;
  idle: Record<string, number>;
}

describe('benchmark smoke run', () => {
  it('runs both workloads on ours and the original and loses nothing', async () => {
    const out = join(dir, 'smoke.json');
    await tsx('bench/run.ts', ['--smoke', '--systems', 'ours,original', '--idle', '50', '--idle-systems', 'ours', '--out', out], 50_000);
    const report = JSON.parse(readFileSync(out, 'utf8')) as SmokeReport;
    expect(report.runs.map((r) => `${r.workload}/${r.system}`).sort()).toEqual(['fanout/original', 'fanout/ours', 'hop/original', 'hop/ours']);
    for (const r of report.runs) {
      expect(r.load.planned, `${r.workload}/${r.system} planned`).toBeGreaterThan(0);
      // A run that stalled before sending everything would count the unsent as neither lost nor delivered.
      expect(r.load.published, `${r.workload}/${r.system} published`).toBe(r.load.planned);
      expect(r.load.delivered, `${r.workload}/${r.system} delivered`).toBe(r.load.expected);
      expect(r.load.lost + r.load.duplicated, `${r.workload}/${r.system} lost + duplicated`).toBe(0);
    }
    expect(report.lossFree).toBe(true);
    expect(Object.keys(report.idle)).toEqual(['ours']);
    expect(report.idle['ours']).toBeGreaterThan(0);
  }, 60_000);

  it('mapper benchmark: a joining broker takes close to its fair share of channels', async () => {
    const out = join(dir, 'mapper.json');
    await tsx('bench/mapper.ts', ['--channels', '4000', '--max', '4', '--out', out], 30_000);
    const report = JSON.parse(readFileSync(out, 'utf8')) as { rows: Array<{ from: number; moved: number; ideal: number }> };
    expect(report.rows.map((r) => r.from)).toEqual([1, 2, 3, 4]);
    // 4000 keys: sampling noise is a few percent; 1.2 × ideal is the bound.
    for (const row of report.rows) expect(row.moved).toBeLessThanOrEqual(1.2 * row.ideal);
  }, 30_000);
});
