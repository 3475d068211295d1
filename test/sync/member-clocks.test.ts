// The member table's stable clock (sync/member-clocks.ts): peers met but not heard yet hold
// collection back, so a node never collects under its own clock alone while a peer it is connected
// to may lack its writes (that peer was then behind its GC horizon).
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { MemberClocks } from '../../src/sync/member-clocks.js';

const R = 'aa'.repeat(16);
const own = Clock.fromIntervals([[R, 1, 10]]);
const GRACE = 1000;

describe('MemberClocks.stability', () => {
  it('alone (no member, none met): the own clock is stable', () => {
    const st = new MemberClocks().stability(own, 0, GRACE);
    expect(st.stable.coversClock(own)).toBe(true);
    expect(st.heldBackBy).toBeNull();
  });

  it('a peer met but not heard yet holds everything back, and is named', () => {
    const st = new MemberClocks().stability(own, 100, GRACE, [{ peer: 'P', since: 50 }]);
    expect(st.stable.isEmpty()).toBe(true);
    expect(st.heldBackBy).toEqual({ peer: 'P', lacking: 10, since: 50 });
    expect(st.members).toBe(1);
  });

  it('once heard, the peer counts by its clock, once', () => {
    const m = new MemberClocks();
    m.heard('P', 'bb'.repeat(16), Clock.fromIntervals([[R, 1, 7]]), 100);
    const st = m.stability(own, 200, GRACE, [{ peer: 'P', since: 50 }]);
    expect(st.members).toBe(1);
    expect(st.stable.base(R)).toBe(7);
    expect(st.heldBackBy).toEqual({ peer: 'P', lacking: 3, since: 100 });
  });

  it('a peer met longer than the grace period ago and never heard holds nothing back', () => {
    const st = new MemberClocks().stability(own, 5000, GRACE, [{ peer: 'P', since: 50 }]);
    expect(st.stable.coversClock(own)).toBe(true);
    expect(st.members).toBe(0);
  });
});
