/**
 * Cluster membership, keyed by socket id as the original keys it: a peer is a member from its
 * join until its leave or its socket's close. Lists keep join order and drop duplicate URIs.
 *
 * A new leader of replicated state servers starts from the last membership record: its members are
 * remembered (listed, with no socket) until they re-join or the re-join timeout forgets them, so
 * the lists it hands out are never partial while peers reconnect.
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
  /** URIs of the last record not re-joined yet, per type, in the record's order. */
  private readonly remembered: Record<InstanceTypeName, Set<string>> = { [InstanceType.Broker]: new Set(), [InstanceType.Worker]: new Set() };
  private changes = 0;

  /** Grows with every change of the lists (a replica's record says which version it stored). */
  get version(): number {
    return this.changes;
  }

  private table(type: InstanceTypeName): Map<string, Member> {
    return type === InstanceType.Broker ? this.brokers : this.workers;
  }

  /** Lists `uris` (of the last record) until each re-joins or `forgetRemembered()` drops it. */
  remember(type: InstanceTypeName, uris: readonly string[]): void {
    for (const uri of uris) this.remembered[type].add(uri);
    this.changes += 1;
  }

  /** Remembered URIs not re-joined yet, per type. */
  rejoining(type: InstanceTypeName): string[] {
    return [...this.remembered[type]];
  }

  /** Drops every remembered URI that has not re-joined; returns them. */
  forgetRemembered(type: InstanceTypeName): string[] {
    const gone = [...this.remembered[type]];
    this.remembered[type].clear();
    if (gone.length > 0) this.changes += 1;
    return gone;
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
    this.changes += 1;
    // A remembered member re-joining changes no list: it was listed all along.
    const wasRemembered = this.remembered[member.instanceType].delete(member.uri);
    return { member: stored, changed: previous?.uri !== member.uri && !wasRemembered };
  }

  /** Removes the socket's membership of the given type; returns the member removed, if any. */
  leave(type: InstanceTypeName, socketId: string): Member | undefined {
    const table = this.table(type);
    const member = table.get(socketId);
    if (table.delete(socketId)) this.changes += 1;
    return member;
  }

  /** URIs of the given type's members in join order (remembered ones first), de-duplicated. */
  urisOf(type: InstanceTypeName): string[] {
    return [...new Set([...this.remembered[type], ...uniqueURIs(this.table(type))])];
  }

  /** Broker URIs in join order, de-duplicated. */
  brokerURIs(): string[] {
    return this.urisOf(InstanceType.Broker);
  }

  /** Worker URIs in join order, de-duplicated. */
  workerURIs(): string[] {
    return this.urisOf(InstanceType.Worker);
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
