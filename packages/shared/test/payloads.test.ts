import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../src/errors.js';
import {
  MAX_INSTANCE_ID_LENGTH,
  MAX_INSTANCE_IP_LENGTH,
  MAX_URI_LENGTH,
  MAX_URI_LIST_LENGTH,
  parseBrokerJoin,
  parseBrokerListPush,
  parsePublishPacket,
  parseWorkerJoin,
  parseWorkerJoinReply,
  parseWorkerListPush,
} from '../src/payloads.js';

/** Asserts that `fn` throws an InvalidPayloadError whose message matches `pattern`. */
function expectRefused(fn: () => unknown, pattern?: RegExp): InvalidPayloadError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected an InvalidPayloadError').toBeInstanceOf(InvalidPayloadError);
  const error = thrown as InvalidPayloadError;
  expect(error.name).toBe('InvalidPayloadError');
  expect(error).toBeInstanceOf(Error);
  if (pattern) expect(error.message).toMatch(pattern);
  return error;
}

const NOT_OBJECTS: unknown[] = ['x', 42, true, [], ['instanceId']];

describe('parseBrokerJoin', () => {
  it('accepts the payload the original scc-broker sends', () => {
    const sent = { instanceId: '9b1f8a2e-6f2c-4c39-9e3c-1d2f3a4b5c6d', instanceIp: null, instanceIpFamily: 'IPv4', instanceSecure: false };
    expect(parseBrokerJoin(sent)).toEqual({
      instanceId: '9b1f8a2e-6f2c-4c39-9e3c-1d2f3a4b5c6d',
      instanceIp: null,
      instanceIpFamily: 'IPv4',
      instanceSecure: false,
    });
  });

  it('accepts an explicit IPv4, IPv6 or host name and a secure flag', () => {
    expect(parseBrokerJoin({ instanceId: 'b1', instanceIp: '10.0.0.5', instanceIpFamily: 'IPv4', instanceSecure: true })).toEqual({
      instanceId: 'b1',
      instanceIp: '10.0.0.5',
      instanceIpFamily: 'IPv4',
      instanceSecure: true,
    });
    expect(parseBrokerJoin({ instanceIp: 'fd00::5', instanceIpFamily: 'IPv6' })).toMatchObject({ instanceIp: 'fd00::5', instanceIpFamily: 'IPv6' });
    expect(parseBrokerJoin({ instanceIp: 'fd00::5' })).toMatchObject({ instanceIp: 'fd00::5', instanceIpFamily: null });
    expect(parseBrokerJoin({ instanceIp: 'scc-broker-0.scc-broker.default.svc.cluster.local', instanceIpFamily: 'IPv4' })).toMatchObject({
      instanceIp: 'scc-broker-0.scc-broker.default.svc.cluster.local',
    });
  });

  it('treats a missing payload as {}', () => {
    const empty = { instanceId: null, instanceIp: null, instanceIpFamily: null, instanceSecure: false };
    expect(parseBrokerJoin(undefined)).toEqual(empty);
    expect(parseBrokerJoin(null)).toEqual(empty);
    expect(parseBrokerJoin({})).toEqual(empty);
  });

  it('treats an empty instanceIp as absent', () => {
    expect(parseBrokerJoin({ instanceIp: '' }).instanceIp).toBeNull();
  });

  it('accepts an instanceId of the maximum length and refuses a longer one', () => {
    expect(parseBrokerJoin({ instanceId: 'a'.repeat(MAX_INSTANCE_ID_LENGTH) }).instanceId).toHaveLength(MAX_INSTANCE_ID_LENGTH);
    expectRefused(() => parseBrokerJoin({ instanceId: 'a'.repeat(MAX_INSTANCE_ID_LENGTH + 1) }), /instanceId/);
  });

  it.each(NOT_OBJECTS.map((v) => [JSON.stringify(v), v]))('refuses a payload that is not an object: %s', (_label, value) => {
    expectRefused(() => parseBrokerJoin(value));
  });

  it('refuses fields of the wrong type', () => {
    expectRefused(() => parseBrokerJoin({ instanceId: 42 }), /instanceId/);
    expectRefused(() => parseBrokerJoin({ instanceId: { id: 'x' } }), /instanceId/);
    expectRefused(() => parseBrokerJoin({ instanceIp: 167772161 }), /instanceIp/);
    expectRefused(() => parseBrokerJoin({ instanceSecure: 'true' }), /instanceSecure/);
    expectRefused(() => parseBrokerJoin({ instanceSecure: 1 }), /instanceSecure/);
  });

  it.each(['not a host!', 'http://10.0.0.1', '10.0.0.1:8888', '[fd00::1]', '-bad.example', 'a..b', 'host_name', 'a/b'])(
    'refuses the bogus instanceIp %s',
    (ip) => {
      expectRefused(() => parseBrokerJoin({ instanceIp: ip, instanceIpFamily: 'IPv4' }), /instanceIp/);
    },
  );

  it('refuses an overlong instanceIp', () => {
    const label = 'a'.repeat(60);
    const long = [label, label, label, label, label].join('.'); // 304 characters, valid labels
    expect(long.length).toBeGreaterThan(MAX_INSTANCE_IP_LENGTH);
    expectRefused(() => parseBrokerJoin({ instanceIp: long }), /instanceIp/);
  });

  it.each(['IPv5', 'ipv4', 'v4', 4, true])('refuses the family %s', (family) => {
    expectRefused(() => parseBrokerJoin({ instanceIp: '10.0.0.1', instanceIpFamily: family }), /instanceIpFamily/);
  });

  it('refuses an IPv6 address announced with family IPv4', () => {
    expectRefused(() => parseBrokerJoin({ instanceIp: 'fd00::1', instanceIpFamily: 'IPv4' }), /instanceIp/);
    expectRefused(() => parseWorkerJoin({ instanceIp: '::1', instanceIpFamily: 'IPv4' }), /instanceIp/);
  });

  it('returns a copy holding only the known fields and leaves the input alone', () => {
    const input = Object.freeze({ instanceId: 'b1', instanceIp: '10.0.0.5', instanceIpFamily: 'IPv4', instanceSecure: true, extra: { deep: 1 } });
    const result = parseBrokerJoin(input);
    expect(result).not.toBe(input);
    expect(result).not.toHaveProperty('extra');
    expect(Object.keys(result).sort()).toEqual(['instanceId', 'instanceIp', 'instanceIpFamily', 'instanceSecure']);
    result.instanceId = 'changed';
    expect(input.instanceId).toBe('b1');
  });
});

