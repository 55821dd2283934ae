/** A small synchronous event list (the relay's public events): no stream, no promise per event. */
import type { Logger } from '@scc-ts/shared';

/** Receives one event. */
export type Listener<T> = (value: T) => void;

/** Listeners run in the order added; one that throws is logged and does not stop the rest. */
export class Listeners<T> {
  private readonly set = new Set<Listener<T>>();

  /** Adds a listener; returns its remover. */
  add(listener: Listener<T>): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }

  /** Listeners held (callers skip building an event nobody hears). */
  get size(): number {
    return this.set.size;
  }

  emit(value: T, logger: Logger): void {
    for (const listener of this.set) {
      try {
        listener(value);
      } catch (error) {
        logger.error({ err: error }, `a relay listener failed: ${(error as Error).message}`);
      }
    }
  }

  clear(): void {
    this.set.clear();
  }
}
