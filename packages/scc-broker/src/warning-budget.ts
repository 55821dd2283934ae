/**
 * A budget of warning lines per second. Any peer can cause warnings at will (each malformed frame
 * is one), so hostile traffic must not turn into unbounded log volume; the overflow is counted in
 * one line when the next window opens, not lost.
 */
import type { Logger } from '@scc-ts/shared';

/** Most warnings about hostile peers logged per second; the rest are counted in one line. */
export const MAX_PEER_WARNINGS_PER_SECOND = 20;
/** Length of one budget window, ms. */
const WINDOW_MS = 1000;

export class WarningBudget {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;

  constructor(private readonly logger: Logger) {}

  /** Logs `message` at warn level if this window's budget allows, else counts it. */
  warn(message: string): void {
    const now = Date.now();
    if (now - this.windowStart >= WINDOW_MS) {
      if (this.suppressed > 0) this.logger.warn(`relay: ${this.suppressed} more warnings in the last second were not logged`);
      this.windowStart = now;
      this.inWindow = 0;
      this.suppressed = 0;
    }
    if (this.inWindow < MAX_PEER_WARNINGS_PER_SECOND) {
      this.inWindow += 1;
      this.logger.warn(message);
    } else {
      this.suppressed += 1;
    }
  }
}
