import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BROKER_MAX_OUTBOUND_BUFFER_BYTES,
  DEFAULT_BROKER_MAX_PAYLOAD_BYTES,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_STATE_MAX_PAYLOAD_BYTES,
  DEFAULT_WORKER_MAX_OUTBOUND_BUFFER_BYTES,
  DEFAULT_WORKER_MAX_PAYLOAD_BYTES,
  DEFAULT_WORKER_SOCKET_CHANNEL_LIMIT,
  readBrokerConfig,
  readStateConfig,
  readWorkerConfig,
} from '../src/config.js';
import { limitServerOptions } from '../src/limits.js';
import { isHostOrIp } from '../src/uri.js';

const broker = { SCC_STATE_SERVER_HOST: 'state' };

describe('limit variables', () => {
  it('have per-service defaults', () => {
    expect(readStateConfig({}, false).limits).toEqual({
      maxPayloadBytes: DEFAULT_STATE_MAX_PAYLOAD_BYTES,
      handshakeTimeoutMs: DEFAULT_HANDSHAKE_TIMEOUT_MS,
      socketChannelLimit: null,
      maxConnections: DEFAULT_MAX_CONNECTIONS,
      maxOutboundBufferBytes: 16 * 1024 * 1024,
    });
    expect(readBrokerConfig(broker, false).limits).toMatchObject({
      maxPayloadBytes: DEFAULT_BROKER_MAX_PAYLOAD_BYTES,
      socketChannelLimit: null,
      maxOutboundBufferBytes: DEFAULT_BROKER_MAX_OUTBOUND_BUFFER_BYTES,
    });
    expect(readWorkerConfig({}, false).limits).toMatchObject({
      maxPayloadBytes: DEFAULT_WORKER_MAX_PAYLOAD_BYTES,
      socketChannelLimit: DEFAULT_WORKER_SOCKET_CHANNEL_LIMIT,
      maxOutboundBufferBytes: DEFAULT_WORKER_MAX_OUTBOUND_BUFFER_BYTES,
    });
  });

  it('are read from the environment', () => {
    const env = { SCC_MAX_PAYLOAD: '4096', SCC_HANDSHAKE_TIMEOUT: '250', SCC_SOCKET_CHANNEL_LIMIT: '7', SCC_MAX_CONNECTIONS: '9', SCC_MAX_OUTBOUND_BUFFER: '2048' };
    expect(readWorkerConfig(env, false).limits).toEqual({ maxPayloadBytes: 4096, handshakeTimeoutMs: 250, socketChannelLimit: 7, maxConnections: 9, maxOutboundBufferBytes: 2048 });
    // A broker socket carries every channel of its worker: no per-socket channel limit, whatever the env says.
    expect(readBrokerConfig({ ...broker, ...env }, false).limits.socketChannelLimit).toBeNull();
  });

  it('refuse bad values, naming every one', () => {
    expect(() => readWorkerConfig({ SCC_MAX_PAYLOAD: '1e3', SCC_HANDSHAKE_TIMEOUT: '0', SCC_SOCKET_CHANNEL_LIMIT: '-1', SCC_MAX_CONNECTIONS: 'many', SCC_MAX_OUTBOUND_BUFFER: '10' }, false)).toThrow(
      /SCC_MAX_PAYLOAD="1e3".*SCC_HANDSHAKE_TIMEOUT="0".*SCC_SOCKET_CHANNEL_LIMIT="-1".*SCC_MAX_CONNECTIONS="many".*SCC_MAX_OUTBOUND_BUFFER="10"/,
    );
    expect(() => readStateConfig({ SCC_MAX_PAYLOAD: String(2 * 1024 ** 3) }, false)).toThrow(/SCC_MAX_PAYLOAD/);
  });

  it('map onto socketcluster-server options', () => {
    expect(limitServerOptions(readWorkerConfig({}, false).limits)).toEqual({ maxPayload: 1024 * 1024, handshakeTimeout: 10_000, socketChannelLimit: 1000 });
    expect(limitServerOptions(readBrokerConfig(broker, false).limits).socketChannelLimit).toBeNull();
  });
});

describe('isHostOrIp', () => {
  it('refuses all-numeric names that are not IPv4 addresses', () => {
    for (const bogus of ['999.1.1.1', '10.0.0.256', '1.2.3', '1234', '1.2.3.4.5']) expect(isHostOrIp(bogus), bogus).toBe(false);
    for (const good of ['10.0.0.1', 'fd00::1', 'scc-state', 'broker-1.example.com', '1a.example', '2.example', 'x1.b2']) expect(isHostOrIp(good), good).toBe(true);
  });
});
