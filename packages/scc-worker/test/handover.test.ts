import { describe, expect, it } from 'vitest';
import { COORDINATED_STANDIN_WAIT_MS, COORDINATED_TIMEOUT_MS, Handover, type BrokerList } from '../src/cluster/handover.js';
import { FakeClock } from './fake-clock.js';

const DELAY_MS = 1000;
const GRACE_MS = 3000;

/**
 * A list whose owners a test can read off: channel `x@B` belongs to broker `B` when the list has
 * it, anything else to the list's first broker in name order.
 */
class TestList implements BrokerList {
  readonly uris: ReadonlySet<string>;
  constructor(readonly name: string, uris: readonly string[]) {
    this.uris = new Set(uris);
  }
  ownerOf(channel: string): string | null {
    const named = channel.split('@')[1];
    if (named !== undefined && this.uris.has(named)) return named;
    return [...this.uris].sort()[0] ?? null;
  }
}

function make(options: { copyable?: boolean; delayMs?: number } = {}) {
  const clock = new FakeClock();
  const switches: string[] = [];
  let releases = 0;
  const handover = new Handover<TestList>({
    clock,
    delayMs: options.delayMs ?? DELAY_MS,
    graceMs: GRACE_MS,
    makeList: options.copyable === false ? null : (uris) => new TestList(`fallback:${uris.join(',')}`, uris),
    onSwitch: (active) => switches.push(active.name),
    onRelease: () => {
      releases += 1;
    },
  });
  const names = () => ({ active: handover.active?.name ?? null, pending: handover.pending?.name ?? null, draining: handover.draining?.name ?? null });
  return { clock, handover, switches, releases: () => releases, names };
}

describe('Handover, timed (original state server)', () => {
  it('switches the first list at once, then hands over: subscribe both, publish new after the delay, release old after the grace', () => {
    const { clock, handover, switches, releases, names } = make();
    expect(handover.begin(new TestList('L1', ['A']))).toBe(0);
    expect(names()).toEqual({ active: 'L1', pending: null, draining: null });
    expect(switches).toEqual(['L1']);

    expect(handover.begin(new TestList('L2', ['A', 'B']))).toBe(DELAY_MS);
    expect(names()).toEqual({ active: 'L1', pending: 'L2', draining: null });
    // Subscribed under both lists, published to the old owner; a copy to the new one.
    expect(handover.targets('c@B')).toEqual(new Set(['A', 'B']));
    expect(handover.publishTarget('c@B', false)).toEqual({ uri: 'A', wait: false, copyTo: 'B' });
    expect(handover.publishTarget('c@A', false)).toEqual({ uri: 'A', wait: false, copyTo: null });
    expect(handover.newest?.name).toBe('L2');

    clock.advance(DELAY_MS - 1);
    expect(names().active).toBe('L1');
    clock.advance(1);
    expect(names()).toEqual({ active: 'L2', pending: null, draining: 'L1' });
    expect(switches).toEqual(['L1', 'L2']);
    expect(handover.publishTarget('c@B', false)).toEqual({ uri: 'B', wait: false, copyTo: null });
    expect(handover.targets('c@B')).toEqual(new Set(['A', 'B']));
    expect(releases()).toBe(0);

    clock.advance(GRACE_MS - 1);
    expect(names().draining).toBe('L1');
    clock.advance(1);
    expect(names()).toEqual({ active: 'L2', pending: null, draining: null });
    expect(releases()).toBe(1);
    expect(handover.targets('c@B')).toEqual(new Set(['B']));
    expect(clock.timerCount).toBe(0);
    handover.close();
  });

  it('switches in one step when lists cannot be copied (custom mapper) or the delay is 0', () => {
    for (const options of [{ copyable: false }, { delayMs: 0 }]) {
      const { handover, names, switches } = make(options);
      handover.begin(new TestList('L1', ['A']));
      expect(handover.begin(new TestList('L2', ['B']))).toBe(0);
      expect(names()).toEqual({ active: 'L2', pending: null, draining: 'L1' });
      expect(switches).toEqual(['L1', 'L2']);
      handover.close();
    }
  });

  it('ignores switch and release signals: no coordinated round is in progress', () => {
    const { handover, names } = make();
    handover.begin(new TestList('L1', ['A']));
    handover.begin(new TestList('L2', ['B']));
    expect(handover.round).toBeNull();
    expect(handover.signal('switch', 0)).toBe(false);
    expect(names()).toEqual({ active: 'L1', pending: 'L2', draining: null });
    handover.close();
  });
});

