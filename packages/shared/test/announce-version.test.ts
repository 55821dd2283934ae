/**
 * The version our broker and worker announce to the state server: configurable by
 * `SCC_ANNOUNCE_VERSION`, and by default one that the original scc-state 9.x accepts.
 */
import { describe, expect, it } from 'vitest';
import { readBrokerConfig, readWorkerConfig, type Env } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { DEFAULT_ANNOUNCED_VERSION, SCC_TS_VERSION, isCompatibleVersion, isSemver, majorOf, sccTsVersionOf } from '../src/version.js';

const broker = (env: Env) => readBrokerConfig({ SCC_STATE_SERVER_HOST: 'scc-state', ...env }, false);
const clusterWorker = (env: Env) => readWorkerConfig({ SCC_STATE_SERVER_HOST: 'scc-state', ...env }, false);

/**
 * The original scc-state 9.x's rule, restated: a version is valid when it contains
 * MAJOR.MINOR.PATCH somewhere, and its major is the integer before the first dot; the peer is
 * accepted only when that major equals the state server's own (9).
 */
function originalStateAccepts(version: string): boolean {
  if (!/\d+\.\d+\.\d+/.test(version)) return false;
  return Number.parseInt(version.split('.')[0] ?? '', 10) === 9;
}

describe('DEFAULT_ANNOUNCED_VERSION', () => {
  it('has major 9, which the original scc-state 9.x requires, and which our state server accepts', () => {
    expect(majorOf(DEFAULT_ANNOUNCED_VERSION)).toBe(9);
    expect(originalStateAccepts(DEFAULT_ANNOUNCED_VERSION)).toBe(true);
    expect(isCompatibleVersion(DEFAULT_ANNOUNCED_VERSION)).toBe(true);
  });

  it('carries our own version as semver build metadata', () => {
    expect(DEFAULT_ANNOUNCED_VERSION).toBe(`9.0.0+scc-ts.${SCC_TS_VERSION}`);
    expect(sccTsVersionOf(DEFAULT_ANNOUNCED_VERSION)).toBe(SCC_TS_VERSION);
    for (const other of ['9.2.0', '10.0.1', '1.0.0', '', undefined, 9]) expect(sccTsVersionOf(other), String(other)).toBeNull();
  });

  it('survives the query string: URLSearchParams round-trips the + of the build metadata', () => {
    const query = new URLSearchParams({ version: DEFAULT_ANNOUNCED_VERSION }).toString();
    expect(query).not.toContain('+');
    expect(new URLSearchParams(query).get('version')).toBe(DEFAULT_ANNOUNCED_VERSION);
  });

  it('is what the original would refuse if we announced our own 1.0.0 (why the default is not SCC_TS_VERSION)', () => {
    expect(originalStateAccepts(SCC_TS_VERSION)).toBe(false);
  });
});

describe('isSemver', () => {
  it('accepts MAJOR.MINOR.PATCH with optional pre-release and build metadata', () => {
    for (const v of ['9.2.0', '10.0.1', '9.0.0+scc-ts.1.0.0', '9.3.0-beta.1', '9.3.0-rc.1+build.5']) expect(isSemver(v), v).toBe(true);
  });
  it('refuses the rest, including a v prefix (the original would read its major as NaN)', () => {
    for (const v of ['9', '9.2', 'nine', '', ' ', 'v9.2.0', ' 9.2.0', '9.2.0 beta', '9.2.0&x=1', null, undefined, 9]) expect(isSemver(v), String(v)).toBe(false);
  });
});

describe('SCC_ANNOUNCE_VERSION', () => {
  it('defaults to DEFAULT_ANNOUNCED_VERSION for the broker and the worker', () => {
    expect(broker({}).announceVersion).toBe(DEFAULT_ANNOUNCED_VERSION);
    expect(clusterWorker({}).cluster?.announceVersion).toBe(DEFAULT_ANNOUNCED_VERSION);
    expect(broker({ SCC_ANNOUNCE_VERSION: '  ' }).announceVersion).toBe(DEFAULT_ANNOUNCED_VERSION);
  });

  it('is read for the broker and the worker', () => {
    expect(broker({ SCC_ANNOUNCE_VERSION: '10.0.1' }).announceVersion).toBe('10.0.1');
    expect(clusterWorker({ SCC_ANNOUNCE_VERSION: ' 9.2.0 ' }).cluster?.announceVersion).toBe('9.2.0');
  });

  it.each(['9', 'nine', '9.2', 'v9.2.0', '9.2.0 beta', '9.2.0&x=1'])('refuses %j with a one-line ConfigError naming it', (value) => {
    for (const read of [broker, clusterWorker]) {
      let thrown: unknown;
      try {
        read({ SCC_ANNOUNCE_VERSION: value });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      const error = thrown as ConfigError;
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toContain('SCC_ANNOUNCE_VERSION');
      expect(error.message).not.toMatch(/[\r\n]/);
    }
  });
});
