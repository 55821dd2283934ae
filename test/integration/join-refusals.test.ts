/**
 * Join payloads against the real state server over raw WebSockets: wrong types, overlong strings,
 * bogus IPs and families, conflicting repeat joins from one socket. Each is refused with a named
 * error and the membership (as a fresh worker's join reply shows it) is unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSocket, scUrl } from '../../harness/raw.js';
import { startState, stopAll, type ServiceProcess } from '../helpers/processes.js';
import { LogEvent } from '@scc-ts/shared';

let state: ServiceProcess;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  state = await startState();
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await stopAll();
});

async function peer(instanceType: 'scc-broker' | 'scc-worker', instancePort: number): Promise<RawSocket> {
  const socket = new RawSocket(scUrl(state.port, { instanceType, instancePort: String(instancePort), version: '9.3.0' }));
  sockets.push(socket);
  expect(await socket.handshake()).toEqual({ kind: 'replied' });
  return socket;
}

interface View {
  sccWorkerURIs: string[];
  sccBrokerURIs: string[];
}

/** The cluster as a new worker sees it (its own URI removed); the observer leaves again. */
async function view(): Promise<View> {
  const observer = await peer('scc-worker', 1);
  const cid = observer.invoke('sccWorkerJoinCluster', { instanceId: `observer-${Date.now()}`, instanceIp: '192.0.2.1', instanceIpFamily: 'IPv4' });
  expect(await observer.outcome(cid, 5000)).toEqual({ kind: 'replied' });
  const reply = observer.replies.get(cid)!.data as View;
  observer.close();
  await observer.closedWithin(5000);
  return { sccWorkerURIs: reply.sccWorkerURIs.filter((u) => u !== 'ws://192.0.2.1:1'), sccBrokerURIs: reply.sccBrokerURIs };
}

async function joinOutcome(socket: RawSocket, procedure: string, data: unknown): Promise<{ kind: string; name?: string }> {
  return socket.outcome(socket.invoke(procedure, data), 5000);
}

