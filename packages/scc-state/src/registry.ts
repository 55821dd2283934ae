/**
 * Cluster membership, keyed by socket id as the original keys it: a peer is a member from its
 * join until its leave or its socket's close. Lists keep join order and drop duplicate URIs.
 */
import { InstanceType, type InstanceTypeName } from '@scc-ts/shared';

/** One joined broker or worker. */
export interface Member {
  socketId: string;
  instanceType: InstanceTypeName;
  instanceId: string | null;
  /** `ws://IP:PORT` (or `wss://`) by which other instances reach it. */
  uri: string;
  joinedAt: number;
}

/** Result of a join: whether it changed the published list. */
export interface JoinResult {
  member: Member;
  /** False for a repeated join that changed nothing (idempotent re-join on the same socket). */
  changed: boolean;
}

/** The state server's view of the cluster. */
export class Registry {
  private readonly brokers = new Map<string, Member>();
  private readonly workers = new Map<string, Member>();

  private table(type: InstanceTypeName): Map<string, Member> {
    return type === InstanceType.Broker ? this.brokers : this.workers;
  }

  /** Adds or updates the member on `member.socketId`; a re-join keeps its place in the order. */
  join(member: Member): JoinResult {
    const table = this.table(member.instanceType);
    const previous = table.get(member.socketId);
    if (previous && previous.uri === member.uri && previous.instanceId === member.instanceId) {
      return { member: previous, changed: false };
    }
    // Map.set on an existing key keeps its insertion position, like the original's object keys.
    const stored = previous ? { ...member, joinedAt: previous.joinedAt } : member;
    table.set(member.socketId, stored);
    return { member: stored, changed: previous?.uri !== member.uri };
  }

  /** Removes the socket's membership of the given type; returns the member removed, if any. */
  leave(type: InstanceTypeName, socketId: string): Member | undefined {
    const table = this.table(type);
    const member = table.get(socketId);
    table.delete(socketId);
    return member;
  }

  /** URIs of the given type's members in join order, de-duplicated. */
  urisOf(type: InstanceTypeName): string[] {
    return uniqueURIs(this.table(type));
  }

  /** Broker URIs in join order, de-duplicated. */
  brokerURIs(): string[] {
    return uniqueURIs(this.brokers);
  }

  /** Worker URIs in join order, de-duplicated. */
  workerURIs(): string[] {
    return uniqueURIs(this.workers);
  }

  /** Joined workers (each receives the pushes). */
  workerMembers(): Member[] {
    return [...this.workers.values()];
  }

  /** Joined brokers. */
  brokerMembers(): Member[] {
    return [...this.brokers.values()];
  }

  /** The member of the given type joined on `socketId`, if any. */
  memberOf(type: InstanceTypeName, socketId: string): Member | undefined {
    return this.table(type).get(socketId);
  }
}

function uniqueURIs(table: Map<string, Member>): string[] {
  return [...new Set([...table.values()].map((m) => m.uri))];
}
