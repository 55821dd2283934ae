import { ConfigError, createLogger, createMapper, DEFAULT_ANNOUNCED_VERSION, SETTINGS, type Mapper } from '@scc-ts/shared';
import { describe, expect, it } from 'vitest';
import { OPTION_SETTINGS, resolveClusterOptions, type ClusterOptions } from '../src/cluster/options.js';
import type { DeliveryMode } from '../src/cluster/outbound.js';

const logger = createLogger({ name: 'test', level: 0, format: 'json' });
const base: ClusterOptions = { stateServerHost: 'scc-state', instancePort: 8000, logger };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** Resolves `options` and returns the ConfigError it must throw. */
function configError(options: unknown): ConfigError {
  let thrown: unknown;
  try {
    resolveClusterOptions(options as ClusterOptions);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected a ConfigError for ${JSON.stringify(options)}`).toBeInstanceOf(ConfigError);
  const error = thrown as ConfigError;
  expect(error.name).toBe('ConfigError');
  expect(error.message).not.toMatch(/[\r\n]/);
  return error;
}

function expectOneProblem(options: unknown, option: string): void {
  const error = configError(options);
  expect(error.problems).toHaveLength(1);
  expect(error.problems[0]).toContain(option);
  expect(error.message).toContain(option);
}

describe('resolveClusterOptions', () => {
  it('applies the defaults, named as scc-broker-client names them', () => {
    const resolved = resolveClusterOptions({ stateServerHost: 'scc-state', instancePort: 8000 });
    expect(resolved).toMatchObject({
      stateServerHost: 'scc-state',
      stateServerPort: 7777,
      authKey: null,
      instanceIp: null,
      instanceIpFamily: 'IPv4',
      instancePort: 8000,
      mappingEngine: 'skeletonRendezvous',
      clientPoolSize: 1,
      pubSubBatchDuration: 0,
      brokerRetryDelay: 2000,
      stateServerConnectTimeout: 3000,
      stateServerAckTimeout: 2000,
      stateServerReconnectRandomness: 1000,
      version: DEFAULT_ANNOUNCED_VERSION,
      holdSubscribeAcks: true,
      historyChannels: [],
    });
    expect(resolved.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(resolved.instanceId).toMatch(UUID);
    expect(typeof resolved.logger.info).toBe('function');
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it('keeps every explicit value', () => {
    const mapper = createMapper('simple');
    const resolved = resolveClusterOptions({
      stateServerHost: '10.0.0.2',
      stateServerPort: 7000,
      authKey: 'k',
      instanceId: 'worker-7',
      instanceIp: 'fd00::7',
      instanceIpFamily: 'IPv6',
      instancePort: 8123,
      mappingEngine: mapper,
      clientPoolSize: 3,
      pubSubBatchDuration: 50,
      brokerRetryDelay: 100,
      stateServerConnectTimeout: 200,
      stateServerAckTimeout: 300,
      stateServerReconnectRandomness: 400,
      deliveryMode: 'at-least-once',
      pubSubBatchInterval: 7,
      handoverDelay: 250,
      handoverGrace: 350,
      reorderWindow: 450,
      publishRetryTimeout: 5000,
      holdSubscribeAcks: false,
      historyChannels: ['chat/'],
      linkTimeout: 1500,
      version: '9.2.0',
      statsInterval: 0,
      logger,
    });
    expect(resolved).toEqual({
      historyChannels: ['chat/'],
      stateServerHost: '10.0.0.2',
      stateServerPort: 7000,
      authKey: 'k',
      instanceId: 'worker-7',
      instanceIp: 'fd00::7',
      instanceIpFamily: 'IPv6',
      instancePort: 8123,
      mappingEngine: mapper,
      clientPoolSize: 3,
      pubSubBatchDuration: 50,
      brokerRetryDelay: 100,
      stateServerConnectTimeout: 200,
      stateServerAckTimeout: 300,
      stateServerReconnectRandomness: 400,
      deliveryMode: 'at-least-once',
      pubSubBatchInterval: 7,
      handoverDelay: 250,
      handoverGrace: 350,
      reorderWindow: 450,
      publishRetryTimeout: 5000,
      holdSubscribeAcks: false,
      linkTimeout: 1500,
      version: '9.2.0',
      statsInterval: 0,
      logger,
    });
    expect(resolved.mappingEngine).toBe(mapper);
    expect(resolved.logger).toBe(logger);
  });

  it('refuses a delivery mode it does not know, with every other problem', () => {
    expect(() => resolveClusterOptions({ ...base, deliveryMode: 'exactly-once' as never, reorderWindow: -1 })).toThrow(
      /deliveryMode="exactly-once".*reorderWindow=-1/s,
    );
  });

  it('refuses a holdSubscribeAcks that is not a boolean', () => {
    expectOneProblem({ ...base, holdSubscribeAcks: 'yes' }, 'holdSubscribeAcks');
  });

  it('takes a per-channel delivery mode function as it is', () => {
    const modeFor = (channel: string): DeliveryMode => (channel.startsWith('orders/') ? 'at-least-once' : 'at-most-once');
    expect(resolveClusterOptions({ ...base, deliveryMode: modeFor }).deliveryMode).toBe(modeFor);
  });

  it('keeps an explicit 0 where 0 is allowed', () => {
    const resolved = resolveClusterOptions({ ...base, stateServerReconnectRandomness: 0, pubSubBatchDuration: 0 });
    expect(resolved.stateServerReconnectRandomness).toBe(0);
    expect(resolved.pubSubBatchDuration).toBe(0);
  });

  it('treats a null pubSubBatchDuration and authKey as unset', () => {
    const resolved = resolveClusterOptions({ ...base, pubSubBatchDuration: null, authKey: null, instanceIp: null });
    expect(resolved.pubSubBatchDuration).toBeNull();
    expect(resolved.authKey).toBeNull();
    expect(resolved.instanceIp).toBeNull();
  });

  it('gives every call its own random instanceId', () => {
    const ids = new Set(Array.from({ length: 20 }, () => resolveClusterOptions(base).instanceId));
    expect(ids.size).toBe(20);
    for (const id of ids) expect(id).toMatch(UUID);
  });

  it('accepts the simple engine and a custom Mapper object', () => {
    expect(resolveClusterOptions({ ...base, mappingEngine: 'simple' }).mappingEngine).toBe('simple');
    const custom: Mapper = {
      setSites: () => undefined,
      getSites: () => ['ws://10.0.0.1:8888'],
      findSite: () => 'ws://10.0.0.1:8888',
    };
    expect(resolveClusterOptions({ ...base, mappingEngine: custom }).mappingEngine).toBe(custom);
  });

  // An engine written for scc-broker-client 9.2.0 has only setSites + findSite (all the original ever
  // calls, and what mapper.ts promises to fit): the options accept it and createMapper must use it.
  it('accepts a custom engine written for scc-broker-client 9.2.0 (setSites + findSite) and can use it', () => {
    let sites: string[] = [];
    const original = {
      setSites(list: string[]) {
        sites = list;
      },
      findSite(key: string) {
        return sites[key.length % sites.length] ?? null;
      },
    };
    const resolved = resolveClusterOptions({ ...base, mappingEngine: original as unknown as Mapper });
    expect(resolved.mappingEngine).toBe(original);
    expect(() => createMapper(resolved.mappingEngine)).not.toThrow();
  });

  it('requires stateServerHost', () => {
    expectOneProblem({ instancePort: 8000, logger }, 'stateServerHost');
    expectOneProblem({ ...base, stateServerHost: '' }, 'stateServerHost');
    expectOneProblem({ ...base, stateServerHost: '   ' }, 'stateServerHost');
    expectOneProblem({ ...base, stateServerHost: 42 }, 'stateServerHost');
  });

  it.each([
    ['missing', undefined],
    ['0', 0],
    ['65536', 65_536],
    ['-1', -1],
    ['8000.5', 8000.5],
    ['NaN', Number.NaN],
    ['a string', '8000'],
  ])('refuses an instancePort that is %s', (_label, instancePort) => {
    expectOneProblem({ ...base, instancePort }, 'instancePort');
  });

  it.each([
    ['clientPoolSize', 0],
    ['clientPoolSize', 1.5],
    ['clientPoolSize', 100_000],
    ['stateServerPort', 0],
    ['stateServerPort', 70_000],
    ['pubSubBatchDuration', -1],
    ['brokerRetryDelay', 0],
    ['stateServerConnectTimeout', 0],
    ['stateServerAckTimeout', -5],
    ['stateServerReconnectRandomness', -1],
    ['stateServerReconnectRandomness', Number.POSITIVE_INFINITY],
  ])('refuses %s=%s', (option, value) => {
    expectOneProblem({ ...base, [option]: value }, option);
  });

  it('refuses an unknown mappingEngine and an object that is not a Mapper', () => {
    expectOneProblem({ ...base, mappingEngine: 'rendezvous' }, 'mappingEngine');
    expectOneProblem({ ...base, mappingEngine: {} }, 'mappingEngine');
    expectOneProblem({ ...base, mappingEngine: 42 }, 'mappingEngine');
  });

  it('refuses a bad instanceIpFamily and an empty instanceId', () => {
    expectOneProblem({ ...base, instanceIpFamily: 'IPv5' }, 'instanceIpFamily');
    expectOneProblem({ ...base, instanceId: '' }, 'instanceId');
  });

  it('reports every problem in one ConfigError', () => {
    const error = configError({ instancePort: 0, clientPoolSize: 0, mappingEngine: 'bogus', brokerRetryDelay: -1, logger });
    expect(error.problems).toHaveLength(5);
    for (const option of ['stateServerHost', 'instancePort', 'clientPoolSize', 'mappingEngine', 'brokerRetryDelay']) {
      expect(error.problems.some((p) => p.includes(option)), option).toBe(true);
      expect(error.message).toContain(option);
    }
    expect(error.message).toContain('bogus');
  });
});

describe('resolveClusterOptions: version', () => {
  it('refuses a version that is not semver, naming the option', () => {
    expectOneProblem({ ...base, version: '9' }, 'version');
    expectOneProblem({ ...base, version: 9 }, 'version');
  });
});

describe('resolveClusterOptions: holdSubscribeAcks', () => {
  it('holds subscribe acks unless told not to', () => {
    expect(resolveClusterOptions(base).holdSubscribeAcks).toBe(true);
    expect(resolveClusterOptions({ ...base, holdSubscribeAcks: false }).holdSubscribeAcks).toBe(false);
  });

  it('refuses a value that is not a boolean, naming the option', () => {
    expectOneProblem({ ...base, holdSubscribeAcks: 'no' }, 'holdSubscribeAcks');
    expectOneProblem({ ...base, holdSubscribeAcks: 0 }, 'holdSubscribeAcks');
  });
});

describe('OPTION_SETTINGS', () => {
  it('names each option as its setting in the shared table does, and misses none', () => {
    for (const [option, setting] of Object.entries(OPTION_SETTINGS)) expect(setting.option, option).toBe(option);
    const withOption = (Object.values(SETTINGS) as readonly { option?: string }[])
      .map((setting) => setting.option)
      .filter((option): option is string => option !== undefined);
    expect(new Set(withOption)).toEqual(new Set(Object.keys(OPTION_SETTINGS)));
  });

  it('takes its defaults from the shared table', () => {
    const resolved = resolveClusterOptions(base) as unknown as Record<string, unknown>;
    for (const [option, setting] of Object.entries(OPTION_SETTINGS)) {
      if (setting.default === null || option === 'stateServerHost') continue;
      expect(resolved[option], option).toEqual(setting.default);
    }
  });
});