describe('join payload refusals', () => {
  it('refuses wrong types, overlong strings, bogus IPs and families with InvalidPayloadError, changing nothing', async () => {
    const before = await view();
    const worker = await peer('scc-worker', 8000);
    const broker = await peer('scc-broker', 8888);
    const valid = { instanceId: 'x', instanceIp: '10.0.0.1', instanceIpFamily: 'IPv4' };
    const bad: [string, unknown][] = [
      ['payload is a string', 'join me'],
      ['payload is an array', [valid]],
      ['payload is a number', 42],
      ['instanceId is a number', { ...valid, instanceId: 7 }],
      ['instanceId is an object', { ...valid, instanceId: { id: 'x' } }],
      ['instanceId is overlong', { ...valid, instanceId: 'i'.repeat(257) }],
      ['instanceIp is a number', { ...valid, instanceIp: 10 }],
      ['instanceIp is overlong', { ...valid, instanceIp: `${'a'.repeat(250)}.com` }],
      ['instanceIp is not an address', { ...valid, instanceIp: 'not an ip' }],
      ['instanceIp is a bogus dotted quad', { ...valid, instanceIp: '999.1.1.1' }],
      ['instanceIp has a port', { ...valid, instanceIp: '10.0.0.1:80' }],
      ['instanceIp is a URL', { ...valid, instanceIp: 'ws://10.0.0.1' }],
      ['instanceIpFamily is unknown', { ...valid, instanceIpFamily: 'IPv5' }],
      ['instanceIpFamily is a number', { ...valid, instanceIpFamily: 4 }],
      ['IPv6 address announced as IPv4', { ...valid, instanceIp: 'fd00::1', instanceIpFamily: 'IPv4' }],
    ];
    for (const [what, data] of bad) {
      expect(await joinOutcome(worker, 'sccWorkerJoinCluster', data), what).toEqual({ kind: 'error', name: 'InvalidPayloadError' });
      expect(await joinOutcome(broker, 'sccBrokerJoinCluster', data), what).toEqual({ kind: 'error', name: 'InvalidPayloadError' });
    }
    expect(await joinOutcome(broker, 'sccBrokerJoinCluster', { ...valid, instanceSecure: 'yes' })).toEqual({ kind: 'error', name: 'InvalidPayloadError' });
    // The wrong procedure for the socket's instanceType.
    expect(await joinOutcome(worker, 'sccBrokerJoinCluster', valid)).toEqual({ kind: 'error', name: 'InstanceTypeMismatchError' });
    expect(await joinOutcome(broker, 'sccWorkerJoinCluster', valid)).toEqual({ kind: 'error', name: 'InstanceTypeMismatchError' });
    // Pub/sub is not the state server's business.
    expect(await joinOutcome(worker, '#subscribe', { channel: 'x' })).toEqual({ kind: 'error', name: 'UnsupportedActionError' });
    expect(await joinOutcome(worker, '#publish', { channel: 'x', data: 1 })).toEqual({ kind: 'error', name: 'UnsupportedActionError' });
    // Every refusal left the sockets open and the membership as it was.
    expect(worker.open && broker.open).toBe(true);
    expect(await view()).toEqual(before);
    expect(state.alive).toBe(true);
  });

  it('accepts an identical repeat join as a no-op and refuses a different identity on the same socket with AlreadyJoinedError', async () => {
    const worker = await peer('scc-worker', 8100);
    const broker = await peer('scc-broker', 8900);
    const workerJoin = { instanceId: 'w-1', instanceIp: '10.0.0.5', instanceIpFamily: 'IPv4' };
    const brokerJoin = { instanceId: 'b-1', instanceIp: '10.0.0.6', instanceIpFamily: 'IPv4', instanceSecure: false };
    expect(await joinOutcome(worker, 'sccWorkerJoinCluster', workerJoin)).toEqual({ kind: 'replied' });
    expect(await joinOutcome(broker, 'sccBrokerJoinCluster', brokerJoin)).toEqual({ kind: 'replied' });
    const joined = await view();
    expect(joined.sccWorkerURIs).toContain('ws://10.0.0.5:8100');
    expect(joined.sccBrokerURIs).toContain('ws://10.0.0.6:8900');

    // A peer retries its join after an ack timeout on the same socket: that must keep working.
    expect(await joinOutcome(worker, 'sccWorkerJoinCluster', workerJoin)).toEqual({ kind: 'replied' });
    expect(await joinOutcome(broker, 'sccBrokerJoinCluster', brokerJoin)).toEqual({ kind: 'replied' });
    for (const data of [{ ...workerJoin, instanceId: 'w-2' }, { ...workerJoin, instanceIp: '10.0.0.9' }, {}]) {
      expect(await joinOutcome(worker, 'sccWorkerJoinCluster', data)).toEqual({ kind: 'error', name: 'AlreadyJoinedError' });
    }
    for (const data of [{ ...brokerJoin, instanceId: 'b-2' }, { ...brokerJoin, instanceSecure: true }]) {
      expect(await joinOutcome(broker, 'sccBrokerJoinCluster', data)).toEqual({ kind: 'error', name: 'AlreadyJoinedError' });
    }
    expect(await view()).toEqual(joined);
    expect(state.logs.filter((l) => /ws:\/\/10\.0\.0\.5:8100 joined/.test(l.msg))).toHaveLength(1);

    // Closing the socket removes exactly its member.
    worker.close();
    broker.close();
    await Promise.all([worker.closedWithin(5000), broker.closedWithin(5000)]);
    await state.waitForEvent(LogEvent.MemberLeft, { instanceType: 'scc-broker', uri: 'ws://10.0.0.6:8900' }, 5000);
    const after = await view();
    expect(after.sccWorkerURIs).not.toContain('ws://10.0.0.5:8100');
    expect(after.sccBrokerURIs).not.toContain('ws://10.0.0.6:8900');
  });

  it('accepts missing optional fields as the originals send them (the observed address is used)', async () => {
    const worker = await peer('scc-worker', 8200);
    expect(await joinOutcome(worker, 'sccWorkerJoinCluster', {})).toEqual({ kind: 'replied' });
    expect((await view()).sccWorkerURIs.some((u) => u.endsWith(':8200'))).toBe(true);
  });
});