describe('Handover, coordinated (our state server)', () => {
  it('switches on the switch signal and releases on the release signal, not on the timers', () => {
    const { clock, handover, switches, releases, names } = make();
    handover.begin(new TestList('L1', ['A']));
    // The first switch's release, with nothing draining.
    clock.advance(GRACE_MS);
    expect(releases()).toBe(1);
    expect(handover.begin(new TestList('L2', ['B']), { time: 5 })).toBe(COORDINATED_TIMEOUT_MS);
    expect(handover.round).toEqual({ time: 5 });
    clock.advance(DELAY_MS * 10);
    expect(names()).toEqual({ active: 'L1', pending: 'L2', draining: null });

    expect(handover.signal('switch', 5)).toBe(true);
    expect(names()).toEqual({ active: 'L2', pending: null, draining: 'L1' });
    expect(switches).toEqual(['L1', 'L2']);
    // The round stays current until the release: the 'switched' phase is reported for it.
    expect(handover.round).toEqual({ time: 5 });
    clock.advance(GRACE_MS * 10);
    expect(names().draining).toBe('L1');
    expect(releases()).toBe(1);

    expect(handover.signal('release', 5)).toBe(true);
    expect(names()).toEqual({ active: 'L2', pending: null, draining: null });
    expect(releases()).toBe(2);
    expect(handover.round).toBeNull();
    expect(clock.timerCount).toBe(0);
    handover.close();
  });

  it('goes ahead alone after the coordinated timeout when the state server stays silent', () => {
    const { clock, handover, releases, names } = make();
    handover.begin(new TestList('L1', ['A']));
    clock.advance(GRACE_MS);
    expect(releases()).toBe(1);
    handover.begin(new TestList('L2', ['B']), { time: 5 });
    clock.advance(COORDINATED_TIMEOUT_MS - 1);
    expect(names().active).toBe('L1');
    clock.advance(1);
    expect(names()).toEqual({ active: 'L2', pending: null, draining: 'L1' });
    clock.advance(COORDINATED_TIMEOUT_MS - 1);
    expect(releases()).toBe(1);
    clock.advance(1);
    expect(names().draining).toBeNull();
    expect(releases()).toBe(2);
    handover.close();
  });

  it('ignores stale signals: another round, or one superseded by a newer list', () => {
    const { handover, releases, names } = make();
    handover.begin(new TestList('L1', ['A']));
    handover.begin(new TestList('L2', ['B']), { time: 5 });
    expect(handover.signal('switch', 4)).toBe(false);
    expect(handover.signal('release', 6)).toBe(false);
    expect(names()).toEqual({ active: 'L1', pending: 'L2', draining: null });

    handover.begin(new TestList('L3', ['C']), { time: 6 });
    expect(handover.signal('switch', 5)).toBe(false);
    expect(handover.signal('release', 5)).toBe(false);
    expect(names()).toEqual({ active: 'L1', pending: 'L3', draining: null });
    expect(releases()).toBe(0);

    expect(handover.signal('switch', 6)).toBe(true);
    expect(names()).toEqual({ active: 'L3', pending: null, draining: 'L1' });
    handover.close();
  });
});

describe('Handover, a new list superseding one in progress', () => {
  it('replaces a pending list and restarts the delay', () => {
    const { clock, handover, switches, names } = make();
    handover.begin(new TestList('L1', ['A']));
    handover.begin(new TestList('L2', ['B']));
    clock.advance(DELAY_MS / 2);
    expect(handover.begin(new TestList('L3', ['C']))).toBe(DELAY_MS);
    expect(names()).toEqual({ active: 'L1', pending: 'L3', draining: null });
    // L2 is no longer a target of anything.
    expect(handover.targets('c@B')).toEqual(new Set(['A', 'C']));
    clock.advance(DELAY_MS / 2);
    expect(names().active).toBe('L1');
    clock.advance(DELAY_MS / 2);
    expect(names()).toEqual({ active: 'L3', pending: null, draining: 'L1' });
    expect(switches).toEqual(['L1', 'L3']);
    handover.close();
  });

  it('drops a list still draining when the next switch comes', () => {
    const { clock, handover, names, releases } = make();
    handover.begin(new TestList('L1', ['A']));
    handover.begin(new TestList('L2', ['B']));
    clock.advance(DELAY_MS);
    expect(names()).toEqual({ active: 'L2', pending: null, draining: 'L1' });
    handover.begin(new TestList('L3', ['C']));
    expect(names()).toEqual({ active: 'L2', pending: 'L3', draining: 'L1' });
    expect(handover.inUse()).toEqual(new Set(['A', 'B', 'C']));
    clock.advance(DELAY_MS);
    expect(names()).toEqual({ active: 'L3', pending: null, draining: 'L2' });
    expect(handover.inUse()).toEqual(new Set(['B', 'C']));
    expect(releases()).toBe(0);
    clock.advance(GRACE_MS);
    expect(names().draining).toBeNull();
    expect(releases()).toBe(1);
    handover.close();
  });
});

