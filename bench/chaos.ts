/**
 * The chaos suite: does pub/sub lose, duplicate or reorder messages while the cluster changes?
 *
 *   pnpm chaos [--ci] [--assert] [--rate N] [--channels N] [--state-down-ms N] [--systems ours,original]
 *              [--scenarios 1,2,3,3b,4,5,6,6s,7] [--etcd-down-ms N] [--lease-ttl-ms N] [--json path] [--warmup-ms N] [--settle-ms N] [--late-ms N]
 *              [--scale-out-ms N] [--scale-back-ms N] [--startup-delay-ms N] [--retry-delay-ms N] [--wait-timeout-ms N]
 *              [--logs dir]   (write every process's log of every run to dir)
 *   pnpm chaos --multi-host [--ci] [--assert] [--scenarios m1,m1b,m2,m3,m4,m5] [--cut-ms N] [--state-cut-ms N]
 *              [--pause-ms N] [--flap-period-ms N] [--flap-ms N] (and --rate, --channels, --systems, --json, --logs,
 *              --warmup-ms, --settle-ms, --late-ms, --retry-delay-ms, --wait-timeout-ms as above)
 *
 * Each (system, scenario) runs on a fresh cluster of child processes on 127.0.0.1: our scc-state, brokers,
 * and workers A and B. System "ours" = packages/scc-broker + packages/scc-worker; "original" =
 * scc-broker@10.0.1 + socketcluster-server with scc-broker-client@9.2.0 (harness/original-worker.mjs),
 * coordinated by our scc-state. A separate load-generator process (harness/chaos/load.ts) has one
 * publisher and one subscriber socket on each worker; every channel is subscribed on both workers and
 * primed (probes heard on every path) before the load starts. Publishers send {p, s, t} round-robin over
 * the channels at the offered rate with invokePublish; a message is published when the worker acks it.
 *
 * Run: warm-up under load, the event, load until the cluster is stable again plus a settle time, then
 * publishing stops and the generator waits until no delivery for 1 s (bounded by 15 s). It keeps recording for
 * --late-ms more (3000; 0 with --ci): a lost message that arrives then is still lost, and also counted as "late".
 *   1  a broker joins (2 → 3)                   stable: both workers have 3 brokers
 *   2  a broker leaves by SIGTERM (3 → 2)       the broker exits by itself (bounded); workers have 2
 *   3  a broker is SIGKILLed (3 → 2)            workers have 2 brokers; loss window reported
 *   3b as 3, workers in at-least-once mode      (SCC_DELIVERY_MODE=at-least-once; n/a for the original)
 *   4  the state server is SIGKILLed, down for --state-down-ms, restarted on its port with the startup
 *      delay                                   every broker and worker has re-joined it
 *   5  worker B gets SIGTERM and is started again on its port; its clients reconnect (autoReconnect)
 *      and resubscribe                         B re-joined with 2 brokers, B's sockets open, all resubscribed
 *   6  replicated state (3 replicas through an etcd the run starts): a broker is added (2 → 3), the leader
 *      is SIGKILLed once it logged "pushing 3 brokers" and restarted at once on its port
 *                                              a leader of a higher term; every worker applied 3 brokers
 *   6s the same against the single state server, restarted after --state-down-ms   (every member re-joined; 3 applied)
 *   7  replicated: etcd SIGSTOPped for --etcd-down-ms (60000; 5000 with --ci), a broker started meanwhile;
 *      every 200 ms every replica is asked whether it leads      a new leader after etcd resumes; 3 applied
 *   6, 6s and 7 run a spy (an original-style worker joined at the start) and count the broker lists it
 *   was handed that miss a broker an earlier list had; 6 and 7 count polls that found two leaders.
 *   --lease-ttl-ms sets the replicas' SCC_STATE_SERVER_LEASE_TTL (default: the service's 3000; 2000 with --ci).
 *
 * Checker (harness/chaos/checker.ts): a message is EXPECTED at a subscriber socket if its publisher got
 * the ack, the subscriber's subscription to the channel was acked before the message was sent (and not
 * lost since), and the subscriber socket stayed connected from before the send until after the drain
 * wait. LOST = expected, never received. DUPLICATED = each extra copy received. OUT OF ORDER = a first
 * copy received after a higher sequence number from the same publisher on the same channel at the same
 * subscriber. UNEXPECTED = received but not expected: counted apart, never an error.
 *
 * Multi-host scenarios (--multi-host, or m-ids in --scenarios; needs root): the network test bed
 * (harness/netns) with one service per host — state, broker-1, broker-2, broker-3 (spare), worker-a,
 * worker-b, each a network namespace with its own address in 198.18.0.0/15 — our state server, the
 * brokers and workers of each system; the load generator publishes on worker-a and subscribes on both
 * workers over the bridge. Full profile: 5,000 msg/s on 100 channels, 30 s cuts, the state server cut
 * off 60 s, a minute of flapping every 2 s; --ci: 200 msg/s on 40 channels, 12 s, 20 s, 20 s.
 *   m1  worker-b cut off from broker-1 (both ways), default mode     m1b  the same, at-least-once (ours)
 *   m2  broker-1 cut off from the state server only                  m3   the state server cut off from
 *   m4  broker-1 SIGSTOPped for --pause-ms, then SIGCONT                  everyone, broker-3 added meanwhile
 *   m5  the worker-b ↔ broker-1 link cut and healed every --flap-period-ms for --flap-ms
 * Each also reports detection (fault → first `brokerUnreachable` event or /ready false at a worker),
 * the disrupted window (messages lost or delivered over 1 s late) and recovery (how long after the
 * fault's end it lasted), the largest delay, the broker lists applied; --assert checks ours against
 * multiHostFailures (harness/chaos/multi-host-bounds.ts).
 *
 * Prints a table per scenario, systems side by side, and writes JSON with --json. Always exits 0 (a
 * report), except `--ci --assert`: exit 1 if ours lost, duplicated or reordered anything in scenarios
 * 1, 2, 3b, 4, 5, 6 or 7, was handed a partial list or had two leaders in 6 or 7, failed over in more
 * than 5000 ms in 6, or any run of ours failed.
 */
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { SystemName } from '../harness/chaos/scenarios.js';
import { formatMultiHostScenario, formatScenario } from './lib/chaos-report.js';
import {
  FULL_MULTI_HOST_PROFILE,
  MULTI_HOST_HOSTS,
  MULTI_HOST_IDS,
  runMultiHostSuite,
  SMALL_MULTI_HOST_PROFILE,
  type MultiHostId,
  type MultiHostProfile,
  type MultiHostRun,
} from '../harness/chaos/multi-host.js';
import { multiHostFailures } from '../harness/chaos/multi-host-bounds.js';
import { TestBed, TestBedUnavailableError } from '../harness/netns/testbed.js';
import { assertionFailures } from '../harness/chaos/assertions.js';
import {
  CI_PROFILE,
  FULL_PROFILE,
  runSuite,
  SCENARIO_IDS,
  type ChaosOptions,
  type ScenarioId,
} from '../harness/chaos/scenarios.js';


