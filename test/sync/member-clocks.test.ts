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

  it('a peer met longer than the grace period ago and never heard holds nothing back, unless it is connected now', () => {
    const st = new MemberClocks().stability(own, 5000, GRACE, [{ peer: 'P', since: 50 }]);
    expect(st.stable.coversClock(own)).toBe(true);
    expect(st.members).toBe(0);
    expect(new MemberClocks().stability(own, 5000, GRACE, [{ peer: 'P', since: 50, connected: true }]).stable.isEmpty()).toBe(true);
  });
});

describe('MemberClocks bound', () => {
  it('a flood of PeerIds evicts no member whose replica wrote here, and never makes collection run early', async () => {
    const { MAX_MEMBERS } = await import('../../src/sync/member-clocks.js');
    const m = new MemberClocks();
    const writer = 'cc'.repeat(16);
    const wrote = (r: string) => r === writer;
    m.heard('honest', writer, Clock.fromIntervals([[R, 1, 3]]), 0, wrote);
    for (let i = 0; i < MAX_MEMBERS + 50; i++) m.heard(`minted-${i}`, `${i.toString(16).padStart(32, '0')}`, own, 10 + i, wrote);
    expect(m.heardAt('honest')).toBe(0);
    const st = m.stability(own, 2000, 10_000);
    expect(st.stable.base(R)).toBe(3); // still held back by the honest member's clock
    // full of writers' members: a newcomer is not kept, and as a peer met it holds collection back
    const full = new MemberClocks();
    for (let i = 0; i < MAX_MEMBERS; i++) full.heard(`w-${i}`, writer, own, i, () => true);
    expect(full.heard('late', 'dd'.repeat(16), own, 5000, () => true)).toBe(false);
    expect(full.stability(own, 5000, 10_000, [{ peer: 'late', since: 4000 }]).stable.isEmpty()).toBe(true);
  });
});
