/**
 * The wall clock the bench's processes share: performance.timeOrigin + performance.now(), in ms since
 * the epoch with sub-millisecond resolution. Each process's timeOrigin is read from the system clock
 * when it starts and now() is monotonic after that, so stamps taken in different processes on one
 * machine are comparable (to well under a millisecond, barring a clock step during the run), which lets
 * a publisher in one generator process and subscribers in others time one broadcast.
 */
import { performance } from 'node:perf_hooks';

/** ms since the epoch, comparable across the bench's processes on one machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}