describe('parseWorkerJoin', () => {
  it('accepts the payloads the original worker sends (instanceId and instanceIp may be missing)', () => {
    expect(parseWorkerJoin({ instanceIpFamily: 'IPv4' })).toEqual({ instanceId: null, instanceIp: null, instanceIpFamily: 'IPv4' });
    expect(parseWorkerJoin({ instanceId: 'w1', instanceIpFamily: 'IPv4' })).toEqual({ instanceId: 'w1', instanceIp: null, instanceIpFamily: 'IPv4' });
    expect(parseWorkerJoin({ instanceId: 'w1', instanceIp: '192.168.1.20', instanceIpFamily: 'IPv4' })).toEqual({
      instanceId: 'w1',
      instanceIp: '192.168.1.20',
      instanceIpFamily: 'IPv4',
    });
  });

  it('treats a missing payload as {}', () => {
    const empty = { instanceId: null, instanceIp: null, instanceIpFamily: null };
    expect(parseWorkerJoin(undefined)).toEqual(empty);
    expect(parseWorkerJoin(null)).toEqual(empty);
  });

  it.each(NOT_OBJECTS.map((v) => [JSON.stringify(v), v]))('refuses a payload that is not an object: %s', (_label, value) => {
    expectRefused(() => parseWorkerJoin(value));
  });

  it('refuses wrong types, overlong strings, bogus addresses and families', () => {
    expectRefused(() => parseWorkerJoin({ instanceId: 7 }), /instanceId/);
    expectRefused(() => parseWorkerJoin({ instanceId: 'x'.repeat(MAX_INSTANCE_ID_LENGTH + 1) }), /instanceId/);
    expectRefused(() => parseWorkerJoin({ instanceIp: ['10.0.0.1'] }), /instanceIp/);
    expectRefused(() => parseWorkerJoin({ instanceIp: 'x'.repeat(MAX_INSTANCE_IP_LENGTH + 1) }), /instanceIp/);
    expectRefused(() => parseWorkerJoin({ instanceIp: '999.1.1.1 ; rm' }), /instanceIp/);
    expectRefused(() => parseWorkerJoin({ instanceIpFamily: 'IPX' }), /instanceIpFamily/);
  });

  it('returns a copy without unknown fields', () => {
    const input = { instanceId: 'w1', instanceIpFamily: 'IPv4', instanceSecure: true, other: 1 };
    const result = parseWorkerJoin(input);
    expect(result).not.toBe(input);
    expect(Object.keys(result).sort()).toEqual(['instanceId', 'instanceIp', 'instanceIpFamily']);
    expect(input).toEqual({ instanceId: 'w1', instanceIpFamily: 'IPv4', instanceSecure: true, other: 1 });
  });
});