describe('Handover, a broker down and up again', () => {
  it('with our state server, a strict publish to a down broker waits for its list without it, not just a delay', () => {
    const { clock, handover } = make();
    handover.coordinatedServer = true;
    handover.begin(new TestList('L1', ['A', 'B']));
    handover.brokerDown('A');
    // Other workers may still reach A (a partition): its stand-in is not safe after the delay.
    clock.advance(DELAY_MS);
    expect(handover.publishTarget('c@A', true)).toEqual({ uri: 'B', wait: true, copyTo: null });
    expect(handover.publishTarget('c@A', false)).toEqual({ uri: 'B', wait: false, copyTo: null });
    // The state server's list without A, switched to (coordinated): no wait.
    handover.begin(new TestList('L2', ['B']), { time: 2 });
    expect(handover.signal('switch', 2)).toBe(true);
    expect(handover.publishTarget('c@A', true)).toEqual({ uri: 'B', wait: false, copyTo: null });
    handover.close();
  });

  it('with our state server gone quiet, a strict publish uses the stand-in after COORDINATED_STANDIN_WAIT_MS', () => {
    const { clock, handover } = make();
    handover.coordinatedServer = true;
    handover.begin(new TestList('L1', ['A', 'B']));
    handover.brokerDown('A');
    clock.advance(COORDINATED_STANDIN_WAIT_MS - 1);
    expect(handover.publishTarget('c@A', true).wait).toBe(true);
    clock.advance(1);
    expect(handover.publishTarget('c@A', true)).toEqual({ uri: 'B', wait: false, copyTo: null });
    handover.close();
  });

  it('routes around a down broker at once, strict only after a delay, and uses it again a delay after it is back', () => {
    const { clock, handover, releases } = make();
    handover.begin(new TestList('L1', ['A', 'B']));
    expect(handover.publishTarget('c@A', true)).toEqual({ uri: 'A', wait: false, copyTo: null });

    expect(handover.brokerDown('A')).toBe(true);
    expect(handover.brokerDown('A')).toBe(false);
    // The stand-in: the owner under the list without A.
    expect(handover.publishTarget('c@A', false)).toEqual({ uri: 'B', wait: false, copyTo: null });
    expect(handover.publishTarget('c@A', true)).toEqual({ uri: 'B', wait: true, copyTo: null });
    expect(handover.publishTarget('c@B', true)).toEqual({ uri: 'B', wait: false, copyTo: null });
    expect(handover.targets('c@A')).toEqual(new Set(['A', 'B']));
    clock.advance(DELAY_MS);
    expect(handover.publishTarget('c@A', true)).toEqual({ uri: 'B', wait: false, copyTo: null });

    handover.brokerUp('A');
    clock.advance(DELAY_MS - 1);
    expect(handover.publishTarget('c@A', false).uri).toBe('B');
    clock.advance(1);
    expect(handover.publishTarget('c@A', false)).toEqual({ uri: 'A', wait: false, copyTo: null });
    expect(handover.targets('c@A')).toEqual(new Set(['A']));
    // The stand-in's subscriptions go a grace period later.
    expect(releases()).toBe(0);
    clock.advance(GRACE_MS);
    expect(releases()).toBe(1);
    handover.close();
  });

  it('prefers the pending list\'s owner as the stand-in, and a broker that drops again before the delay stays down', () => {
    const { clock, handover } = make();
    handover.begin(new TestList('L1', ['A', 'B']));
    handover.begin(new TestList('L2', ['C', 'D']));
    handover.brokerDown('A');
    expect(handover.publishTarget('c@A', false)).toEqual({ uri: 'C', wait: false, copyTo: null });
    handover.brokerUp('A');
    clock.advance(DELAY_MS / 2);
    handover.brokerDown('A');
    clock.advance(DELAY_MS);
    expect(handover.publishTarget('c@A', false)).toEqual({ uri: 'C', wait: false, copyTo: null });
    handover.close();
  });

  it('has no stand-in when lists cannot be copied', () => {
    const { handover } = make({ copyable: false });
    handover.begin(new TestList('L1', ['A', 'B']));
    handover.brokerDown('A');
    expect(handover.publishTarget('c@A', true)).toEqual({ uri: 'A', wait: false, copyTo: null });
    handover.close();
  });
});

describe('Handover.close', () => {
  it('stops every timer, changes nothing afterwards, and is safe to call twice', () => {
    const { clock, handover, switches, releases, names } = make();
    handover.begin(new TestList('L1', ['A', 'B']));
    handover.begin(new TestList('L2', ['B']), { time: 1 });
    handover.brokerDown('A');
    handover.brokerUp('A');
    // The first switch's release, the coordinated switch, and A's way back.
    expect(clock.timerCount).toBe(3);
    handover.close();
    handover.close();
    expect(clock.timerCount).toBe(0);
    clock.advance(COORDINATED_TIMEOUT_MS * 3);
    expect(handover.signal('switch', 1)).toBe(false);
    expect(handover.begin(new TestList('L3', ['C']))).toBe(0);
    expect(handover.brokerDown('B')).toBe(false);
    expect(names()).toEqual({ active: 'L1', pending: 'L2', draining: null });
    expect(switches).toEqual(['L1']);
    expect(releases()).toBe(0);
    expect(clock.timerCount).toBe(0);
  });
});
