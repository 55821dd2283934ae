import { describe, expect, it } from 'vitest';
import { formatInstanceUri, hostPort, parseInstanceUri, type InstanceAddress } from '../src/uri.js';

const address = (over: Partial<InstanceAddress>): InstanceAddress => ({
  explicitIp: null,
  explicitFamily: null,
  observedIp: '192.0.2.50',
  port: 8000,
  secure: false,
  ...over,
});

describe('formatInstanceUri', () => {
  it('writes an explicit IP with family IPv4 bare', () => {
    expect(formatInstanceUri(address({ explicitIp: '10.0.0.5', explicitFamily: 'IPv4', port: 8888 }))).toBe('ws://10.0.0.5:8888');
  });

  it('writes an explicit host name with family IPv4 bare', () => {
    expect(formatInstanceUri(address({ explicitIp: 'broker-0.scc', explicitFamily: 'IPv4', port: 8888 }))).toBe('ws://broker-0.scc:8888');
  });

  it('brackets an explicit IP with family IPv6, as the original does', () => {
    expect(formatInstanceUri(address({ explicitIp: 'fd00::5', explicitFamily: 'IPv6', port: 8888 }))).toBe('ws://[fd00::5]:8888');
  });

  it('brackets an explicit IP without a family, as the original does (even an IPv4 one)', () => {
    expect(formatInstanceUri(address({ explicitIp: '10.0.0.5', explicitFamily: null, port: 8888 }))).toBe('ws://[10.0.0.5]:8888');
    expect(formatInstanceUri(address({ explicitIp: 'fd00::5', explicitFamily: null, port: 8888 }))).toBe('ws://[fd00::5]:8888');
  });

  it('prefers the explicit IP over the observed one', () => {
    expect(formatInstanceUri(address({ explicitIp: '10.0.0.5', explicitFamily: 'IPv4', observedIp: '172.16.0.1' }))).toBe('ws://10.0.0.5:8000');
  });

  it('writes an observed IPv4 address bare', () => {
    expect(formatInstanceUri(address({ observedIp: '127.0.0.1', port: 8001 }))).toBe('ws://127.0.0.1:8001');
  });

  it('brackets an observed IPv6 or IPv4-mapped address', () => {
    expect(formatInstanceUri(address({ observedIp: '::1', port: 8001 }))).toBe('ws://[::1]:8001');
    expect(formatInstanceUri(address({ observedIp: 'fe80::1:2', port: 8001 }))).toBe('ws://[fe80::1:2]:8001');
    expect(formatInstanceUri(address({ observedIp: '::ffff:127.0.0.1', port: 8001 }))).toBe('ws://[::ffff:127.0.0.1]:8001');
  });

  it('uses wss for a secure instance', () => {
    expect(formatInstanceUri(address({ explicitIp: '10.0.0.5', explicitFamily: 'IPv4', port: 443, secure: true }))).toBe('wss://10.0.0.5:443');
    expect(formatInstanceUri(address({ observedIp: '::1', port: 8443, secure: true }))).toBe('wss://[::1]:8443');
  });
});

describe('parseInstanceUri', () => {
  it('reads host, numeric port and scheme of a ws URI', () => {
    const target = parseInstanceUri('ws://10.0.0.5:8888');
    expect(target).toEqual({ hostname: '10.0.0.5', port: 8888, secure: false });
    expect(typeof target.port).toBe('number');
  });

  it('reads a wss URI with a host name', () => {
    expect(parseInstanceUri('wss://broker-0.scc:9443')).toEqual({ hostname: 'broker-0.scc', port: 9443, secure: true });
  });

  it('keeps the brackets of an IPv6 host (socketcluster-client needs them)', () => {
    expect(parseInstanceUri('ws://[fd00::5]:8888')).toEqual({ hostname: '[fd00::5]', port: 8888, secure: false });
    expect(parseInstanceUri('wss://[::1]:8443')).toEqual({ hostname: '[::1]', port: 8443, secure: true });
    const mapped = parseInstanceUri('ws://[::ffff:127.0.0.1]:8001');
    expect(mapped.hostname.startsWith('[')).toBe(true);
    expect(mapped.hostname.endsWith(']')).toBe(true);
    expect(mapped.port).toBe(8001);
  });

  it('uses the scheme default port when none is given', () => {
    expect(parseInstanceUri('ws://10.0.0.5').port).toBe(80);
    expect(parseInstanceUri('wss://10.0.0.5').port).toBe(443);
    expect(parseInstanceUri('ws://10.0.0.5:80').port).toBe(80);
  });

  it('round-trips what formatInstanceUri writes', () => {
    const uri = formatInstanceUri(address({ observedIp: 'fd00::7', port: 8123, secure: true }));
    expect(parseInstanceUri(uri)).toEqual({ hostname: '[fd00::7]', port: 8123, secure: true });
  });

  it('throws a TypeError for a URI that is not ws or wss, or not a URI', () => {
    expect(() => parseInstanceUri('http://10.0.0.5:8888')).toThrow(TypeError);
    expect(() => parseInstanceUri('10.0.0.5:8888')).toThrow(TypeError);
    expect(() => parseInstanceUri('not a uri')).toThrow(TypeError);
  });
});

describe('hostPort', () => {
  it('brackets an IPv6 address and leaves names and IPv4 addresses bare', () => {
    expect(hostPort('fd00::7', 7777)).toBe('[fd00::7]:7777');
    expect(hostPort('::1', '443')).toBe('[::1]:443');
    expect(hostPort('10.0.0.1', 7777)).toBe('10.0.0.1:7777');
    expect(hostPort('scc-state.default.svc', 7777)).toBe('scc-state.default.svc:7777');
  });
});
