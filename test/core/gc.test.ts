// The pure garbage-collection decisions (core/gc.ts): what collectKey may remove, what dropCollected
// keeps of a remote state, and the stable clock and GC-frontier check the daemon builds on.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { behindFrontier, collectKey, dropCollected, stableClock, withholdFrom } from '../../src/core/gc.js';
import { localWrite, merge, resolve, type KeyState, type Sibling } from '../../src/core/key-state.js';
import { clock, expiringKeyState, REPLICAS } from './arbitraries.js';

const [R1, R2] = REPLICAS as [string, string];
const time = fc.integer({ min: 0, max: 35 });
const dot = (s: { r: string; c: number }) => `${s.r.slice(0, 4)}:${s.c}`;
const dots = (s: KeyState | null | undefined) => (s?.sibs ?? []).map(dot);
const isGarbage = (s: Sibling, now: number) => s.value === null || (s.exp !== undefined && s.exp <= now);
/** Every dot (r, 1..40) of every test replica: enough to compare clocks dot by dot. */
const GRID = REPLICAS.flatMap((r) => Array.from({ length: 40 }, (_, i) => ({ r, c: i + 1 })));
/** Does the clock cover every dot (r, 1..c) of the state's context? */
const coversContext = (clock: Clock, s: KeyState) => s.ctx.every(([r, c]) => clock.base(r) >= c);
/** A clock covering every dot of a state's context: what a replica holding the state knows of the key. */
const clockOf = (s: KeyState) => Clock.fromIntervals(s.ctx.map(([r, c]) => [r, 1, c] as const));

describe('collectKey', () => {
  it('removes exactly the garbage (tombstones, expired values) whose dot the stable clock covers, keeping the context', () => {
    fc.assert(
      fc.property(expiringKeyState, clock, time, (state, stable, now) => {
        const out = collectKey(state, stable, now);
        const kept = state.sibs.filter((s) => !(isGarbage(s, now) && stable.covers(s.r, s.c)));
        if (kept.length === state.sibs.length) return void expect(out).toBeUndefined();
        // the last sibling goes, and the key with it, only once the stable clock covers the context
        if (kept.length === 0) return void expect(out).toBe(coversContext(stable, state) ? null : undefined);
        expect(out).toEqual({ ctx: state.ctx, sibs: kept });
      }),
    );
  });

  it('removes a key only when the stable clock covers every dot its context supersedes', () => {
    fc.assert(
      fc.property(expiringKeyState, clock, time, (state, stable, now) => {
        if (collectKey(state, stable, now) !== null) return;
        for (const [r, c] of state.ctx) for (let i = 1; i <= c; i++) expect(stable.covers(r, i)).toBe(true);
      }),
    );
  });

  it('never removes a value without an expiry, nor a sibling whose dot the stable clock does not cover', () => {
    fc.assert(
      fc.property(expiringKeyState, clock, time, (state, stable, now) => {
        const out = collectKey(state, stable, now);
        if (out === undefined) return;
        for (const s of state.sibs) {
          if ((s.value !== null && s.exp === undefined) || !stable.covers(s.r, s.c)) expect(dots(out)).toContain(dot(s));
        }
      }),
    );
  });

  it('never changes a read, at the time of collection or later (values beat tombstones, expired reads as absent)', () => {
    fc.assert(
      fc.property(expiringKeyState, clock, time, fc.nat(40), (state, stable, now, later) => {
        const out = collectKey(state, stable, now);
        const after = out === undefined ? state : out;
        for (const t of [now, now + later]) {
          const before = resolve(state, t);
          const read = after === null ? undefined : resolve(after, t);
          expect(read && dot(read)).toBe(before && dot(before));
        }
      }),
    );
  });

  it('is idempotent: what it leaves has nothing more to collect', () => {
    fc.assert(
      fc.property(expiringKeyState, clock, time, (state, stable, now) => {
        const out = collectKey(state, stable, now);
        if (out) expect(collectKey(out, stable, now)).toBeUndefined();
      }),
    );
  });

  it('a delete goes once stable, and with it the key; a put concurrent with it stays, with the context', () => {
    const put = localWrite(undefined, { r: R1, c: 1 }, 10, Buffer.from('v'));
    const del = localWrite(put, { r: R1, c: 2 }, 11, null);
    expect(collectKey(del, Clock.fromIntervals([[R1, 1, 1]]), 0)).toBeUndefined(); // the delete's dot is not stable yet
    // stable, but not the put it deleted: a member that knows the delete alone (a pushed batch)
    // could still be sent the put, and with the key gone nothing would say it was deleted
    expect(collectKey(del, Clock.fromIntervals([[R1, 2, 2]]), 0)).toBeUndefined();
    expect(collectKey(del, Clock.fromIntervals([[R1, 1, 2]]), 0)).toBeNull();
    const both = merge(del, localWrite(undefined, { r: R2, c: 1 }, 5, Buffer.from('w'))); // a put the delete did not see
    const out = collectKey(both, Clock.fromIntervals([[R1, 1, 2], [R2, 1, 1]]), 0);
    expect(out).toEqual({ ctx: both.ctx, sibs: [both.sibs.find((s) => s.r === R2)] });
  });

  it('an expired value goes once stable; one not yet expired stays', () => {
    const v = localWrite(undefined, { r: R1, c: 1 }, 10, Buffer.from('v'), undefined, 100);
    const stable = Clock.fromIntervals([[R1, 1, 1]]);
    expect(collectKey(v, stable, 99)).toBeUndefined();
    expect(collectKey(v, stable, 100)).toBeNull();
    expect(collectKey(v, Clock.empty(), 1000)).toBeUndefined();
  });
});

