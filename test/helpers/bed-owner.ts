/**
 * A process that owns a test bed and then waits to be killed: test/netns/testbed.test.ts SIGKILLs
 * it to see the reaper (or the next create's stale cleanup) remove the bed. Prints one JSON line
 * with what the bed made once it is up, or the error's name and message when the bed cannot be made
 * (run as an unprivileged user, it reports TestBedUnavailableError).
 *
 *   node --import tsx test/helpers/bed-owner.ts [hold | crash]
 *
 * `hold` (default) waits to be signalled; `crash` throws an uncaught exception once the bed is up.
 */
import { listenProbe } from '../../harness/netns/probes.js';
import { readRecord } from '../../harness/netns/record.js';
import { TestBed } from '../../harness/netns/testbed.js';

const print = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ level: 30, msg: String(line['event']), ...line })}\n`);

const bed = await TestBed.create({ hosts: ['one', 'two'] }).catch((error: Error) => {
  print({ event: 'bedError', name: error.name, message: error.message });
  process.exit(1);
});
const listener = await listenProbe(bed, 'one', 9000);
// The record as it is now: after a teardown the file is gone, and the test still needs its names.
const record = readRecord(bed.recordFile);
print({ event: 'bedUp', recordFile: bed.recordFile, record, hosts: bed.hosts, listener: listener.pid });
if (process.argv[2] === 'crash') {
  setTimeout(() => {
    throw new Error('bed owner: a deliberate crash');
  }, 0);
}
// Held open until killed (or crashed).
setInterval(() => undefined, 60_000);
