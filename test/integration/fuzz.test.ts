/**
 * The small version of `pnpm fuzz`: hostile input of every kind to the real state server, broker and
 * worker (non-JSON text, binary frames, wrong-shape JSON, unknown events, huge and deeply nested
 * frames, frames before the handshake, handshakes never finished, bad join requests, bad upgrades),
 * and hundreds of connections opened and dropped, while a well-behaved client publishes and two
 * subscribers count. Every input gets a protocol close code, a named error or is dropped; nothing
 * crashes or logs an unhandled error; no well-behaved message is lost or duplicated.
 */
import { describe, expect, it } from 'vitest';
import { runFuzzCampaign } from '../../harness/fuzz-campaign.js';

/** What each kind of input may end in; anything else (timeout, a failed connection) fails the test. */
const ALLOWED: Record<string, RegExp> = {
  nonJsonText: /^ignored$/,
  binaryFrame: /^ignored$/,
  // A wrong-shape '#handshake' on an open socket is refused with 4008 by socketcluster-server.
  wrongShapeJson: /^(ignored|closed:4008)$/,
  unknownEvent: /^(ignored|closed:4008)$/,
  deepJson: /^ignored$/,
  badRequest: /^(replied|ignored|error:[A-Za-z]+Error)$/,
  hugeFrame: /^closed:1009$/,
  // 4009: a frame before the handshake; 4008: a malformed '#handshake'; 4005 if the handshake timeout came first.
  beforeHandshake: /^closed:(4009|4008|4005)$/,
  badHandshake: /^(replied|closed:4008|error:[A-Za-z]+Error)$/,
  neverHandshake: /^closed:4005$/,
  connectDrop: /^ignored$/,
  badUpgrade: /^(http:400|http:401|error:(CompatibilityError|InvalidHandshakeError))$/,
};

describe('fuzz (CI size)', () => {
  it('every service survives hostile input with named refusals, and well-behaved pub/sub loses nothing', { timeout: 120_000 }, async () => {
    const result = await runFuzzCampaign({ count: 360, seed: Number(process.env['FUZZ_SEED'] ?? 7), lanes: 8, timeLimitMs: 60_000, burst: 400 });
    expect(result.crashes.map((c) => [c.service, c.alive, c.unhandled])).toEqual([
      ['state', true, []],
      ['broker', true, []],
      ['workerA', true, []],
      ['workerB', true, []],
    ]);
    for (const r of result.results) {
      expect(r.sent, r.target).toBe(360);
      expect(r.unanswered, r.target).toBe(0);
      for (const [kind, outcomes] of Object.entries(r.outcomes)) {
        for (const label of Object.keys(outcomes)) expect(label, `${r.target} ${kind}`).toMatch(ALLOWED[kind]!);
      }
      // The refusals that must have happened, by their protocol codes and names.
      expect(r.totals['closed:1009'], r.target).toBeGreaterThan(0);
      expect(r.totals['closed:4005'], r.target).toBeGreaterThan(0);
      expect(r.totals['closed:4009'], r.target).toBeGreaterThan(0);
    }
    const state = result.results.find((r) => r.target === 'state')!;
    expect(state.outcomes['badRequest']?.['error:InvalidPayloadError']).toBeGreaterThan(0);
    expect(state.outcomes['badUpgrade']?.['http:401']).toBeGreaterThan(0);
    for (const b of result.bursts) {
      expect(b.attempted, b.target).toBe(400);
      expect(b.outcomes, b.target).toEqual({ opened: 400 });
    }
    const p = result.pubsub;
    expect(p.published).toBeGreaterThan(50);
    expect(p.publishFailures).toBe(0);
    expect(p.missing).toEqual({ A: 0, B: 0 });
    expect(p.duplicates).toEqual({ A: 0, B: 0 });
  });
});
