/**
 * What must hold on the test bed for OUR services (issue 14), stated once: the partition tests
 * (test/netns/partitions.test.ts) and `pnpm chaos --multi-host --ci --assert` check the same.
 */
import { MULTI_HOST_BROKERS, type MultiHostProfile, type MultiHostRun } from './multi-host.js';

/** The bounds, by default settings; the services' heartbeat and withdrawal defaults must meet them. */
export const MULTI_HOST_BOUNDS = Object.freeze({
  /** Detection of a silent link or a paused broker, by default: far below socketcluster's 20 s ping timeout, ms. */
  detectionMs: 3000,
  /**
   * After detection the channels move by the normal handover: deliveries are back to normal (nothing
   * lost, nothing held over DELAYED_MS) within this much more, ms. Without it a cluster that holds
   * every message for the whole cut and delivers it after the heal would pass.
   */
  rerouteMs: 3000,
  /** m5: broker lists a worker may apply while a link flaps, whatever the flapping's length (a withdrawal and a restore, twice). */
  flapReshards: 4,
});

/** Why a run of OUR services falls short of issue 14 (empty: it holds). */
export function multiHostFailures(run: MultiHostRun, profile: Readonly<MultiHostProfile>): string[] {
  if (run.status === 'n/a') return [];
  if (run.status === 'error' || run.check === undefined) return [`${run.scenario}: ${run.error?.split('\n', 1)[0] ?? 'no result'}`];
  const f: string[] = [];
  const c = run.check;
  const b = MULTI_HOST_BOUNDS;
  const clean = (): void => {
    if (c.lost + c.duplicated + c.outOfOrder > 0) f.push(`${c.lost} lost, ${c.duplicated} duplicated, ${c.outOfOrder} out of order`);
  };
  const detected = (): void => {
    if (run.detectionMs === null || run.detectionMs === undefined) f.push(`not detected while the fault lasted (${run.faultMs} ms); bound ${b.detectionMs} ms`);
    else if (run.detectionMs > b.detectionMs) f.push(`detected after ${run.detectionMs} ms (by ${run.detectedBy}); bound ${b.detectionMs} ms`);
  };
  const rerouted = (): void => {
    const last = run.disruptedMs?.last;
    if (last !== undefined && last > b.detectionMs + b.rerouteMs) f.push(`deliveries disrupted until ${last} ms into the fault (lost or held up to ${run.maxDelayMs} ms); bound ${b.detectionMs + b.rerouteMs} ms`);
  };
  const agreed = (): void => {
    if (run.owners?.agreed !== true) f.push(`the workers disagree on the owners during the cut: ${JSON.stringify(run.owners?.views ?? 'not read')}`);
  };
  const brokersAtEnd = (n: number): void => {
    const counts = Object.values(run.brokersAtEnd ?? {});
    if (counts.length === 0 || counts.some((k) => k !== n)) f.push(`broker lists at the end ${JSON.stringify(run.brokersAtEnd)}; expected ${n} everywhere`);
  };
  switch (run.scenario) {
    case 'm1': {
      detected();
      rerouted();
      agreed();
      // At most the whole offered rate for the detection time: what was in flight on broker-1's channels.
      const inFlight = Math.ceil((profile.rate * b.detectionMs) / 1000);
      if (c.lost > inFlight) f.push(`${c.lost} lost; at most ${inFlight} (sent during detection) may be`);
      if (c.duplicated + c.outOfOrder > 0) f.push(`${c.duplicated} duplicated, ${c.outOfOrder} out of order`);
      break;
    }
    case 'm1b':
      detected();
      rerouted();
      agreed();
      clean();
      break;
    case 'm2':
      clean();
      brokersAtEnd(MULTI_HOST_BROKERS.length);
      break;
    case 'm3':
      clean();
      brokersAtEnd(MULTI_HOST_BROKERS.length + 1);
      break;
    case 'm4':
      // Treated like a dead broker once detected: its channels move on, as after a SIGKILL.
      detected();
      rerouted();
      clean();
      break;
    case 'm5':
      for (const [worker, n] of Object.entries(run.reshards ?? {})) if (n > b.flapReshards) f.push(`${worker} applied ${n} broker lists; at most ${b.flapReshards}`);
      clean();
      break;
  }
  return f.map((x) => `${run.scenario}: ${x}`);
}