describe('dropCollected', () => {
  it('keeps everything when the frontier is empty', () => {
    fc.assert(
      fc.property(expiringKeyState, fc.option(expiringKeyState, { nil: undefined }), (remote, local) => {
        expect(dropCollected(remote, local, Clock.empty())).toBe(remote);
      }),
    );
  });

  it('drops exactly the remote siblings under the frontier that the local state does not hold, keeping the context', () => {
    fc.assert(
      fc.property(expiringKeyState, fc.option(expiringKeyState, { nil: undefined }), clock, (remote, local, frontier) => {
        const out = dropCollected(remote, local, frontier);
        const held = (s: Sibling) => local?.sibs.some((x) => x.r === s.r && x.c === s.c) ?? false;
        expect(out.ctx).toBe(remote.ctx);
        expect(dots(out)).toEqual(remote.sibs.filter((s) => !frontier.covers(s.r, s.c) || held(s)).map(dot));
        expect(dropCollected(remote, remote, frontier)).toBe(remote); // what is held here is never dropped
      }),
    );
  });

  it('changes no merge while the local key still holds its context (the frontier only stands in for collected keys)', () => {
    fc.assert(
      fc.property(expiringKeyState, expiringKeyState, clock, (remote, local, extra) => {
        const frontier = clockOf(local).intersect(extra); // a frontier the local context covers
        const a = merge(local, remote);
        const b = merge(local, dropCollected(remote, local, frontier));
        expect(dots(b)).toEqual(dots(a));
      }),
    );
  });
});

describe('stableClock', () => {
  it('covers a dot exactly when the own clock and every member clock cover it, in any member order', () => {
    fc.assert(
      fc.property(clock, fc.array(clock, { maxLength: 4 }), (own, members) => {
        const stable = stableClock(own, members);
        for (const { r, c } of GRID) expect(stable.covers(r, c)).toBe(own.covers(r, c) && members.every((m) => m.covers(r, c)));
        expect(stableClock(own, [...members].reverse()).equals(stable)).toBe(true);
      }),
    );
  });

  it('is a new clock: growing it changes neither the own clock nor a member clock', () => {
    fc.assert(
      fc.property(clock, fc.array(clock, { maxLength: 2 }), (own, members) => {
        const before = [own, ...members].map((c) => c.clone());
        stableClock(own, members).add(R1, 1000);
        [own, ...members].forEach((c, i) => expect(c.equals(before[i]!)).toBe(true));
      }),
    );
  });
});

describe('behindFrontier', () => {
  it('counts the frontier dots the peer lacks: 0 exactly when its clock covers the frontier', () => {
    fc.assert(
      fc.property(clock, clock, (theirs, frontier) => {
        const lacking = GRID.filter(({ r, c }) => frontier.covers(r, c) && !theirs.covers(r, c)).length;
        expect(behindFrontier(theirs, frontier)).toBe(lacking);
        expect(behindFrontier(theirs, frontier) === 0).toBe(theirs.coversClock(frontier));
        expect(behindFrontier(theirs, Clock.empty())).toBe(0);
      }),
    );
  });

  it('never refuses a member whose clock has grown from the one the frontier was built with', () => {
    fc.assert(
      fc.property(clock, fc.array(fc.tuple(clock, clock), { minLength: 1, maxLength: 4 }), (own, heard) => {
        const frontier = stableClock(own, heard.map(([m]) => m));
        for (const [m, more] of heard) expect(behindFrontier(m.clone().merge(more), frontier)).toBe(0);
        expect(behindFrontier(own, frontier)).toBe(0);
      }),
    );
  });
});

describe('withholdFrom', () => {
  it('withholds from a peer that lacks part of the frontier and shares a dot with it; from no other', () => {
    fc.assert(
      fc.property(clock, clock, (theirs, frontier) => {
        const lacking = behindFrontier(theirs, frontier);
        const shares = GRID.some(({ r, c }) => frontier.covers(r, c) && theirs.covers(r, c));
        expect(withholdFrom(theirs, frontier)).toBe(shares ? lacking : 0);
      }),
    );
  });

  it('sends only to a peer that can hold no write a collected key superseded', () => {
    // A key goes only once the stable clock covers its whole context, and the frontier takes the
    // stable clock in: a peer holds siblings of its own clock only, so one whose clock shares no
    // dot with the frontier holds none of the collected key's writes.
    fc.assert(
      fc.property(expiringKeyState, clock, clock, time, (state, stable, theirs, now) => {
        if (collectKey(state, stable, now) !== null) return;
        const frontier = stable;
        if (withholdFrom(theirs, frontier) > 0) return;
        const held = state.ctx.flatMap(([r, c]) => Array.from({ length: c }, (_, i) => ({ r, c: i + 1 }))).filter(({ r, c }) => theirs.covers(r, c));
        for (const d of held) expect(frontier.covers(d.r, d.c)).toBe(true); // what it holds of the key ...
        if (!theirs.coversClock(frontier)) expect(held).toEqual([]); // ... is nothing, unless it knows every collected dot
      }),
    );
  });
});