function fail(message: string): never {
  process.stderr.write(`chaos: ${message}\n`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        ci: { type: 'boolean', default: false },
        assert: { type: 'boolean', default: false },
        rate: { type: 'string' },
        channels: { type: 'string' },
        'state-down-ms': { type: 'string' },
        'etcd-down-ms': { type: 'string' },
        'lease-ttl-ms': { type: 'string' },
        systems: { type: 'string', default: 'ours,original' },
        scenarios: { type: 'string' },
        'multi-host': { type: 'boolean', default: false },
        'cut-ms': { type: 'string' },
        'state-cut-ms': { type: 'string' },
        'pause-ms': { type: 'string' },
        'flap-period-ms': { type: 'string' },
        'flap-ms': { type: 'string' },
        json: { type: 'string' },
        'warmup-ms': { type: 'string' },
        'settle-ms': { type: 'string' },
        'late-ms': { type: 'string' },
        'scale-out-ms': { type: 'string' },
        'scale-back-ms': { type: 'string' },
        'startup-delay-ms': { type: 'string' },
        'retry-delay-ms': { type: 'string' },
        'wait-timeout-ms': { type: 'string' },
        logs: { type: 'string' },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
})();

const defaults = values.ci ? CI_PROFILE : FULL_PROFILE;
function int(flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const v = Number(value);
  if (!Number.isInteger(v) || v < min) fail(`--${flag} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  return v;
}
function list<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
  if (bad.length > 0 || items.length === 0) fail(`--${flag} takes a comma-separated list of ${allowed.join(', ')}; got ${JSON.stringify(value)}`);
  return items as T[];
}

const ALL_IDS: readonly (ScenarioId | MultiHostId)[] = [...SCENARIO_IDS, ...MULTI_HOST_IDS];
const selected = list<ScenarioId | MultiHostId>('scenarios', values.scenarios ?? (values['multi-host'] ? MULTI_HOST_IDS : SCENARIO_IDS).join(','), ALL_IDS);
const isMultiHost = (id: string): id is MultiHostId => (MULTI_HOST_IDS as readonly string[]).includes(id);
if (values['multi-host'] && selected.some((id) => !isMultiHost(id))) fail(`--multi-host runs only ${MULTI_HOST_IDS.join(', ')}; drop it to mix in loopback scenarios`);

const options: ChaosOptions = {
  systems: list<SystemName>('systems', values.systems, ['ours', 'original']),
  scenarios: selected.filter((id): id is ScenarioId => !isMultiHost(id)),
  rate: int('rate', values.rate, defaults.rate, 1),
  channels: int('channels', values.channels, defaults.channels, 1),
  stateDownMs: int('state-down-ms', values['state-down-ms'], defaults.stateDownMs, 0),
  storeDownMs: int('etcd-down-ms', values['etcd-down-ms'], defaults.storeDownMs, 0),
  leaseTtlMs: values['lease-ttl-ms'] === undefined ? defaults.leaseTtlMs : int('lease-ttl-ms', values['lease-ttl-ms'], 0, 1),
  warmupMs: int('warmup-ms', values['warmup-ms'], defaults.warmupMs, 0),
  settleMs: int('settle-ms', values['settle-ms'], defaults.settleMs, 0),
  lateMs: int('late-ms', values['late-ms'], defaults.lateMs, 0),
  ...(values.logs === undefined ? {} : { logDir: values.logs }),
  timings: {
    scaleOutDelayMs: int('scale-out-ms', values['scale-out-ms'], defaults.scaleOutMs, 0),
    scaleBackDelayMs: int('scale-back-ms', values['scale-back-ms'], defaults.scaleBackMs, 0),
    startupDelayMs: int('startup-delay-ms', values['startup-delay-ms'], defaults.startupDelayMs, 0),
    retryDelayMs: int('retry-delay-ms', values['retry-delay-ms'], defaults.retryDelayMs, 1),
    waitTimeoutMs: int('wait-timeout-ms', values['wait-timeout-ms'], defaults.waitTimeoutMs, 1),
  },
};
if (values.assert && !values.ci) fail('--assert goes with --ci');

const multiDefaults = values.ci ? SMALL_MULTI_HOST_PROFILE : FULL_MULTI_HOST_PROFILE;
const multiHostScenarios = selected.filter(isMultiHost);
const multiProfile: MultiHostProfile = {
  ...multiDefaults,
  rate: int('rate', values.rate, multiDefaults.rate, 1),
  channels: int('channels', values.channels, multiDefaults.channels, 1),
  cutMs: int('cut-ms', values['cut-ms'], multiDefaults.cutMs, 1),
  stateCutMs: int('state-cut-ms', values['state-cut-ms'], multiDefaults.stateCutMs, 1),
  pauseMs: int('pause-ms', values['pause-ms'], multiDefaults.pauseMs, 1),
  flapPeriodMs: int('flap-period-ms', values['flap-period-ms'], multiDefaults.flapPeriodMs, 1),
  flapMs: int('flap-ms', values['flap-ms'], multiDefaults.flapMs, 1),
  warmupMs: int('warmup-ms', values['warmup-ms'], multiDefaults.warmupMs, 0),
  settleMs: int('settle-ms', values['settle-ms'], multiDefaults.settleMs, 0),
  lateMs: int('late-ms', values['late-ms'], multiDefaults.lateMs, 0),
  retryDelayMs: int('retry-delay-ms', values['retry-delay-ms'], multiDefaults.retryDelayMs, 1),
  waitTimeoutMs: int('wait-timeout-ms', values['wait-timeout-ms'], multiDefaults.waitTimeoutMs, 1),
};

const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) };
const t = options.timings;
console.log(`Chaos suite${values.ci ? ' (CI)' : ''}: ${[...options.scenarios, ...multiHostScenarios].join(', ')}`);
if (options.scenarios.length > 0) {
  console.log(
    `Loopback scenarios: ${options.rate} msg/s offered over ${options.channels} channels; warm-up ${options.warmupMs} ms, settle ${options.settleMs} ms; ` +
      `scale-out ${t.scaleOutDelayMs} ms, scale-back ${t.scaleBackDelayMs} ms, startup delay on restart ${t.startupDelayMs} ms, retry ${t.retryDelayMs} ms; state down ${options.stateDownMs} ms; ` +
      `etcd down ${options.storeDownMs} ms; lease TTL ${options.leaseTtlMs ?? 'default'} ms`,
  );
}
console.log(`machine: ${machine.cpus} × ${machine.model ?? '?'}, node ${machine.node}, load average ${machine.loadavg.join(' ')}\n`);

const startedAt = Date.now();
const progress = (run: { scenario: string; system: string; status: string; check?: { lost: number; duplicated: number; outOfOrder: number } }): void => {
  process.stderr.write(`scenario ${run.scenario} ${run.system}: ${run.status}${run.check ? ` (${run.check.lost} lost, ${run.check.duplicated} dup, ${run.check.outOfOrder} ooo)` : ''}\n`);
};
const runs = await runSuite(options, progress);
for (const id of options.scenarios) console.log(`${formatScenario(id, runs, options.systems)}\n`);

let multiHostRuns: MultiHostRun[] = [];
if (multiHostScenarios.length > 0) {
  const p = multiProfile;
  console.log(
    `Multi-host scenarios on the network test bed: ${p.rate} msg/s from worker-a over ${p.channels} channels; cuts ${p.cutMs} ms, state cut ${p.stateCutMs} ms, ` +
      `pause ${p.pauseMs} ms, flapping every ${p.flapPeriodMs} ms for ${p.flapMs} ms; warm-up ${p.warmupMs} ms, settle ${p.settleMs} ms\n`,
  );
  const bed = await TestBed.create({ hosts: MULTI_HOST_HOSTS }).catch((error: Error) => fail(error instanceof TestBedUnavailableError ? error.message : `the test bed did not come up: ${error.message}`));
  try {
    multiHostRuns = await runMultiHostSuite(bed, { systems: options.systems, scenarios: multiHostScenarios, profile: p, ...(options.logDir !== undefined && { logDir: options.logDir }) }, progress);
  } finally {
    await bed.close();
  }
  for (const id of multiHostScenarios) console.log(`${formatMultiHostScenario(id, multiHostRuns, options.systems)}\n`);
}
console.log(`total ${Math.round((Date.now() - startedAt) / 1000)} s`);

if (values.json !== undefined) {
  const multiHost = multiHostScenarios.length > 0 ? { multiHost: { profile: multiProfile, runs: multiHostRuns } } : {};
  writeFileSync(values.json, `${JSON.stringify({ bench: 'chaos', ci: values.ci, options, machine, runs, ...multiHost }, null, 2)}\n`);
}
if (values.assert) {
  const failures = [...assertionFailures(runs), ...multiHostRuns.filter((r) => r.system === 'ours').flatMap((r) => multiHostFailures(r, multiProfile))];
  for (const f of failures) console.log(`ASSERT FAILED: ${f}`);
  process.exit(failures.length > 0 ? 1 : 0);
}
process.exit(0);
