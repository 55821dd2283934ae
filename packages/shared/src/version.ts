/** The version our services announce and the state server's compatibility rule. */
import { COMPATIBLE_ORIGINAL_MAJORS } from './protocol.js';

/** This implementation's version. Its major is accepted by our state server besides 9 and 10. */
export const SCC_TS_VERSION = '1.0.0';

/** Build-metadata tag that marks a version string as announced by one of our services. */
const SCC_TS_TAG = '+scc-ts.';

/**
 * The version our broker and worker announce to the state server unless `SCC_ANNOUNCE_VERSION` (or
 * the plugin's `version` option) says otherwise. The original scc-state 9.x accepts only its own
 * major (9) and would refuse our 1.0.0 with `CompatibilityError`, so we announce the protocol
 * generation we speak, 9, and carry our own version as semver build metadata, which every semver
 * reader (the original's `/\d+\.\d+\.\d+/` included) ignores: `9.0.0+scc-ts.1.0.0`.
 */
export const DEFAULT_ANNOUNCED_VERSION = `9.0.0${SCC_TS_TAG}${SCC_TS_VERSION}`;

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

const STRICT_SEMVER = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/;

/**
 * Whether `version` is plain semver (no `v` prefix, no spaces) whose major the originals read as we
 * do: the original takes the text before the first dot, so `v9.2.0` would be refused there.
 */
export function isSemver(version: unknown): version is string {
  return typeof version === 'string' && STRICT_SEMVER.test(version);
}

/** Our own version when `version` was announced by one of our services with the default tag, else null. */
export function sccTsVersionOf(version: unknown): string | null {
  if (typeof version !== 'string') return null;
  const at = version.indexOf(SCC_TS_TAG);
  return at === -1 ? null : version.slice(at + SCC_TS_TAG.length) || null;
}
