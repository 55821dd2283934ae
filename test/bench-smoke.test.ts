/**
 * Keeps the benchmarks from rotting: runs `bench/run.ts --smoke` (a few seconds of small numbers) for
 * ours and the original (hop, fan-out), for ours and the bare-ws reference (huge: 200 subscribers × 5
 * broadcasts; storm: 300 clients per phase within 0.5 s), history recovery on ours (200 missed
 * messages), and the mapper benchmark on a small key set. Asserts only that they complete, that
 * every planned message was sent and none lost, duplicated or reordered, and that no storm client failed — never a speed (figures come from `pnpm bench`). Socket.IO + Redis and
 * the single-process ceiling are left out here to keep the suite fast; the full benchmark runs them.
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

interface HugeReport {
  lossFree: boolean;
  hugeRuns: Array<{
    system: string;
    workload: string;
    subscribers: number;
    planned: number;
    published: number;
    expected: number;
    delivered: number;
    lost: number;
    duplicated: number;
    outOfOrder: number;
    incomplete: number;
    timeToLastMs: { max: number };
    health: Record<string, { polls: number }>;
    healthPort: Record<string, { polls: number }>;
  }>;
}

interface StormFlow {
  published: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
}

interface StormReport {
  lossFree: boolean;
  stormFailures: number;
  stormRuns: Array<{ system: string; flow: StormFlow; phases: Array<{ phase: string; attempted: number; subscribed: number; failures: Record<string, number>; flow: StormFlow }> }>;
}

interface RecoverReport {
  lossFree: boolean;
  recover: Record<string, { runs: number; exactlyOnce: boolean }>;
  recoverRuns: Array<{ workload: string; exactlyOnce: boolean; problems: string[]; notice: unknown; recoverMs: number }>;
}

describe('benchmark smoke run', () => {
  it('runs both workloads on ours and the original and loses nothing', async () => {
    const out = join(dir, 'smoke.json');
    await tsx('bench/run.ts', ['--smoke', '--systems', 'ours,original', '--workloads', 'hop,fanout', '--idle', '50', '--idle-systems', 'ours', '--out', out], 50_000);
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

  it('huge channel: every broadcast reaches every subscriber once and in order, on ours and the reference', async () => {
    const out = join(dir, 'huge.json');
    await tsx('bench/run.ts', ['--smoke', '--systems', 'ours,reference', '--workloads', 'huge', '--idle', '0', '--out', out], 40_000);
    const report = JSON.parse(readFileSync(out, 'utf8')) as HugeReport;
    expect(report.hugeRuns.map((r) => `${r.workload}/${r.system}`).sort()).toEqual(['huge-20/s-100B/ours', 'huge-20/s-100B/reference']);
    for (const r of report.hugeRuns) {
      const what = `${r.workload}/${r.system}`;
      expect(r.subscribers, `${what} subscribers`).toBe(200);
      expect(r.published, `${what} published`).toBe(r.planned);
      expect(r.expected, `${what} expected`).toBe(r.planned * 200);
      expect(r.delivered, `${what} delivered`).toBe(r.expected);
      expect(r.lost + r.duplicated + r.outOfOrder + r.incomplete, `${what} lost + duplicated + out of order + incomplete`).toBe(0);
      expect(r.timeToLastMs.max, `${what} time to last subscriber`).toBeGreaterThan(0);
      // Health endpoints were polled during the run (every system serves /health-check).
      expect(Object.keys(r.health).some((k) => k.endsWith('/health-check')), `${what} health polled`).toBe(true);
      for (const [endpoint, e] of Object.entries(r.health)) expect(e.polls, `${what} ${endpoint} polls`).toBeGreaterThan(0);
      // Ours also on the workers' health ports (SCC_HEALTH_PORT); the reference has none.
      const expectedHealthPort = r.system === 'ours' ? ['worker-a /health-check', 'worker-a /ready', 'worker-b /health-check', 'worker-b /ready'] : [];
      expect(Object.keys(r.healthPort).sort(), `${what} health port endpoints`).toEqual(expectedHealthPort);
      for (const [endpoint, e] of Object.entries(r.healthPort)) expect(e.polls, `${what} health port ${endpoint} polls`).toBeGreaterThan(0);
    }
    expect(report.lossFree).toBe(true);
  }, 45_000);

  it('connection storm: every client of every phase subscribes and the flow loses nothing, on ours and the reference', async () => {
    const out = join(dir, 'storm.json');
    await tsx('bench/run.ts', ['--smoke', '--systems', 'ours,reference', '--workloads', 'storm', '--storm-spread', '500', '--idle', '0', '--out', out], 55_000);
    const report = JSON.parse(readFileSync(out, 'utf8')) as StormReport;
    expect(report.stormRuns.map((r) => r.system).sort()).toEqual(['ours', 'reference']);
    for (const r of report.stormRuns) {
      expect(r.phases.map((p) => p.phase)).toEqual(['one worker', 'both workers', 'reconnect']);
      for (const p of r.phases) {
        const what = `${r.system} ${p.phase}`;
        expect(p.attempted, `${what} attempted`).toBe(300);
        expect(p.failures, `${what} failures`).toEqual({});
        expect(p.subscribed, `${what} subscribed`).toBe(300);
        expect(p.flow.published, `${what} flow published`).toBeGreaterThan(0);
        expect(p.flow.lost + p.flow.duplicated, `${what} flow lost + duplicated`).toBe(0);
      }
      expect(r.flow.delivered, `${r.system} flow delivered`).toBe(r.flow.expected);
      expect(r.flow.outOfOrder, `${r.system} flow out of order`).toBe(0);
    }
    expect(report.stormFailures).toBe(0);
    expect(report.lossFree).toBe(true);
  }, 60_000);

  it('history recover: a reconnecting subscriber gets every missed message once, in order, on ours', async () => {
    const out = join(dir, 'recover.json');
    await tsx('bench/run.ts', ['--smoke', '--systems', 'ours', '--workloads', 'recover', '--idle', '0', '--out', out], 40_000);
    const report = JSON.parse(readFileSync(out, 'utf8')) as RecoverReport;
    expect(report.recoverRuns.map((r) => r.workload)).toEqual(['recover-200']);
    for (const r of report.recoverRuns) {
      expect(r.problems, r.workload).toEqual([]);
      expect(r.exactlyOnce).toBe(true);
      expect(r.notice).toMatchObject({ type: 'recovery', recovered: true, replayed: 200 });
      expect(r.recoverMs).toBeGreaterThan(0);
    }
    expect(report.recover['recover-200']).toMatchObject({ runs: 1, exactlyOnce: true });
    expect(report.lossFree).toBe(true);
  }, 45_000);

  it('mapper benchmark: a joining broker takes close to its fair share of channels', async () => {
    const out = join(dir, 'mapper.json');
    await tsx('bench/mapper.ts', ['--channels', '4000', '--max', '4', '--out', out], 30_000);
    const report = JSON.parse(readFileSync(out, 'utf8')) as { rows: Array<{ from: number; moved: number; ideal: number }> };
    expect(report.rows.map((r) => r.from)).toEqual([1, 2, 3, 4]);
    // 4000 keys: sampling noise is a few percent; 1.2 × ideal is the bound.
    for (const row of report.rows) expect(row.moved).toBeLessThanOrEqual(1.2 * row.ideal);
  }, 30_000);
});
