/**
 * Test-only preload (`node --import`): on SIGUSR2 the service's main thread busy-waits for
 * `SCC_TEST_STALL_MS` (default 1500) ms, as a huge fan-out would hold its event loop. It writes a
 * JSON line with `event: "testStall"` first (stdout is synchronous on a pipe), so the test knows the
 * stall has begun. Nothing of this is in the services: tests load it into the process they spawn.
 */
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const stallMs = Number(process.env.SCC_TEST_STALL_MS ?? 1500);
  process.on('SIGUSR2', () => {
    process.stdout.write(`${JSON.stringify({ event: 'testStall', stallMs, msg: `stalling the event loop for ${stallMs} ms` })}\n`);
    const end = Date.now() + stallMs;
    while (Date.now() < end);
  });
}
