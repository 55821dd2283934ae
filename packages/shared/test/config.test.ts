import { describe, expect, it } from 'vitest';
import { readBrokerConfig, readStateConfig, readWorkerConfig, type Env } from '../src/config.js';
import { ConfigError, InvalidPayloadError } from '../src/errors.js';
import { parseBrokerJoin } from '../src/payloads.js';

// Every reader is called with an explicit env and isTty=false, so nothing leaks in from the test
// process's own environment.
const state = (env: Env) => readStateConfig(env, false);
const broker = (env: Env) => readBrokerConfig({ SCC_STATE_SERVER_HOST: 'scc-state', ...env }, false);
const brokerRaw = (env: Env) => readBrokerConfig(env, false);
const worker = (env: Env) => readWorkerConfig(env, false);
const clusterWorker = (env: Env) => readWorkerConfig({ SCC_STATE_SERVER_HOST: 'scc-state', ...env }, false);

type Reader = (env: Env) => unknown;

/** Runs `read` and returns the ConfigError it must throw. */
function configError(read: Reader, env: Env): ConfigError {
  let thrown: unknown;
  try {
    read(env);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected a ConfigError for ${JSON.stringify(env)}`).toBeInstanceOf(ConfigError);
  const error = thrown as ConfigError;
  expect(error).toBeInstanceOf(Error);
  expect(error.name).toBe('ConfigError');
  expect(error.message).not.toMatch(/[\r\n]/);
  expect(Array.isArray(error.problems)).toBe(true);
  return error;
}

/** Whether `text` shows `value`, verbatim or JSON-escaped (quotes inside a quoted value). */
function shows(text: string, value: string): boolean {
  return text.includes(value) || text.includes(JSON.stringify(value).slice(1, -1));
}

/** Asserts one problem, naming the variable and the bad value, in a one-line message. */
function expectRejected(read: Reader, name: string, value: string): ConfigError {
  const error = configError(read, { [name]: value });
  expect(error.problems).toHaveLength(1);
  const problem = error.problems[0] ?? '';
  expect(problem).toContain(name);
  expect(shows(problem, value), `${JSON.stringify(problem)} shows ${JSON.stringify(value)}`).toBe(true);
  expect(problem).not.toMatch(/[\r\n]/);
  expect(error.message).toContain(name);
  expect(shows(error.message, value)).toBe(true);
  return error;
}

describe('readStateConfig', () => {
  describe('replicas', () => {
    it('runs alone (no election) unless etcd or a Lease is configured', () => {
      expect(state({}).election).toBeNull();
    });

    it('reads the etcd election with its defaults', () => {
      expect(state({ SCC_STATE_SERVER_ETCD_ENDPOINTS: 'http://10.0.0.1:2379, https://10.0.0.2:2379' }).election).toEqual({
        store: { kind: 'etcd', endpoints: ['http://10.0.0.1:2379', 'https://10.0.0.2:2379'], prefix: '/scc-state/' },
        leaseTtlMs: 3000,
        rejoinTimeoutMs: 10_000,
        instanceId: null,
        instanceIp: null,
      });
    });

    it('reads the Lease election and every replica setting', () => {
      expect(
        state({
          SCC_STATE_SERVER_KUBERNETES_LEASE: 'scc-state',
          SCC_STATE_SERVER_KUBERNETES_NAMESPACE: 'prod',
          SCC_STATE_SERVER_LEASE_TTL: '5000',
          SCC_STATE_SERVER_REJOIN_TIMEOUT: '0',
          SCC_INSTANCE_ID: 'scc-state-0',
          SCC_INSTANCE_IP: '10.1.2.3',
        }).election,
      ).toEqual({ store: { kind: 'kubernetes', lease: 'scc-state', namespace: 'prod' }, leaseTtlMs: 5000, rejoinTimeoutMs: 0, instanceId: 'scc-state-0', instanceIp: '10.1.2.3' });
    });

    it('refuses both stores, an endpoint that is not a URL, and a lease shorter than etcd grants, naming each', () => {
      expect(() => state({ SCC_STATE_SERVER_ETCD_ENDPOINTS: 'http://a:1', SCC_STATE_SERVER_KUBERNETES_LEASE: 'x' })).toThrow(
        /SCC_STATE_SERVER_ETCD_ENDPOINTS and SCC_STATE_SERVER_KUBERNETES_LEASE are both set/,
      );
      expect(() => state({ SCC_STATE_SERVER_ETCD_ENDPOINTS: 'etcd:2379' })).toThrow(/SCC_STATE_SERVER_ETCD_ENDPOINTS: "etcd:2379" is not an http/);
      expect(() => state({ SCC_STATE_SERVER_ETCD_ENDPOINTS: 'http://a:1', SCC_STATE_SERVER_LEASE_TTL: '1000' })).toThrow(/SCC_STATE_SERVER_LEASE_TTL="1000"/);
      expect(() => state({ SCC_STATE_SERVER_ETCD_ENDPOINTS: 'http://a:1', SCC_STATE_SERVER_ETCD_PREFIX: '' })).not.toThrow();
    });
  });

  it('uses the documented default for every variable when the env is empty', () => {
    const config = state({});
    expect(config).toMatchObject({
      port: 7777,
      retryDelayMs: 2000,
      scaleOutDelayMs: 5000,
      scaleBackDelayMs: 1000,
      startupDelayMs: 5000,
      logLevel: 3,
      authKey: null,
      forwardedForHeader: null,
      logFormat: 'json',
    });
  });

  it('reads every variable from the env', () => {
    const config = state({
      SCC_STATE_SERVER_PORT: '7001',
      SCC_AUTH_KEY: 's3cret key',
      FORWARDED_FOR_HEADER: 'x-forwarded-for',
      SCC_STATE_SERVER_RETRY_DELAY: '1500',
      SCC_STATE_SERVER_SCALE_OUT_DELAY: '6000',
      SCC_STATE_SERVER_SCALE_BACK_DELAY: '250',
      SCC_STATE_SERVER_STARTUP_DELAY: '12000',
      SCC_STATE_LOG_LEVEL: '1',
      SCC_LOG_FORMAT: 'pretty',
    });
    expect(config).toMatchObject({
      port: 7001,
      authKey: 's3cret key',
      forwardedForHeader: 'x-forwarded-for',
      retryDelayMs: 1500,
      scaleOutDelayMs: 6000,
      scaleBackDelayMs: 250,
      startupDelayMs: 12000,
      logLevel: 1,
      logFormat: 'pretty',
    });
  });

  it('defaults the log format to pretty on a terminal and json otherwise', () => {
    expect(readStateConfig({}, true).logFormat).toBe('pretty');
    expect(readStateConfig({}, false).logFormat).toBe('json');
    expect(readStateConfig({ SCC_LOG_FORMAT: 'json' }, true).logFormat).toBe('json');
  });

  it('allows 0 for the three delays and the listen port', () => {
    const config = state({
      SCC_STATE_SERVER_PORT: '0',
      SCC_STATE_SERVER_SCALE_OUT_DELAY: '0',
      SCC_STATE_SERVER_SCALE_BACK_DELAY: '0',
      SCC_STATE_SERVER_STARTUP_DELAY: '0',
    });
    expect(config.port).toBe(0);
    expect(config.scaleOutDelayMs).toBe(0);
    expect(config.scaleBackDelayMs).toBe(0);
    expect(config.startupDelayMs).toBe(0);
  });

  it('refuses 0 for the retry delay', () => {
    expectRejected(state, 'SCC_STATE_SERVER_RETRY_DELAY', '0');
  });

  it('treats blank values as unset', () => {
    const config = state({
      SCC_STATE_SERVER_PORT: '',
      SCC_STATE_SERVER_RETRY_DELAY: '   ',
      SCC_AUTH_KEY: '',
      FORWARDED_FOR_HEADER: ' ',
      SCC_STATE_LOG_LEVEL: '',
    });
    expect(config.port).toBe(7777);
    expect(config.retryDelayMs).toBe(2000);
    expect(config.authKey).toBeNull();
    expect(config.forwardedForHeader).toBeNull();
    expect(config.logLevel).toBe(3);
  });

  it.each([
    ['SCC_STATE_SERVER_PORT', 'abc'],
    ['SCC_STATE_SERVER_PORT', '-1'],
    ['SCC_STATE_SERVER_PORT', '80.5'],
    ['SCC_STATE_SERVER_PORT', '65536'],
    ['SCC_STATE_SERVER_PORT', '99999'],
    ['SCC_STATE_SERVER_RETRY_DELAY', 'soon'],
    ['SCC_STATE_SERVER_RETRY_DELAY', '-100'],
    ['SCC_STATE_SERVER_SCALE_OUT_DELAY', '-1'],
    ['SCC_STATE_SERVER_SCALE_OUT_DELAY', '1.5'],
    ['SCC_STATE_SERVER_SCALE_BACK_DELAY', 'x1000'],
    ['SCC_STATE_SERVER_STARTUP_DELAY', '5s'],
    ['SCC_STATE_LOG_LEVEL', 'info'],
    ['SCC_STATE_LOG_LEVEL', '9'],
    ['SCC_STATE_LOG_LEVEL', '-1'],
    ['SCC_LOG_FORMAT', 'xml'],
  ])('refuses %s=%s with a one-line ConfigError naming it', (name, value) => {
    expectRejected(state, name, value);
  });

  it('lists every bad variable in one error', () => {
    const error = configError(state, {
      SCC_STATE_SERVER_PORT: 'abc',
      SCC_STATE_SERVER_RETRY_DELAY: '0',
      SCC_STATE_SERVER_SCALE_BACK_DELAY: '-5',
      SCC_STATE_LOG_LEVEL: 'loud',
    });
    expect(error.problems).toHaveLength(4);
    for (const [name, value] of [
      ['SCC_STATE_SERVER_PORT', 'abc'],
      ['SCC_STATE_SERVER_RETRY_DELAY', '0'],
      ['SCC_STATE_SERVER_SCALE_BACK_DELAY', '-5'],
      ['SCC_STATE_LOG_LEVEL', 'loud'],
    ] as const) {
      expect(error.problems.some((p) => p.includes(name) && p.includes(value)), name).toBe(true);
      expect(error.message).toContain(name);
    }
  });

  it('keeps the message on one line even when the bad value holds a newline', () => {
    const error = configError(state, { SCC_STATE_SERVER_PORT: '80\n81' });
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain('SCC_STATE_SERVER_PORT');
    expect(error.message).not.toMatch(/[\r\n]/);
    expect(error.problems[0]).not.toMatch(/[\r\n]/);
  });

  it('returns a frozen object', () => {
    const config = state({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(config.port).toBe(7777);
  });
});

describe('readBrokerConfig', () => {
  it('uses the documented default for every variable but the required host', () => {
    const config = broker({});
    expect(config).toMatchObject({
      stateServerHost: 'scc-state',
      port: 8888,
      stateServerPort: 7777,
      instanceIp: null,
      instanceIpFamily: 'IPv4',
      authKey: null,
      retryDelayMs: 2000,
      stateServerConnectTimeoutMs: 3000,
      stateServerAckTimeoutMs: 2000,
      brokerAckTimeoutMs: 10000,
      logLevel: 1,
      secure: false,
      socketClusterOptions: null,
      logFormat: 'json',
    });
  });

  it('reads every variable from the env', () => {
    const config = brokerRaw({
      SCC_BROKER_SERVER_PORT: '9999',
      SCC_STATE_SERVER_HOST: 'state.example.internal',
      SCC_STATE_SERVER_PORT: '7788',
      SCC_INSTANCE_IP: 'fd00::12',
      SCC_INSTANCE_IP_FAMILY: 'IPv6',
      SCC_AUTH_KEY: 'k3y',
      SCC_BROKER_SERVER_RETRY_DELAY: '2500',
      SCC_STATE_SERVER_CONNECT_TIMEOUT: '3500',
      SCC_STATE_SERVER_ACK_TIMEOUT: '2200',
      SCC_BROKER_SERVER_ACK_TIMEOUT: '15000',
      SCC_BROKER_SERVER_SECURE: 'true',
      SCC_BROKER_SERVER_LOG_LEVEL: '3',
      SOCKETCLUSTER_OPTIONS: '{"pingInterval":4000,"nested":{"a":[1,2]}}',
    });
    expect(config).toMatchObject({
      port: 9999,
      stateServerHost: 'state.example.internal',
      stateServerPort: 7788,
      instanceIp: 'fd00::12',
      instanceIpFamily: 'IPv6',
      authKey: 'k3y',
      retryDelayMs: 2500,
      stateServerConnectTimeoutMs: 3500,
      stateServerAckTimeoutMs: 2200,
      brokerAckTimeoutMs: 15000,
      secure: true,
      logLevel: 3,
    });
    expect(config.socketClusterOptions).toEqual({ pingInterval: 4000, nested: { a: [1, 2] } });
  });

  it('accepts an IPv4 address and a host name as SCC_INSTANCE_IP', () => {
    expect(broker({ SCC_INSTANCE_IP: '10.1.2.3' }).instanceIp).toBe('10.1.2.3');
    expect(broker({ SCC_INSTANCE_IP: 'broker-0.scc-broker.default.svc' }).instanceIp).toBe('broker-0.scc-broker.default.svc');
  });

  // The env check and the state server's join guard share isHostOrIp: an SCC_INSTANCE_IP the state
  // server would refuse in every join (InvalidPayloadError) must stop the service at start instead.
  it.each(['a..b', 'scc-.broker', `${'a'.repeat(64)}.example`])(
    'refuses SCC_INSTANCE_IP=%s, which the state server would refuse in a join',
    (ip) => {
      expect(() => parseBrokerJoin({ instanceIp: ip, instanceIpFamily: 'IPv4' })).toThrow(InvalidPayloadError);
      expectRejected(broker, 'SCC_INSTANCE_IP', ip);
    },
  );

  it('reads SCC_BROKER_SERVER_SECURE as a boolean', () => {
    expect(broker({ SCC_BROKER_SERVER_SECURE: 'true' }).secure).toBe(true);
    expect(broker({ SCC_BROKER_SERVER_SECURE: '1' }).secure).toBe(true);
    expect(broker({ SCC_BROKER_SERVER_SECURE: 'false' }).secure).toBe(false);
    expect(broker({ SCC_BROKER_SERVER_SECURE: '0' }).secure).toBe(false);
    expect(broker({ SCC_BROKER_SERVER_SECURE: '' }).secure).toBe(false);
  });

  it('requires SCC_STATE_SERVER_HOST with a clear error', () => {
    for (const env of [{}, { SCC_STATE_SERVER_HOST: '' }, { SCC_STATE_SERVER_HOST: '  ' }] as Env[]) {
      const error = configError(brokerRaw, env);
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toContain('SCC_STATE_SERVER_HOST');
      expect(error.message).toContain('SCC_STATE_SERVER_HOST');
    }
  });

  it('allows 0 for the listen port but not for the state server port', () => {
    expect(broker({ SCC_BROKER_SERVER_PORT: '0' }).port).toBe(0);
    expectRejected(broker, 'SCC_STATE_SERVER_PORT', '0');
  });

  it.each([
    ['SCC_BROKER_SERVER_RETRY_DELAY', '0'],
    ['SCC_STATE_SERVER_CONNECT_TIMEOUT', '0'],
    ['SCC_STATE_SERVER_ACK_TIMEOUT', '0'],
    ['SCC_BROKER_SERVER_ACK_TIMEOUT', '0'],
  ])('refuses 0 for %s', (name, value) => {
    expectRejected(broker, name, value);
  });

  it.each([
    ['SCC_BROKER_SERVER_PORT', 'abc'],
    ['SCC_BROKER_SERVER_PORT', '70000'],
    ['SCC_BROKER_SERVER_PORT', '-8888'],
    ['SCC_STATE_SERVER_PORT', '7777.7'],
    ['SCC_INSTANCE_IP_FAMILY', 'IPv5'],
    ['SCC_INSTANCE_IP_FAMILY', 'inet6'],
    ['SCC_INSTANCE_IP', 'not an ip!'],
    ['SCC_INSTANCE_IP', 'http://10.0.0.1'],
    ['SCC_INSTANCE_IP', '10.0.0.1:8888'],
    ['SCC_BROKER_SERVER_SECURE', 'maybe'],
    ['SCC_BROKER_SERVER_RETRY_DELAY', '1.5'],
    ['SCC_STATE_SERVER_CONNECT_TIMEOUT', 'fast'],
    ['SCC_STATE_SERVER_ACK_TIMEOUT', '-2000'],
    ['SCC_BROKER_SERVER_ACK_TIMEOUT', '1e99'],
    ['SCC_BROKER_SERVER_LOG_LEVEL', 'error'],
    ['SCC_BROKER_SERVER_LOG_LEVEL', '5'],
    ['SOCKETCLUSTER_OPTIONS', '{bad json'],
    ['SOCKETCLUSTER_OPTIONS', '[1,2]'],
    ['SOCKETCLUSTER_OPTIONS', '42'],
    ['SOCKETCLUSTER_OPTIONS', 'true'],
    ['SOCKETCLUSTER_OPTIONS', 'null'],
  ])('refuses %s=%s with a one-line ConfigError naming it', (name, value) => {
    expectRejected(broker, name, value);
  });

  it('lists every bad variable in one error, the missing host included', () => {
    const error = configError(brokerRaw, {
      SCC_BROKER_SERVER_PORT: '99999',
      SCC_INSTANCE_IP_FAMILY: 'IPv7',
      SCC_BROKER_SERVER_SECURE: 'maybe',
      SOCKETCLUSTER_OPTIONS: '{',
    });
    expect(error.problems).toHaveLength(5);
    for (const name of [
      'SCC_STATE_SERVER_HOST',
      'SCC_BROKER_SERVER_PORT',
      'SCC_INSTANCE_IP_FAMILY',
      'SCC_BROKER_SERVER_SECURE',
      'SOCKETCLUSTER_OPTIONS',
    ]) {
      expect(error.problems.some((p) => p.includes(name)), name).toBe(true);
      expect(error.message).toContain(name);
    }
    expect(error.message).toContain('99999');
    expect(error.message).toContain('IPv7');
    expect(error.message).toContain('maybe');
  });

  it('returns a frozen object', () => {
    const config = broker({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { secure: boolean }).secure = true;
    }).toThrow(TypeError);
  });
});

describe('readWorkerConfig', () => {
  it('runs standalone (cluster null) without SCC_STATE_SERVER_HOST', () => {
    const config = worker({});
    expect(config).toMatchObject({ port: 8000, cluster: null, logLevel: 2, authKey: null, socketClusterOptions: null, logFormat: 'json' });
    expect(worker({ SCC_STATE_SERVER_HOST: '' }).cluster).toBeNull();
    expect(worker({ SCC_STATE_SERVER_HOST: '   ' }).cluster).toBeNull();
  });

  it('uses the documented cluster defaults with SCC_STATE_SERVER_HOST', () => {
    const config = clusterWorker({});
    expect(config.port).toBe(8000);
    expect(config.logLevel).toBe(2);
    expect(config.cluster).toMatchObject({
      stateServerHost: 'scc-state',
      stateServerPort: 7777,
      instanceIp: null,
      instanceIpFamily: 'IPv4',
      stateServerConnectTimeoutMs: 3000,
      stateServerAckTimeoutMs: 2000,
      mappingEngine: 'skeletonRendezvous',
      clientPoolSize: 1,
      stateServerReconnectRandomnessMs: 1000,
      pubSubBatchDurationMs: 0,
      brokerRetryDelayMs: 2000,
    });
  });

  it('reads every variable from the env', () => {
    const config = worker({
      SOCKETCLUSTER_PORT: '8123',
      SCC_STATE_SERVER_HOST: '10.0.0.7',
      SCC_STATE_SERVER_PORT: '7070',
      SCC_AUTH_KEY: 'worker-key',
      SCC_INSTANCE_IP: '10.0.0.8',
      SCC_INSTANCE_IP_FAMILY: 'IPv6',
      SCC_MAPPING_ENGINE: 'simple',
      SCC_CLIENT_POOL_SIZE: '4',
      SCC_STATE_SERVER_CONNECT_TIMEOUT: '4100',
      SCC_STATE_SERVER_ACK_TIMEOUT: '2600',
      SCC_STATE_SERVER_RECONNECT_RANDOMNESS: '300',
      SCC_PUB_SUB_BATCH_DURATION: '25',
      SCC_BROKER_RETRY_DELAY: '900',
      SOCKETCLUSTER_OPTIONS: '{"ackTimeout":5000}',
      SOCKETCLUSTER_LOG_LEVEL: '4',
    });
    expect(config).toMatchObject({ port: 8123, authKey: 'worker-key', logLevel: 4 });
    expect(config.socketClusterOptions).toEqual({ ackTimeout: 5000 });
    expect(config.cluster).toMatchObject({
      stateServerHost: '10.0.0.7',
      stateServerPort: 7070,
      instanceIp: '10.0.0.8',
      instanceIpFamily: 'IPv6',
      mappingEngine: 'simple',
      clientPoolSize: 4,
      stateServerConnectTimeoutMs: 4100,
      stateServerAckTimeoutMs: 2600,
      stateServerReconnectRandomnessMs: 300,
      pubSubBatchDurationMs: 25,
      brokerRetryDelayMs: 900,
    });
  });

  it('allows 0 for the listen port, the reconnect randomness and the batch duration', () => {
    const config = clusterWorker({
      SOCKETCLUSTER_PORT: '0',
      SCC_STATE_SERVER_RECONNECT_RANDOMNESS: '0',
      SCC_PUB_SUB_BATCH_DURATION: '0',
    });
    expect(config.port).toBe(0);
    expect(config.cluster?.stateServerReconnectRandomnessMs).toBe(0);
    expect(config.cluster?.pubSubBatchDurationMs).toBe(0);
  });

  it.each([
    ['SCC_BROKER_RETRY_DELAY', '0'],
    ['SCC_STATE_SERVER_CONNECT_TIMEOUT', '0'],
    ['SCC_STATE_SERVER_ACK_TIMEOUT', '0'],
    ['SCC_CLIENT_POOL_SIZE', '0'],
  ])('refuses 0 for %s', (name, value) => {
    expectRejected(clusterWorker, name, value);
  });

  it.each([
    ['SOCKETCLUSTER_PORT', '99999'],
    ['SOCKETCLUSTER_PORT', 'eight thousand'],
    ['SCC_STATE_SERVER_PORT', '-7777'],
    ['SCC_MAPPING_ENGINE', 'rendezvous'],
    ['SCC_MAPPING_ENGINE', 'SIMPLE'],
    ['SCC_INSTANCE_IP_FAMILY', 'IPv10'],
    ['SCC_INSTANCE_IP', 'bad host name'],
    ['SCC_CLIENT_POOL_SIZE', 'abc'],
    ['SCC_CLIENT_POOL_SIZE', '2.5'],
    ['SCC_CLIENT_POOL_SIZE', '-3'],
    ['SCC_STATE_SERVER_RECONNECT_RANDOMNESS', '-1'],
    ['SCC_PUB_SUB_BATCH_DURATION', '-10'],
    ['SCC_PUB_SUB_BATCH_DURATION', 'ten'],
    ['SCC_BROKER_RETRY_DELAY', '2000.5'],
    ['SOCKETCLUSTER_LOG_LEVEL', 'debug'],
    ['SOCKETCLUSTER_OPTIONS', '{"a":'],
    ['SOCKETCLUSTER_OPTIONS', '[]'],
    ['SOCKETCLUSTER_OPTIONS', '"a string"'],
  ])('refuses %s=%s with a one-line ConfigError naming it', (name, value) => {
    expectRejected(clusterWorker, name, value);
  });

  it('refuses a client pool size above the maximum', () => {
    // The maximum is ours (not the original's), but a pool of thousands of sockets per broker is a typo.
    expectRejected(clusterWorker, 'SCC_CLIENT_POOL_SIZE', '100000');
  });

  it('validates the cluster variables even in standalone mode', () => {
    const poolSize = expectRejected(worker, 'SCC_CLIENT_POOL_SIZE', 'abc');
    expect(poolSize.problems[0]).toContain('SCC_CLIENT_POOL_SIZE');
    expectRejected(worker, 'SCC_MAPPING_ENGINE', 'bogus');
    expectRejected(worker, 'SCC_PUB_SUB_BATCH_DURATION', '-1');
    expectRejected(worker, 'SCC_STATE_SERVER_PORT', 'abc');
  });

  it('lists every bad variable in one error', () => {
    const error = configError(worker, { SOCKETCLUSTER_PORT: '-1', SCC_CLIENT_POOL_SIZE: 'abc', SCC_MAPPING_ENGINE: 'magic' });
    expect(error.problems).toHaveLength(3);
    for (const [name, value] of [
      ['SOCKETCLUSTER_PORT', '-1'],
      ['SCC_CLIENT_POOL_SIZE', 'abc'],
      ['SCC_MAPPING_ENGINE', 'magic'],
    ] as const) {
      expect(error.problems.some((p) => p.includes(name) && p.includes(value)), name).toBe(true);
    }
  });

  it('returns a frozen object', () => {
    const standalone = worker({});
    expect(Object.isFrozen(standalone)).toBe(true);
    const clustered = clusterWorker({});
    expect(Object.isFrozen(clustered)).toBe(true);
    expect(() => {
      (clustered as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  // The module promises a frozen configuration: a shallow Object.freeze would leave `cluster` mutable.
  it('freezes the nested cluster settings too', () => {
    const clustered = clusterWorker({});
    expect(clustered.cluster).not.toBeNull();
    expect(Object.isFrozen(clustered.cluster)).toBe(true);
  });
});

describe('ConfigError', () => {
  it('is a ConfigError with a frozen problems list', () => {
    const error = configError(state, { SCC_STATE_SERVER_PORT: 'abc' });
    expect(Object.isFrozen(error.problems)).toBe(true);
    expect(error.stack).toBeTypeOf('string');
  });
});

describe('SCC_BIND_HOST', () => {
  it('defaults to every interface (null) and reads an address for each service', () => {
    for (const read of [state, broker, worker] as const) {
      expect((read({}) as { bindHost: string | null }).bindHost).toBeNull();
      expect((read({ SCC_BIND_HOST: '127.0.0.1' }) as { bindHost: string | null }).bindHost).toBe('127.0.0.1');
      expect((read({ SCC_BIND_HOST: '::1' }) as { bindHost: string | null }).bindHost).toBe('::1');
    }
  });

  it('refuses a value that is no address or host name, naming it', () => {
    for (const read of [state, broker, worker]) expectRejected(read, 'SCC_BIND_HOST', 'not a host!');
  });
});

describe('SCC_HEALTH_PORT', () => {
  const services = [
    [state, 'SCC_STATE_SERVER_PORT'],
    [broker, 'SCC_BROKER_SERVER_PORT'],
    [worker, 'SOCKETCLUSTER_PORT'],
  ] as const;

  it('defaults to none (health on the service port only) and reads a port, 0 included, for each service', () => {
    for (const [read] of services) {
      expect((read({}) as { healthPort: number | null }).healthPort).toBeNull();
      expect((read({ SCC_HEALTH_PORT: '8001' }) as { healthPort: number | null }).healthPort).toBe(8001);
      expect((read({ SCC_HEALTH_PORT: '0' }) as { healthPort: number | null }).healthPort).toBe(0);
    }
  });

  it('refuses a value that is no port, and the service port itself, naming both', () => {
    for (const [read, portVar] of services) {
      for (const bad of ['65536', '-1', 'eight', '80.5']) expectRejected(read, 'SCC_HEALTH_PORT', bad);
      expect(configError(read, { SCC_HEALTH_PORT: '9000', [portVar]: '9000' }).problems).toEqual([`SCC_HEALTH_PORT=9000: must differ from ${portVar}`]);
      // Both 0: two different free ports.
      expect((read({ SCC_HEALTH_PORT: '0', [portVar]: '0' }) as { port: number }).port).toBe(0);
    }
  });
});
