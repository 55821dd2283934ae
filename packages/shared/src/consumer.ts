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
