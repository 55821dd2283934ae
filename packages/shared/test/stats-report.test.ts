/** The `sccStats` guard: what a broker or worker may report to the state server's dashboard. */
import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../src/errors.js';
import { MAX_STATS_LINKS, parseStatsReport, type StatsReport } from '../src/payloads.js';
import { processFigures } from '../src/process-figures.js';

const GOOD: StatsReport = {
  uptimeMs: 5000,
  cpuMicros: 120_000,
  rssBytes: 50_000_000,
  connections: 3,
  channels: 2,
  messagesIn: 10,
  messagesOut: 7,
};

function refusal(data: unknown): InvalidPayloadError {
  try {
    parseStatsReport(data);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as Error).name).toBe('InvalidPayloadError');
    return error as InvalidPayloadError;
  }
  throw new Error(`accepted ${JSON.stringify(data)}`);
}

describe('parseStatsReport', () => {
  it('returns a fresh copy of the known fields, links included, and drops unknown ones', () => {
    const link = { broker: 'ws://127.0.0.1:8888', up: true, lastHeardAgoMs: 12, channels: 4, extra: 1 };
    const input = { ...GOOD, links: [link, { broker: 'wss://b:1', up: false, lastHeardAgoMs: null, channels: 0 }], future: 'x' };
    const parsed = parseStatsReport(input);
    expect(parsed).toEqual({ ...GOOD, links: [{ broker: 'ws://127.0.0.1:8888', up: true, lastHeardAgoMs: 12, channels: 4 }, { broker: 'wss://b:1', up: false, lastHeardAgoMs: null, channels: 0 }] });
    expect(parsed).not.toBe(input);
    expect(parseStatsReport(GOOD)).toEqual(GOOD);
  });

  it('refuses a missing report, a non-object, and every figure that is not a non-negative integer, naming the field', () => {
    expect(refusal(undefined).message).toMatch(/sccStats: missing/);
    expect(refusal('figures').message).toMatch(/expected an object/);
    for (const key of Object.keys(GOOD)) {
      for (const bad of [-1, 1.5, '3', null, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
        expect(refusal({ ...GOOD, [key]: bad }).message, `${key}=${String(bad)}`).toContain(`sccStats.${key}`);
      }
    }
  });

  it('refuses malformed links and more than MAX_STATS_LINKS of them', () => {
    const link = { broker: 'ws://127.0.0.1:8888', up: true, lastHeardAgoMs: 0, channels: 0 };
    expect(refusal({ ...GOOD, links: 'x' }).message).toMatch(/links: expected an array/);
    expect(refusal({ ...GOOD, links: [{ ...link, broker: 'http://x' }] }).message).toMatch(/links\[0\]\.broker/);
    expect(refusal({ ...GOOD, links: [link, { ...link, up: 'yes' }] }).message).toMatch(/links\[1\]\.up/);
    expect(refusal({ ...GOOD, links: [{ ...link, lastHeardAgoMs: -5 }] }).message).toMatch(/lastHeardAgoMs/);
    expect(refusal({ ...GOOD, links: Array.from({ length: MAX_STATS_LINKS + 1 }, () => link) }).message).toMatch(new RegExp(`more than ${MAX_STATS_LINKS}`));
    expect(parseStatsReport({ ...GOOD, links: Array.from({ length: MAX_STATS_LINKS }, () => link) }).links).toHaveLength(MAX_STATS_LINKS);
  });

  it("accepts this process's own figures", () => {
    const report = { ...processFigures(), connections: 0, channels: 0, messagesIn: 0, messagesOut: 0 };
    expect(parseStatsReport(report)).toEqual(report);
    expect(report.rssBytes).toBeGreaterThan(0);
  });
});
