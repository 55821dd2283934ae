/**
 * The test bed's reaper: a detached process (its own session, so a terminal's Ctrl-C or a test
 * runner killing its workers' group does not reach it) that watches the bed's owner and tears the
 * bed down when the owner is gone without having done so (SIGKILL, OOM). It exits when the record
 * file disappears (the owner tore the bed down itself) or after tearing down.
 *
 *   node --import tsx harness/netns/reaper.ts /run/scc-testbed/net-N.json
 */
import { ownerAlive, readRecord, REAPER_READY_LINE, teardownRecord } from './record.js';

/** How often the owner is looked at, ms: a dead owner's bed is gone within about this much. */
const WATCH_INTERVAL_MS = 200;

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: reaper.ts RECORD_PATH\n');
  process.exit(2);
}

// Signals meant for the owner's group must not end the watch early.
for (const signal of ['SIGINT', 'SIGHUP'] as const) process.on(signal, () => undefined);

const timer = setInterval(() => {
  const record = readRecord(path);
  if (record === null) {
    clearInterval(timer);
    return;
  }
  if (ownerAlive(record)) return;
  clearInterval(timer);
  teardownRecord(record, { keepReaper: true });
}, WATCH_INTERVAL_MS);
process.stdout.write(`${REAPER_READY_LINE}\n`);
