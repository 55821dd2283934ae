/**
 * Network partitions on a six-host test bed with OUR services (issue 14, cases 1–5): state,
 * broker-1, broker-2, broker-3 (spare, case 3), worker-a, worker-b, one service per network
 * namespace. The load generator runs in the root namespace: a publisher on worker-a and a subscriber
 * on every worker, socketcluster-client over the bridge; the chaos checker counts lost, duplicated
 * and reordered messages.
 *
 * What must hold is stated once, in multiHostFailures (harness/chaos/multi-host-bounds.ts: detection
 * within 3 s, deliveries normal again 3 s after that, the loss bounds, the reshard bound), which
 * `pnpm chaos --multi-host --ci --assert` checks too.
 *
 * The small profile (harness/chaos/multi-host.ts SMALL_MULTI_HOST_PROFILE): 200 msg/s on 40
 * channels, cuts of 12 s instead of the 30, the state server cut off 20 s instead of 60,
 * 20 s of flapping every 2 s instead of a minute. `pnpm chaos --multi-host` runs the same scenarios
 * at full load, side by side with the original services.
 *
 * Needs root (CI runs as root): without it every test fails with TestBedUnavailableError.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MULTI_HOST_HOSTS, runMultiHostScenario, SMALL_MULTI_HOST_PROFILE, type MultiHostId, type MultiHostRun } from '../../harness/chaos/multi-host.js';
import { MULTI_HOST_BOUNDS, multiHostFailures } from '../../harness/chaos/multi-host-bounds.js';
import { TestBed } from '../../harness/netns/testbed.js';
import { stopAll } from '../../harness/service-process.js';

const profile = SMALL_MULTI_HOST_PROFILE;
/** One scenario's bound: its fault, settle and drain, plus the harness's own waits. */
const SCENARIO_TIMEOUT_MS = 150_000;

/** The figures a failure message shows. */
function summary(run: MultiHostRun): string {
  const c = run.check;
  return JSON.stringify({
    status: run.status,
    error: run.error?.split('\n').slice(0, 6).join(' | '),
    lost: c?.lost,
    duplicated: c?.duplicated,
    outOfOrder: c?.outOfOrder,
    lostArrivedLate: c?.lostArrivedLate,
    lostByPath: c?.lostByPath,
    published: c?.published,
    detectionMs: run.detectionMs,
    detectedBy: run.detectedBy,
    disruptedMs: run.disruptedMs,
    recoveryMs: run.recoveryMs,
    maxDelayMs: run.maxDelayMs,
    reshards: run.reshards,
    brokersAtEnd: run.brokersAtEnd,
    owners: run.owners?.agreed,
    notes: run.notes,
  });
}

const CASES: readonly [MultiHostId, string][] = [
  ['m1', `1. worker-b cut off from broker-1, default mode: detected within ${MULTI_HOST_BOUNDS.detectionMs} ms, loses at most what was sent during detection, workers agree on the owners`],
  ['m1b', `1b. worker-b cut off from broker-1, at-least-once mode: detected within ${MULTI_HOST_BOUNDS.detectionMs} ms, nothing lost or duplicated, workers agree on the owners`],
  ['m2', '2. broker-1 cut off from the state server only: nothing lost, both brokers listed at the end'],
  ['m3', '3. the state server cut off from everyone, a broker added meanwhile: nothing lost, the new broker in every list after the heal'],
  ['m4', `4. broker-1 paused 10 s then resumed, at-least-once mode: detected within ${MULTI_HOST_BOUNDS.detectionMs} ms and routed around like a dead broker, nothing lost, no duplicate delivered`],
  ['m5', `5. the worker-b ↔ broker-1 link flaps every 2 s: at most ${MULTI_HOST_BOUNDS.flapReshards} reshards per worker, nothing lost at-least-once`],
];

describe('network partitions (our services, on the test bed)', () => {
  let bed: TestBed;
  beforeAll(async () => {
    bed = await TestBed.create({ hosts: MULTI_HOST_HOSTS });
  });
  afterAll(async () => {
    await bed?.close();
    await stopAll();
  });

  for (const [id, title] of CASES) {
    it(
      title,
      async () => {
        const run = await runMultiHostScenario(bed, 'ours', id, profile);
        // Printed for the record: the figures are the point of these runs, pass or fail.
        process.stdout.write(`partition ${id}: ${summary(run)}\n`);
        const failures = multiHostFailures(run, profile);
        expect(failures, `${failures.join('; ')}\nfigures: ${summary(run)}`).toEqual([]);
      },
      SCENARIO_TIMEOUT_MS,
    );
  }
});
