/**
 * Samples processes' CPU and resident memory from /proc while a phase runs: the peak CPU share over
 * any one sampling interval (1 = one core busy) and the peak VmRSS. Timer-driven; close() stops it.
 */
import { performance } from 'node:perf_hooks';
import { cpuSeconds, memoryKiB } from './proc.js';
import { round } from './stats.js';

/** Sampling interval, ms (clock ticks are 10 ms, so a share is ±4% at this interval). */
export const SAMPLE_INTERVAL_MS = 250;

export interface PeakFigures {
  /** Highest CPU share over one interval, by role. */
  peakCpuShare: Record<string, number>;
  /** Highest VmRSS seen, MiB, by role. */
  peakRssMiB: Record<string, number>;
  /** CPU seconds used over the whole phase, by role. */
  cpuS: Record<string, number>;
}

export class ProcSampler {
  private readonly timer: NodeJS.Timeout;
  private readonly first: number[];
  private last: number[];
  private lastAt = performance.now();
  private readonly peakCpu: number[];
  private readonly peakRss: number[];
  private closed = false;

  constructor(private readonly targets: ReadonlyArray<{ role: string; pid: number }>) {
    this.first = targets.map((t) => cpuSeconds(t.pid));
    this.last = [...this.first];
    this.peakCpu = targets.map(() => 0);
    this.peakRss = targets.map((t) => memoryKiB(t.pid).rss);
    this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
  }

  private sample(): void {
    const now = performance.now();
    const seconds = (now - this.lastAt) / 1000;
    this.targets.forEach((t, i) => {
      try {
        const cpu = cpuSeconds(t.pid);
        this.peakCpu[i] = Math.max(this.peakCpu[i]!, (cpu - this.last[i]!) / seconds);
        this.last[i] = cpu;
        this.peakRss[i] = Math.max(this.peakRss[i]!, memoryKiB(t.pid).rss);
      } catch {
        // The process exited: its figures stop where they were.
      }
    });
    this.lastAt = now;
  }

  /** Takes a last sample, stops, and reports; safe to call twice. */
  close(): PeakFigures {
    if (!this.closed) {
      this.closed = true;
      this.sample();
      clearInterval(this.timer);
    }
    const by = (xs: number[], f: (x: number) => number): Record<string, number> => Object.fromEntries(this.targets.map((t, i) => [t.role, round(f(xs[i]!))]));
    return { peakCpuShare: by(this.peakCpu, (x) => x), peakRssMiB: by(this.peakRss, (kib) => kib / 1024), cpuS: by(this.last.map((x, i) => x - this.first[i]!), (x) => x) };
  }
}
