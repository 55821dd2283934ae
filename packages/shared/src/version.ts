/** The version our services announce and the state server's compatibility rule. */
import { COMPATIBLE_ORIGINAL_MAJORS } from './protocol.js';

/** This implementation's version. Its major is accepted by our state server besides 9 and 10. */
export const SCC_TS_VERSION = '1.0.0';

const SEMVER = /^v?(\d+)\.\d+\.\d+/;

/** The major of a semver string, or NaN when it is not one (the original's rule). */
export function majorOf(version: unknown): number {
  if (typeof version !== 'string') return Number.NaN;
  const match = SEMVER.exec(version.trim());
  return match ? Number(match[1]) : Number.NaN;
}

/** Majors our state server accepts: ours and the originals' (9: scc-state/-broker-client 9.x, 10: scc-broker 10.x). */
export const ACCEPTED_MAJORS: readonly number[] = Object.freeze([majorOf(SCC_TS_VERSION), ...COMPATIBLE_ORIGINAL_MAJORS]);

/** Whether a peer announcing `version` may join. */
export function isCompatibleVersion(version: unknown): boolean {
  return ACCEPTED_MAJORS.includes(majorOf(version));
}