const BROKERS = ['ws://10.0.0.1:8888', 'wss://[fd00::1]:8888', 'ws://scc-broker-1:8888'];

describe.each([
  ['parseBrokerListPush', parseBrokerListPush, 'sccBrokerURIs'],
  ['parseWorkerListPush', parseWorkerListPush, 'sccWorkerURIs'],
] as const)('%s', (_name, parse, key) => {
  it('accepts a push as the state server sends it', () => {
    expect(parse({ [key]: BROKERS, time: 1_700_000_000_123, sccSourceWorkerURI: 'ws://10.0.0.9:8000' })).toEqual({
      [key]: BROKERS,
      time: 1_700_000_000_123,
      sccSourceWorkerURI: 'ws://10.0.0.9:8000',
    });
    expect(parse({ [key]: [], time: 0 })).toEqual({ [key]: [], time: 0 });
  });

  it('leaves out a missing sccSourceWorkerURI', () => {
    const result = parse({ [key]: BROKERS, time: 5, sccSourceWorkerURI: null });
    expect(result).not.toHaveProperty('sccSourceWorkerURI');
  });

  it('returns a copy of the list and ignores unknown fields', () => {
    const list = [...BROKERS];
    const input = { [key]: list, time: 5, future: 'field' };
    const result = parse(input) as unknown as Record<string, unknown>;
    expect(result).not.toHaveProperty('future');
    const copy = result[key] as string[];
    expect(copy).toEqual(BROKERS);
    expect(copy).not.toBe(list);
    copy.push('ws://10.0.0.99:8888');
    expect(list).toEqual(BROKERS);
  });

  it('refuses a missing payload or one that is not an object', () => {
    for (const value of [undefined, null, 'x', 1, []]) expectRefused(() => parse(value));
  });

  it.each([
    ['missing', undefined],
    ['a string', 'ws://10.0.0.1:8888'],
    ['an object', { 0: 'ws://10.0.0.1:8888' }],
    ['null', null],
  ])('refuses a list that is %s', (_label, value) => {
    expectRefused(() => parse({ [key]: value, time: 1 }), new RegExp(key));
  });

  it.each([
    ['http://10.0.0.1:8888'],
    ['10.0.0.1:8888'],
    [''],
    ['javascript:alert(1)'],
    [42],
    [null],
  ])('refuses the entry %j', (entry) => {
    expectRefused(() => parse({ [key]: ['ws://10.0.0.1:8888', entry], time: 1 }), new RegExp(key));
  });

  it('refuses an overlong URI', () => {
    const long = `ws://${'a'.repeat(MAX_URI_LENGTH)}:8888`;
    expectRefused(() => parse({ [key]: [long], time: 1 }), new RegExp(key));
  });

  it('accepts the maximum number of URIs and refuses one more', () => {
    const many = Array.from({ length: MAX_URI_LIST_LENGTH }, (_, i) => `ws://10.${(i >> 8) & 255}.${i & 255}.1:8888`);
    expect((parse({ [key]: many, time: 1 }) as unknown as Record<string, string[]>)[key]).toHaveLength(MAX_URI_LIST_LENGTH);
    expectRefused(() => parse({ [key]: [...many, 'ws://10.255.255.255:8888'], time: 1 }), new RegExp(key));
  });

  it.each([
    ['missing', undefined],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['a string', '1700000000000'],
    ['null', null],
  ])('refuses a time that is %s', (_label, time) => {
    expectRefused(() => parse({ [key]: BROKERS, time }), /time/);
  });

  it('refuses a sccSourceWorkerURI that is not a string', () => {
    expectRefused(() => parse({ [key]: BROKERS, time: 1, sccSourceWorkerURI: 5 }), /sccSourceWorkerURI/);
  });
});

