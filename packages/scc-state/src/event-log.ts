/**
 * The state server's recent membership events for the dashboard: joins, leaves, list broadcasts,
 * handover outcomes (and, from the partition work, withdrawals). Bounded: the newest
 * MAX_RECENT_EVENTS are kept, older ones are in the logs.
 */

/** How many recent events the dashboard shows. */
export const MAX_RECENT_EVENTS = 50;

export type MembershipEventKind = 'joined' | 'left' | 'list' | 'handover' | 'withdrawn' | 'restored';

export interface MembershipEvent {
  /** ms since the epoch. */
  at: number;
  kind: MembershipEventKind;
  /** One line for a person. */
  text: string;
  /** The member concerned, where there is one. */
  uri?: string;
}

export class EventLog {
  private readonly events: MembershipEvent[] = [];

  constructor(private readonly limit = MAX_RECENT_EVENTS) {}

  record(kind: MembershipEventKind, text: string, uri?: string, at = Date.now()): void {
    this.events.push({ at, kind, text, ...(uri !== undefined && { uri }) });
    if (this.events.length > this.limit) this.events.splice(0, this.events.length - this.limit);
  }

  /** Newest first. */
  recent(): MembershipEvent[] {
    return [...this.events].reverse();
  }
}
