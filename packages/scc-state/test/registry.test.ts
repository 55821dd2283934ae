import { describe, expect, it } from 'vitest';
import { Registry, type Member } from '../src/registry.js';
import { InstanceType } from '@scc-ts/shared';

let clock = 1_000;
function broker(socketId: string, uri: string, instanceId: string | null = `id-${socketId}`): Member {
  return { socketId, instanceType: 'scc-broker', instanceId, uri, joinedAt: clock++ };
}
function worker(socketId: string, uri: string, instanceId: string | null = `id-${socketId}`): Member {
  return { socketId, instanceType: 'scc-worker', instanceId, uri, joinedAt: clock++ };
}

describe('Registry', () => {
  it('lists remembered members (a new leader\'s record) until they re-join, which changes no list', () => {
    const registry = new Registry();
    registry.remember(InstanceType.Broker, ['ws://10.0.0.1:8888', 'ws://10.0.0.2:8888']);
    expect(registry.brokerURIs()).toEqual(['ws://10.0.0.1:8888', 'ws://10.0.0.2:8888']);
    expect(registry.brokerMembers()).toEqual([]);
    expect(registry.join(broker('s1', 'ws://10.0.0.1:8888')).changed, 'a remembered broker re-joining').toBe(false);
    expect(registry.join(broker('s3', 'ws://10.0.0.3:8888')).changed, 'a new broker').toBe(true);
    expect(registry.rejoining(InstanceType.Broker)).toEqual(['ws://10.0.0.2:8888']);
    expect(registry.forgetRemembered(InstanceType.Broker)).toEqual(['ws://10.0.0.2:8888']);
    expect(registry.brokerURIs()).toEqual(['ws://10.0.0.1:8888', 'ws://10.0.0.3:8888']);
  });

  it('counts every change of the lists in its version, and nothing for an identical re-join', () => {
    const registry = new Registry();
    const versions = [registry.version];
    registry.remember(InstanceType.Worker, ['ws://10.0.1.1:8000']);
    versions.push(registry.version);
    registry.join(broker('s1', 'ws://10.0.0.1:8888'));
    versions.push(registry.version);
    registry.join(broker('s1', 'ws://10.0.0.1:8888', 'id-s1'));
    expect(registry.version, 'an identical re-join').toBe(versions.at(-1));
    registry.leave(InstanceType.Broker, 's1');
    versions.push(registry.version);
    registry.leave(InstanceType.Broker, 's1');
    expect(registry.version, 'leaving twice').toBe(versions.at(-1));
    registry.forgetRemembered(InstanceType.Worker);
    versions.push(registry.version);
    expect(new Set(versions).size, 'each change a new version').toBe(versions.length);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
  });

  it('starts empty', () => {
    const registry = new Registry();
    expect(registry.brokerURIs()).toEqual([]);
    expect(registry.workerURIs()).toEqual([]);
    expect(registry.workerMembers()).toEqual([]);
    expect(registry.brokerMembers()).toEqual([]);
  });

  it('keeps join order for brokers and workers separately', () => {
    const registry = new Registry();
    expect(registry.join(broker('s3', 'ws://10.0.0.3:8888')).changed).toBe(true);
    expect(registry.join(worker('s9', 'ws://10.0.1.9:8000')).changed).toBe(true);
    expect(registry.join(broker('s1', 'ws://10.0.0.1:8888')).changed).toBe(true);
    expect(registry.join(broker('s2', 'ws://10.0.0.2:8888')).changed).toBe(true);
    expect(registry.join(worker('s4', 'ws://10.0.1.4:8000')).changed).toBe(true);
    expect(registry.brokerURIs()).toEqual(['ws://10.0.0.3:8888', 'ws://10.0.0.1:8888', 'ws://10.0.0.2:8888']);
    expect(registry.workerURIs()).toEqual(['ws://10.0.1.9:8000', 'ws://10.0.1.4:8000']);
    expect(registry.workerMembers().map((m) => m.socketId)).toEqual(['s9', 's4']);
    expect(registry.brokerMembers().map((m) => m.socketId)).toEqual(['s3', 's1', 's2']);
  });

  it('de-duplicates URIs in the lists, keeping the first position', () => {
    const registry = new Registry();
    registry.join(broker('a', 'ws://10.0.0.1:8888'));
    registry.join(broker('b', 'ws://10.0.0.2:8888'));
    registry.join(broker('c', 'ws://10.0.0.1:8888'));
    expect(registry.brokerURIs()).toEqual(['ws://10.0.0.1:8888', 'ws://10.0.0.2:8888']);
    expect(registry.brokerMembers()).toHaveLength(3);
  });

  it('keeps a shared URI listed while another socket still holds it', () => {
    const registry = new Registry();
    registry.join(worker('a', 'ws://10.0.1.1:8000'));
    registry.join(worker('b', 'ws://10.0.1.2:8000'));
    registry.join(worker('c', 'ws://10.0.1.1:8000'));
    expect(registry.leave('scc-worker', 'a')?.socketId).toBe('a');
    expect(registry.workerURIs()).toEqual(['ws://10.0.1.2:8000', 'ws://10.0.1.1:8000']);
    registry.leave('scc-worker', 'c');
    expect(registry.workerURIs()).toEqual(['ws://10.0.1.2:8000']);
  });

  it('treats a repeated join on the same socket as a no-op that keeps its position', () => {
    const registry = new Registry();
    const first = broker('a', 'ws://10.0.0.1:8888');
    registry.join(first);
    registry.join(broker('b', 'ws://10.0.0.2:8888'));
    const again = registry.join(broker('a', 'ws://10.0.0.1:8888'));
    expect(again.changed).toBe(false);
    expect(again.member.joinedAt).toBe(first.joinedAt);
    expect(registry.brokerURIs()).toEqual(['ws://10.0.0.1:8888', 'ws://10.0.0.2:8888']);
    expect(registry.brokerMembers()).toHaveLength(2);
  });

  it('updates a re-join with a new URI in place (changed=true)', () => {
    const registry = new Registry();
    const first = broker('a', 'ws://10.0.0.1:8888');
    registry.join(first);
    registry.join(broker('b', 'ws://10.0.0.2:8888'));
    registry.join(broker('c', 'ws://10.0.0.3:8888'));
    const moved = registry.join(broker('a', 'ws://10.0.0.9:8888'));
    expect(moved.changed).toBe(true);
    expect(moved.member.uri).toBe('ws://10.0.0.9:8888');
    expect(moved.member.joinedAt).toBe(first.joinedAt);
    expect(registry.brokerURIs()).toEqual(['ws://10.0.0.9:8888', 'ws://10.0.0.2:8888', 'ws://10.0.0.3:8888']);
    expect(registry.brokerMembers()).toHaveLength(3);
  });

  it('records a new instanceId on re-join without changing the list', () => {
    const registry = new Registry();
    registry.join(worker('a', 'ws://10.0.1.1:8000', 'old'));
    const result = registry.join(worker('a', 'ws://10.0.1.1:8000', 'new'));
    expect(result.changed).toBe(false);
    expect(registry.memberOf(InstanceType.Worker, 'a')?.instanceId).toBe('new');
    expect(registry.workerURIs()).toEqual(['ws://10.0.1.1:8000']);
  });

  it('removes a member only from the type it joined as', () => {
    const registry = new Registry();
    const b = broker('sock', 'ws://10.0.0.1:8888');
    registry.join(b);
    expect(registry.leave('scc-worker', 'sock')).toBeUndefined();
    expect(registry.brokerURIs()).toEqual(['ws://10.0.0.1:8888']);
    expect(registry.leave('scc-broker', 'sock')).toEqual(b);
    expect(registry.brokerURIs()).toEqual([]);
    expect(registry.leave('scc-broker', 'sock')).toBeUndefined();
  });

  it('keeps a broker and a worker on the same socket id apart', () => {
    const registry = new Registry();
    registry.join(broker('same', 'ws://10.0.0.1:8888'));
    registry.join(worker('same', 'ws://10.0.1.1:8000'));
    expect(registry.brokerURIs()).toEqual(['ws://10.0.0.1:8888']);
    expect(registry.workerURIs()).toEqual(['ws://10.0.1.1:8000']);
    registry.leave('scc-worker', 'same');
    expect(registry.brokerURIs()).toEqual(['ws://10.0.0.1:8888']);
    expect(registry.workerURIs()).toEqual([]);
  });

  it('returns undefined for the leave of an unknown socket and changes nothing', () => {
    const registry = new Registry();
    registry.join(worker('a', 'ws://10.0.1.1:8000'));
    expect(registry.leave('scc-worker', 'nope')).toBeUndefined();
    expect(registry.leave('scc-broker', 'nope')).toBeUndefined();
    expect(registry.workerURIs()).toEqual(['ws://10.0.1.1:8000']);
  });

  it('puts a socket that left and joins again at the end', () => {
    const registry = new Registry();
    registry.join(broker('a', 'ws://10.0.0.1:8888'));
    registry.join(broker('b', 'ws://10.0.0.2:8888'));
    registry.leave('scc-broker', 'a');
    expect(registry.join(broker('a', 'ws://10.0.0.1:8888')).changed).toBe(true);
    expect(registry.brokerURIs()).toEqual(['ws://10.0.0.2:8888', 'ws://10.0.0.1:8888']);
  });

  it('finds a worker by socket id', () => {
    const registry = new Registry();
    registry.join(worker('w', 'ws://10.0.1.1:8000'));
    registry.join(broker('b', 'ws://10.0.0.1:8888'));
    expect(registry.memberOf(InstanceType.Worker, 'w')?.uri).toBe('ws://10.0.1.1:8000');
    expect(registry.memberOf(InstanceType.Worker, 'b')).toBeUndefined();
  });

  it('hands out lists the caller may change without touching the registry', () => {
    const registry = new Registry();
    registry.join(broker('a', 'ws://10.0.0.1:8888'));
    const list = registry.brokerURIs();
    list.push('ws://evil:1');
    expect(registry.brokerURIs()).toEqual(['ws://10.0.0.1:8888']);
  });
});
