import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { compareDigests, divergenceDecision, DivergenceTracker, healEveryMs, narrowHealClock, type Verdict } from '../../src/sync/divergence.js';
import { shownKeysTotal, MAX_SHOWN_KEYS } from '../../src/sync/bootstrap-check.js';
import { dotSet } from '../core/arbitraries.js';

const clockOf = (dots: [string, number][]): Clock => {
  const c = Clock.empty();
  for (const [r, n] of dots) c.add(r, n);
  return c;
};
const digest = fc.constantFrom('00', 'aa', 'ff');
const verdict = fc.constantFrom<Verdict>('agree', 'diverged', 'incomparable');
/** A run of observations: (peer, verdict, ms since the last), and heal ends in between. */
const events = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('note' as const), peer: fc.constantFrom('p', 'q', 'r'), verdict, dt: fc.integer({ min: 0, max: 20_000 }) }),
    fc.record({ kind: fc.constant('end' as const) }),
  ),
  { maxLength: 80 },
);

describe('comparing digests at equal clocks', () => {
  it('says diverged only at an equal clock with a different digest; agree only with the same digest', () => {
    fc.assert(
      fc.property(dotSet, dotSet, digest, digest, (a, b, da, db) => {
        const ours = { clock: clockOf(a), digest: da };
        const theirs = { clock: clockOf(b), digest: db };
        const v = compareDigests([ours], theirs);
        if (!ours.clock.equals(theirs.clock)) expect(v).toBe('incomparable');
        else expect(v).toBe(da === db ? 'agree' : 'diverged');
      }),
    );
  });

  it('uses whichever of our pairs around a VERIFY answer has the peer\'s clock', () => {
    const before = { clock: clockOf([['a'.repeat(32), 1]]), digest: '01' };
    const after = { clock: clockOf([['a'.repeat(32), 2]]), digest: '02' };
    expect(compareDigests([before, after], { clock: after.clock.clone(), digest: '02' })).toBe('agree');
    expect(compareDigests([before, after], { clock: before.clock.clone(), digest: '02' })).toBe('diverged');
    expect(compareDigests([before, after], { clock: Clock.empty(), digest: '00' })).toBe('incomparable');
  });
});

describe('digests at a cutoff, and a heal\'s narrowed request', () => {
  it('compares only pairs taken at the same cutoff: values expiring in between make them differ', () => {
    const clock = clockOf([['a'.repeat(32), 3]]);
    expect(compareDigests([{ clock, digest: '01', digestAt: 1000 }], { clock: clock.clone(), digest: '02', digestAt: 2000 })).toBe('incomparable');
    expect(compareDigests([{ clock, digest: '01', digestAt: 1000 }, { clock, digest: '02', digestAt: 2000 }], { clock: clock.clone(), digest: '02', digestAt: 2000 })).toBe('agree');
    expect(compareDigests([{ clock, digest: '01', digestAt: 2000 }], { clock: clock.clone(), digest: '02', digestAt: 2000 })).toBe('diverged');
  });

  it('asks for each replica\'s newest dots: the clock less the top k of every replica, nothing else', () => {
    fc.assert(
      fc.property(dotSet, fc.integer({ min: 0, max: 6 }), (dots, k) => {
        const clock = clockOf(dots);
        const narrow = narrowHealClock(clock, k);
        expect(clock.coversClock(narrow)).toBe(true);
        for (const r of clock.replicas()) {
          for (let c = 1; c <= clock.max(r); c++) expect(narrow.covers(r, c)).toBe(clock.covers(r, c) && c <= clock.max(r) - k);
        }
      }),
    );
  });
});

describe('the divergence tracker', () => {
  it('counts each divergence once, heals at most what it detected, and ignores incomparable pairs', () => {
    fc.assert(
      fc.property(events, (evs) => {
        const t = new DivergenceTracker(10_000);
        let now = 0;
        const divergent = new Set<string>();
        for (const e of evs) {
          if (e.kind === 'end') {
            t.healEnded();
            continue;
          }
          now += e.dt;
          const before = t.stats();
          const n = t.note(e.peer, e.verdict, now);
          const after = t.stats();
          if (e.verdict === 'incomparable') expect(after).toEqual(before);
          expect(n.detected).toBe(e.verdict === 'diverged' && !divergent.has(e.peer));
          expect(n.healed).toBe(e.verdict === 'agree' && divergent.has(e.peer));
          if (e.verdict === 'diverged') divergent.add(e.peer);
          if (e.verdict === 'agree') divergent.delete(e.peer);
          if (n.heal) t.healStarted(e.peer, now);
          expect(after.healed).toBeLessThanOrEqual(after.detected);
          expect(new Set(after.peers)).toEqual(divergent);
        }
      }),
    );
  });

  it('starts one heal at a time, and per peer at most once per interval', () => {
    fc.assert(
      fc.property(events, (evs) => {
        const every = 10_000;
        const t = new DivergenceTracker(every);
        let now = 0;
        let inFlight = false;
        const lastHeal = new Map<string, number>();
        for (const e of evs) {
          if (e.kind === 'end') {
            t.healEnded();
            inFlight = false;
            continue;
          }
          now += e.dt;
          const n = t.note(e.peer, e.verdict, now);
          if (!n.heal) continue;
          expect(e.verdict).toBe('diverged');
          expect(inFlight).toBe(false);
          const last = lastHeal.get(e.peer);
          if (last !== undefined) expect(now - last).toBeGreaterThanOrEqual(every);
          t.healStarted(e.peer, now);
          lastHeal.set(e.peer, now);
          inFlight = true;
        }
      }),
    );
  });

  it('asks for a heal on the first divergence at once, and again once the interval has passed', () => {
    const t = new DivergenceTracker(10_000);
    expect(t.note('p', 'diverged', 1000)).toEqual({ detected: true, healed: false, heal: true });
    t.healStarted('p', 1000);
    expect(t.note('p', 'diverged', 1500).heal).toBe(false); // in flight
    t.healEnded();
    expect(t.note('p', 'diverged', 10_999).heal).toBe(false); // too soon for this peer
    expect(t.note('q', 'diverged', 10_999)).toEqual({ detected: true, healed: false, heal: true }); // another peer may
    expect(t.note('p', 'diverged', 11_000).heal).toBe(true);
    expect(t.note('p', 'agree', 12_000)).toEqual({ detected: false, healed: true, heal: false });
    expect(t.stats()).toEqual({ detected: 2, healed: 1, lastAt: 10_999, peers: ['q'] });
  });

  it('heals a peer at most every 10 gossip intervals, and never more often than every 10 s', () => {
    expect(healEveryMs(200)).toBe(10_000);
    expect(healEveryMs(5_000)).toBe(50_000);
  });
});

describe('after a heal\'s merge', () => {
  it('lets the peer\'s states win only when the local recount proves damage', () => {
    fc.assert(
      fc.property(verdict, fc.constantFrom(true, false, null), (v, localDamaged) => {
        const d = divergenceDecision({ verdict: v, localDamaged });
        if (d === 'repair') expect(localDamaged).toBe(true);
        if (v === 'agree') expect(d).toBe('healed');
        if (v === 'diverged' && localDamaged !== true) expect(d).toBe('persists');
      }),
    );
  });
});

describe('a snapshot\'s announced key count', () => {
  it('is shown bounded and never below what was received', () => {
    expect(shownKeysTotal(1e15, 1)).toBe(MAX_SHOWN_KEYS);
    expect(shownKeysTotal(0, 5)).toBe(5);
    expect(shownKeysTotal(300, 5)).toBe(300);
  });
});
