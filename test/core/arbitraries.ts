// Shared fast-check generators for the core tests.
import fc from 'fast-check';
import { Clock } from '../../src/core/clock.js';
import type { KeyState, Sibling } from '../../src/core/key-state.js';

/** A handful of fixed replica ids, so generated clocks overlap often. */
export const REPLICAS = ['0'.repeat(31) + '1', '0'.repeat(31) + '2', 'a'.repeat(32), 'f'.repeat(31) + '0', '7'.repeat(32)];

export const replica = fc.constantFrom(...REPLICAS);

/** A set of dots, as (replica, counter) pairs with small counters so intervals form and touch. */
export const dotSet = fc.array(fc.tuple(replica, fc.integer({ min: 1, max: 40 })), { maxLength: 60 });

/** Runs fn; it may succeed, but if it throws, the error must be an instance of `type`. */
export function throwsOnly(type: abstract new (...args: never[]) => Error, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof type)) throw new Error(`expected only ${type.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
}

// One write's data is a function of its dot, as in the real system (a dot is one write).
export const sibling = (r: string, c: number, tomb: boolean): Sibling => ({
  r,
  c,
  hlc: (c * 7919 + r.charCodeAt(0)) % 50,
  value: tomb ? null : new TextEncoder().encode(`${r.slice(0, 4)}:${c}`),
});

/** States whose siblings are covered by their context, the invariant every real state keeps. */
export const keyState: fc.Arbitrary<KeyState> = fc
  .uniqueArray(fc.tuple(replica, fc.integer({ min: 1, max: 9 })), { selector: ([r]) => r, minLength: 1, maxLength: 4 })
  .chain((ctxEntries) => {
    const ctx = [...ctxEntries].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const candidates = ctx.flatMap(([r, max]) => Array.from({ length: max }, (_, i) => [r, i + 1] as const));
    return fc.subarray(candidates, { minLength: 1, maxLength: Math.min(3, candidates.length) }).map((picked) => ({
      ctx,
      sibs: picked.map(([r, c]) => sibling(r, c, c % 4 === 0)).sort((a, b) => (a.r === b.r ? a.c - b.c : a.r < b.r ? -1 : 1)),
    }));
  });

/** A clock over REPLICAS: a few runs each, small counters, so it covers some of a state's dots and not others. */
export const clock: fc.Arbitrary<Clock> = fc
  .array(fc.tuple(replica, fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 6 })), { maxLength: 8 })
  .map((runs) => Clock.fromIntervals(runs.map(([r, from, len]) => [r, from, from + len] as const)));

/** When a value written at (r, c) expires, if it does: a function of its dot, like the rest of a write's data. */
export const expiryOf = (r: string, c: number): number | undefined => ((c + r.charCodeAt(31)) % 3 === 0 ? ((c * 7 + r.charCodeAt(0)) % 30) + 1 : undefined);

/** keyState, with some values carrying an expiry (expiryOf): a time in 1..30 to read them at. */
export const expiringKeyState: fc.Arbitrary<KeyState> = keyState.map((s) => ({
  ctx: s.ctx,
  sibs: s.sibs.map((x) => {
    const exp = x.value === null ? undefined : expiryOf(x.r, x.c);
    return exp === undefined ? x : { ...x, exp };
  }),
}));
