/** A clock whose time moves only when a test says so; timers fire in time order. */
import type { Clock } from '../src/cluster/handover.js';

export class FakeClock implements Clock {
  private time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimeout(timer: unknown): void {
    if (typeof timer === 'number') this.timers.delete(timer);
  }

  /** Timers waiting. */
  get timerCount(): number {
    return this.timers.size;
  }

  /** Moves time on by `ms`, firing every timer that comes due, earliest first. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let fired = 0; fired < 10_000; fired++) {
      let dueId: number | undefined;
      let due: { at: number; callback: () => void } | undefined;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (due === undefined || timer.at < due.at)) {
          dueId = id;
          due = timer;
        }
      }
      if (due === undefined || dueId === undefined) break;
      this.timers.delete(dueId);
      this.time = due.at;
      due.callback();
    }
    this.time = end;
  }
}
