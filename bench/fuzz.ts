/**
 * Hostile-input fuzz against a real local cluster (state, broker, two workers as child processes):
 * at least `--count` generated hostile inputs per service, while a well-behaved publisher and two
 * subscribers exchange numbered messages. Prints a table (outcome counts per input kind), then one
 * JSON line; exits 1 if a process crashed or logged an unhandled error, or a good message was lost.
 *
 *   pnpm fuzz [--count 10000] [--seed 1] [--lanes 16] [--time-limit 600] [--services state,broker,worker] [--burst 2000]
 * --burst: connections opened and dropped against each service first (the count is per service).
 */
import { parseArgs } from 'node:util';
import { runFuzzCampaign } from '../harness/fuzz-campaign.js';
import { formatTable } from '../harness/fuzz.js';
import type { FuzzTarget } from '../harness/fuzz.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    lanes: { type: 'string', default: '16' },
    'time-limit': { type: 'string', default: '600' },
    services: { type: 'string', default: 'state,broker,worker' },
    burst: { type: 'string', default: '2000' },
  },
});
const count = Number(values.count);
const seed = Number(values.seed);
const lanes = Number(values.lanes);
const timeLimitS = Number(values['time-limit']);
const burst = Number(values.burst);
const services = values.services.split(',') as FuzzTarget['name'][];
if (![count, seed, lanes, timeLimitS].every((n) => Number.isInteger(n) && n > 0) || !(Number.isInteger(burst) && burst >= 0) || !services.every((s) => ['state', 'broker', 'worker'].includes(s))) {
  process.stderr.write('usage: pnpm fuzz [--count N] [--seed N] [--lanes N] [--time-limit SECONDS] [--services state,broker,worker] [--burst N]\n');
  process.exit(2);
}

const result = await runFuzzCampaign({ count, seed, lanes, burst, timeLimitMs: timeLimitS * 1000, services, log: (l) => process.stdout.write(`${l}\n`) });
process.stdout.write(`\n${formatTable(result.results)}\n\n`);
for (const b of result.bursts) {
  process.stdout.write(`${b.target.padEnd(8)} burst: ${b.attempted} connections opened and dropped in ${(b.elapsedMs / 1000).toFixed(1)} s: ${JSON.stringify(b.outcomes)}\n`);
}
for (const c of result.crashes) {
  process.stdout.write(`${c.service.padEnd(8)} alive=${c.alive} unhandled=${c.unhandled.length}${c.unhandled.length ? `: ${c.unhandled.slice(0, 3).join(' | ')}` : ''}\n`);
}
const p = result.pubsub;
process.stdout.write(
  `well-behaved pub/sub: published ${p.published} (${p.publishFailures} failed), received A=${p.received['A']} B=${p.received['B']}, missing A=${p.missing['A']} B=${p.missing['B']}, duplicates A=${p.duplicates['A']} B=${p.duplicates['B']}\n`,
);
const summary = {
  seed,
  services: result.results.map((r) => ({ service: r.target, sent: r.sent, unanswered: r.unanswered, elapsedMs: r.elapsedMs, outcomes: r.totals, byKind: r.outcomes })),
  bursts: result.bursts,
  crashes: result.crashCount,
  processes: result.crashes,
  pubsub: p,
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
const lost = Object.values(p.missing).some((n) => n !== 0) || Object.values(p.duplicates).some((n) => n !== 0) || p.publishFailures > 0;
const short = result.results.some((r) => r.sent < count);
if (short) process.stdout.write(`note: the time limit stopped a service's run before --count inputs\n`);
process.exit(result.crashCount > 0 || lost || short ? 1 : 0);
