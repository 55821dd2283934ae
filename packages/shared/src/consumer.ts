/** Ending an async-stream consumer (socketcluster's listener streams) without tripping its iterator. */

/**
 * Ends a consumer made by `listener(...).createConsumer()`. It calls `kill()` (writable-consumable-stream),
 * which resolves a pending `next()` with `done`; `return()` is not safe there: when an event has
 * already woken a pending `next()` but its continuation has not run yet, `return()` removes the
 * node that `next()` then reads, and `next()` throws (an unhandled rejection that ends the process).
 */
export function endConsumer(consumer: { return(): unknown }): void {
  const killable = consumer as { kill?: (value?: unknown) => void };
  if (typeof killable.kill === 'function') killable.kill();
  else consumer.return();
}

/** What `consume` needs of a listener consumer. */
export interface ListenerConsumer<T> {
  next(): Promise<IteratorResult<T>>;
  return(): unknown;
}

/**
 * Hands every value of `consumer` to `handle` until the returned stop function is called (which
 * ends the consumer with `endConsumer`). A `next()` already in flight when it stops may fail
 * inside the stream; that failure is expected then and swallowed, never otherwise.
 */
export function consume<T>(consumer: ListenerConsumer<T>, handle: (value: T) => void): () => void {
  let stopped = false;
  void (async () => {
    while (!stopped) {
      let result: IteratorResult<T>;
      try {
        result = await consumer.next();
      } catch (error) {
        if (stopped) return;
        throw error;
      }
      if (result.done) return;
      handle(result.value);
    }
  })();
  return () => {
    stopped = true;
    endConsumer(consumer);
  };
}
