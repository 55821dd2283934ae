/** Predicates waiting on something that changes by events: each change re-checks them. */
export class Waiters {
  private readonly waiting = new Set<() => void>();

  /** Something changed: re-check every waiting predicate. */
  notify(): void {
    for (const check of this.waiting) check();
  }

  /** Resolves true once `predicate` holds (checked now and on every `notify()`), false after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (predicate()) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (value: boolean): void => {
        clearTimeout(timer);
        this.waiting.delete(check);
        resolve(value);
      };
      this.waiting.add(check);
      check();
    });
  }
}
