/**
 * A process that owns a test bed and then waits to be killed: test/netns/testbed.test.ts SIGKILLs
 * it to see the reaper (or the next create's stale cleanup) remove the bed. Prints one JSON line
 * with what the bed made once it is up, or the error's name and message when the bed cannot be made
 * (run as an unprivileged user, it reports TestBedUnavailableError).
 *
 *   node --import tsx test/helpers/bed-owner.ts
 */
import { readFileSync } from 'node:fs';
import { listenProbe } from '../../harness/netns/probes.js';
import { recordPaths } from '../../harness/netns/record.js';
import { TestBed } from '../../harness/netns/testbed.js';

const print = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ level: 30, msg: String(line['event']), ...line })}\n`);

const bed = await TestBed.create({ hosts: ['one', 'two'] }).catch((error: Error) => {
  print({ event: 'bedError', name: error.name, message: error.message });
  process.exit(1);
});
const listener = await listenProbe(bed, 'one', 9000);
const record = recordPaths().find((p) => readFileSync(p, 'utf8').includes(`"owner":${process.pid},`));
print({ event: 'bedUp', record, hosts: bed.hosts, listener: listener.pid });
// Held open until killed.
setInterval(() => undefined, 60_000);
