/** SOCKETCLUSTER_OPTIONS on the broker: the ping settings are taken, anything else stops the start. */
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_LINK_TIMEOUT_MS } from '@scc-ts/shared';
import { readRelaySettings } from '../src/relay-settings.js';

describe('readRelaySettings', () => {
  it('follows the link timeout when unset: pings every third of it, drops a socket silent for it', () => {
    expect(DEFAULT_LINK_TIMEOUT_MS).toBe(3000);
    expect(readRelaySettings(null)).toEqual({ pingIntervalMs: 1000, pingTimeoutMs: 3000 });
    expect(readRelaySettings(null, 6000)).toEqual({ pingIntervalMs: 2000, pingTimeoutMs: 6000 });
  });

  it('takes pingInterval and pingTimeout, and accepts ackTimeout', () => {
    expect(readRelaySettings({ pingInterval: 1000, pingTimeout: 5000, ackTimeout: 3000 })).toEqual({ pingIntervalMs: 1000, pingTimeoutMs: 5000 });
  });

  it('refuses unknown keys and bad values in one ConfigError naming each', () => {
    let caught: unknown;
    try {
      readRelaySettings({ allowClientPublish: false, pingInterval: 'fast', pingTimeout: 0, constructor: 1 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/allowClientPublish: not a broker option/);
    expect(problems.join('\n')).toMatch(/constructor: not a broker option/);
    expect(problems.join('\n')).toMatch(/pingInterval="fast"/);
    expect(problems.join('\n')).toMatch(/pingTimeout=0/);
  });
});