describe('parseWorkerJoinReply', () => {
  const reply = {
    sccWorkerURIs: ['ws://10.0.0.9:8000'],
    sccBrokerURIs: ['ws://10.0.0.1:8888'],
    time: 1_700_000_000_000,
    sccSourceWorkerURI: 'ws://10.0.0.9:8000',
  };

  it('accepts the original state server reply', () => {
    expect(parseWorkerJoinReply(reply)).toEqual(reply);
    const { sccSourceWorkerURI: _unused, ...withoutSource } = reply;
    expect(parseWorkerJoinReply(withoutSource)).toEqual(withoutSource);
  });

  it('returns copies of the lists', () => {
    const result = parseWorkerJoinReply(reply);
    expect(result.sccBrokerURIs).not.toBe(reply.sccBrokerURIs);
    expect(result.sccWorkerURIs).not.toBe(reply.sccWorkerURIs);
  });

  it('refuses a missing reply and a reply missing a list or the time', () => {
    expectRefused(() => parseWorkerJoinReply(undefined));
    expectRefused(() => parseWorkerJoinReply(null));
    expectRefused(() => parseWorkerJoinReply('ok'));
    expectRefused(() => parseWorkerJoinReply({ ...reply, sccBrokerURIs: undefined }), /sccBrokerURIs/);
    expectRefused(() => parseWorkerJoinReply({ ...reply, sccWorkerURIs: 'ws://x:1' }), /sccWorkerURIs/);
    expectRefused(() => parseWorkerJoinReply({ ...reply, time: Number.NaN }), /time/);
    expectRefused(() => parseWorkerJoinReply({ ...reply, sccBrokerURIs: ['tcp://10.0.0.1:8888'] }), /sccBrokerURIs/);
  });
});

describe('parsePublishPacket', () => {
  it('accepts an empty packet with a null sender', () => {
    expect(parsePublishPacket({ sender: null, messages: [] })).toEqual({ sender: null, messages: [] });
  });

  it('accepts a packet with messages of any type and extra fields', () => {
    const packet = { sender: 'worker-1', messages: [1, 'two', { three: 3 }, null], hop: 2 };
    const result = parsePublishPacket(packet);
    expect(result.sender).toBe('worker-1');
    expect(result.messages).toEqual([1, 'two', { three: 3 }, null]);
  });

  it('accepts a packet without a sender', () => {
    expect(parsePublishPacket({ messages: ['m'] }).messages).toEqual(['m']);
  });

  it.each([null, undefined, 'packet', 42, true, [{ sender: 'a', messages: [] }]])('refuses the non-object %j', (value) => {
    expectRefused(() => parsePublishPacket(value), /publish packet/);
  });

  it('refuses missing or non-array messages', () => {
    expectRefused(() => parsePublishPacket({ sender: 'a' }), /messages/);
    expectRefused(() => parsePublishPacket({ sender: 'a', messages: 'hello' }), /messages/);
    expectRefused(() => parsePublishPacket({ sender: 'a', messages: { 0: 'hello' } }), /messages/);
  });

  it('refuses a sender that is not a string', () => {
    expectRefused(() => parsePublishPacket({ sender: 5, messages: [] }), /sender/);
    expectRefused(() => parsePublishPacket({ sender: { id: 'a' }, messages: [] }), /sender/);
    expectRefused(() => parsePublishPacket({ sender: true, messages: [] }), /sender/);
  });
});
