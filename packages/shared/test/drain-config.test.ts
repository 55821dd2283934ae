/** SCC_DRAIN_TIMEOUT: read by the broker and the worker, validated like the other delays. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_DRAIN_TIMEOUT_MS, readBrokerConfig, readStateConfig, readWorkerConfig, type Env } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

const readers = {
  broker: (env: Env) => readBrokerConfig({ SCC_STATE_SERVER_HOST: 'scc-state', ...env }, false),
  worker: (env: Env) => readWorkerConfig(env, false),
  'cluster worker': (env: Env) => readWorkerConfig({ SCC_STATE_SERVER_HOST: 'scc-state', ...env }, false),
};

describe('SCC_DRAIN_TIMEOUT', () => {
  for (const [name, read] of Object.entries(readers)) {
    it(`${name}: defaults to ${DEFAULT_DRAIN_TIMEOUT_MS} ms, accepts 0 and any integer ms, refuses the rest naming the variable`, () => {
      expect(DEFAULT_DRAIN_TIMEOUT_MS).toBe(20_000);
      expect(read({}).drainTimeoutMs).toBe(20_000);
      expect(read({ SCC_DRAIN_TIMEOUT: '' }).drainTimeoutMs).toBe(20_000);
      expect(read({ SCC_DRAIN_TIMEOUT: '0' }).drainTimeoutMs).toBe(0);
      expect(read({ SCC_DRAIN_TIMEOUT: ' 15000 ' }).drainTimeoutMs).toBe(15_000);
      for (const bad of ['abc', '-1', '1.5', '20s', '3000000000']) {
        let thrown: unknown;
        try {
          read({ SCC_DRAIN_TIMEOUT: bad });
        } catch (error) {
          thrown = error;
        }
        expect(thrown, bad).toBeInstanceOf(ConfigError);
        expect((thrown as ConfigError).problems).toEqual([`SCC_DRAIN_TIMEOUT=${JSON.stringify(bad)}: must be an integer from 0 to 2147483647`]);
      }
    });
  }

  it('is not a state server setting (the state server has nothing to drain)', () => {
    expect(readStateConfig({ SCC_DRAIN_TIMEOUT: 'abc' }, false)).not.toHaveProperty('drainTimeoutMs');
  });
});
