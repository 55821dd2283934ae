import { describe, expect, it } from 'vitest';
import { SCC_TS_VERSION, isCompatibleVersion, majorOf } from '../src/version.js';

describe('majorOf', () => {
  it('reads the major of a semver string', () => {
    expect(majorOf('1.0.0')).toBe(1);
    expect(majorOf('9.2.0')).toBe(9);
    expect(majorOf('10.0.1')).toBe(10);
    expect(majorOf('9.3.0-beta.1')).toBe(9);
    expect(majorOf('v10.2.3')).toBe(10);
  });

  it('is NaN for anything that is not a semver string', () => {
    for (const value of ['garbage', '', 'x.1.2', '.9.0', undefined, null, 9, { major: 9 }, ['9.0.0']]) {
      expect(majorOf(value), JSON.stringify(value)).toBeNaN();
    }
  });
});

describe('isCompatibleVersion', () => {
  it('accepts our own major', () => {
    expect(majorOf(SCC_TS_VERSION)).toBe(1);
    expect(isCompatibleVersion(SCC_TS_VERSION)).toBe(true);
    expect(isCompatibleVersion('1.0.0')).toBe(true);
    expect(isCompatibleVersion('1.4.2')).toBe(true);
  });

  it('accepts the originals: 9.x (scc-state / scc-broker-client) and 10.x (scc-broker)', () => {
    expect(isCompatibleVersion('9.2.0')).toBe(true);
    expect(isCompatibleVersion('9.3.0')).toBe(true);
    expect(isCompatibleVersion('10.0.1')).toBe(true);
    expect(isCompatibleVersion('10.0.0')).toBe(true);
  });

  it('refuses other majors', () => {
    for (const version of ['8.0.0', '8.9.9', '11.0.0', '0.1.0', '90.0.0']) {
      expect(isCompatibleVersion(version), version).toBe(false);
    }
  });

  it('refuses garbage, undefined and null', () => {
    for (const version of ['garbage', '', 'nine', undefined, null, 9, {}]) {
      expect(isCompatibleVersion(version), JSON.stringify(version)).toBe(false);
    }
  });
});
