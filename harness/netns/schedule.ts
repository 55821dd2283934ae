/**
 * Faults on a timetable: steps at offsets from the start, run in order, bounded by a step count and
 * a total time (a flapping link: down and up every 2 s for a minute). A step that throws ends the
 * schedule with that error in its report; close() stops it between steps.
 */

/** One step: `run` at `atMs` after the start. */
export interface FaultStep {
  atMs: number;
  label: string;
  run: () => void | Promise<void>;
}

export interface ScheduleOptions {
  /** Bound on the whole schedule, ms: steps due later are not run. Default: the last step's time + 1 s. */
  maxMs?: number;
}

/** What a schedule did: each step run with its actual offset, ms, and why it ended. */
export interface ScheduleReport {
  ran: { label: string; atMs: number }[];
  outcome: 'done' | 'closed' | 'timeout' | 'error';
  error?: string;
}

/** Bound on the steps of one schedule (a typo in a period must not make millions of timers). */
export const MAX_SCHEDULE_STEPS = 10_000;
const GRACE_MS = 1000;

export class FaultSchedule {
  readonly done: Promise<ScheduleReport>;
  private cancelled = false;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(steps: readonly FaultStep[], options: ScheduleOptions = {}) {
    if (steps.length > MAX_SCHEDULE_STEPS) throw new RangeError(`a schedule takes at most ${MAX_SCHEDULE_STEPS} steps; got ${steps.length}`);
    const ordered = [...steps].sort((a, b) => a.atMs - b.atMs);
    const maxMs = options.maxMs ?? (ordered.at(-1)?.atMs ?? 0) + GRACE_MS;
    this.done = this.play(ordered, maxMs);
  }

  private async play(steps: readonly FaultStep[], maxMs: number): Promise<ScheduleReport> {
    const start = Date.now();
    const ran: ScheduleReport['ran'] = [];
    for (const step of steps) {
      if (step.atMs > maxMs) return { ran, outcome: 'timeout' };
      const wait = start + step.atMs - Date.now();
      if (wait > 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.timer = setTimeout(resolve, wait);
        });
      }
      if (this.cancelled) return { ran, outcome: 'closed' };
      if (Date.now() - start > maxMs) return { ran, outcome: 'timeout' };
      try {
        await step.run();
      } catch (error) {
        return { ran, outcome: 'error', error: `${step.label}: ${(error as Error).message}` };
      }
      ran.push({ label: step.label, atMs: Date.now() - start });
    }
    return { ran, outcome: 'done' };
  }

  /** Stops before the next step (synchronously; the step running now, if any, finishes). Safe to call twice. */
  cancel(): void {
    this.cancelled = true;
    clearTimeout(this.timer);
    this.wake?.();
  }

  /** Stops and resolves with the report. Safe to call twice. */
  async close(): Promise<ScheduleReport> {
    this.cancel();
    return this.done;
  }
}
