import { describe, expect, it } from 'vitest';
import { MembershipRecordError, parseMembershipRecord } from '../src/leadership/store.js';

const good = { version: 1, term: 7, brokers: ['ws://10.0.0.1:8888'], workers: ['ws://10.0.0.2:8000'], withdrawn: [], lastTime: 1700000000000, handover: { time: 1700000000000, phase: 'subscribed', brokers: ['ws://10.0.0.1:8888'] }, savedAt: 5 };

describe('parseMembershipRecord', () => {
  it('reads a record a leader saved', () => {
    expect(parseMembershipRecord(JSON.stringify(good))).toEqual(good);
    expect(parseMembershipRecord(JSON.stringify({ ...good, handover: null })).handover).toBeNull();
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['not an object', '42', /not an object/],
    ['another version', JSON.stringify({ ...good, version: 2 }), /version 2 is not 1/],
    ['brokers not strings', JSON.stringify({ ...good, brokers: [1] }), /brokers must be a list of strings/],
    ['a negative term', JSON.stringify({ ...good, term: -1 }), /term must be a whole number/],
    ['a huge lastTime', JSON.stringify({ ...good, lastTime: 1e300 }), /lastTime must be a whole number/],
    ['an unknown phase', JSON.stringify({ ...good, handover: { ...good.handover, phase: 'released' } }), /handover.phase/],
    ['a prototype key', '{"__proto__": {"x": 1}, "version": 1}', /term must be/],
  ])('refuses %s with a MembershipRecordError', (_what, text, message) => {
    let caught: unknown;
    try {
      parseMembershipRecord(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MembershipRecordError);
    expect((caught as Error).name).toBe('MembershipRecordError');
    expect((caught as Error).message).toMatch(message);
  });
});
