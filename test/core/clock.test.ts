import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { decodeClock, encodeClock } from '../../src/core/codec.js';
import { DecodeError } from '../../src/errors.js';
import { REPLICAS, dotSet, throwsOnly } from './arbitraries.js';

// Reference model: a plain set of "r:c" strings.
const model = (dots: [string, number][]) => new Set(dots.map(([r, c]) => `${r}:${c}`));
const build = (dots: [string, number][]) => {
  const c = Clock.empty();
  for (const [r, n] of dots) c.add(r, n);
  return c;
};
const contents = (clock: Clock) => {
  const s = new Set<string>();
  clock.forEachRun((r, from, to) => {
    for (let c = from; c <= to; c++) s.add(`${r}:${c}`);
  });
  return s;
};

describe('Clock', () => {
  it('holds exactly the dots added, in normalised runs', () => {
    fc.assert(
      fc.property(dotSet, (dots) => {
        const clock = build(dots);
        expect(contents(clock)).toEqual(model(dots));
        for (const r of REPLICAS) {
          for (let c = 1; c <= 42; c++) expect(clock.covers(r, c)).toBe(model(dots).has(`${r}:${c}`));
          const runs = clock.runs(r);
          for (let i = 1; i < runs.length; i++) expect(runs[i]![0]).toBeGreaterThan(runs[i - 1]![1] + 1);
          let base = 0;
          while (model(dots).has(`${r}:${base + 1}`)) base++;
          expect(clock.base(r)).toBe(base);
        }
      }),
    );
  });

  it('union, intersection, difference, size and coversClock agree with set algebra', () => {
    fc.assert(
      fc.property(dotSet, dotSet, (a, b) => {
        const ca = build(a);
        const cb = build(b);
        const ma = model(a);
        const mb = model(b);
        const union = ca.clone().merge(cb);
        expect(contents(union)).toEqual(new Set([...ma, ...mb]));
        expect(union.equals(cb.clone().merge(ca))).toBe(true);
        const diff = ca.difference(cb);
        expect(contents(diff)).toEqual(new Set([...ma].filter((d) => !mb.has(d))));
        expect(diff.size()).toBe([...ma].filter((d) => !mb.has(d)).length);
        expect(ca.coversClock(cb)).toBe([...mb].every((d) => ma.has(d)));
        expect(contents(ca.intersect(cb))).toEqual(new Set([...ma].filter((d) => mb.has(d))));
        expect(union.coversClock(ca) && union.coversClock(cb)).toBe(true);
      }),
    );
  });

  it('slice returns the dots strictly above lo and up to hi', () => {
    fc.assert(
      fc.property(dotSet, fc.integer({ min: 0, max: 45 }), fc.integer({ min: 0, max: 45 }), (a, lo, hi) => {
        const clock = build(a);
        for (const r of REPLICAS) {
          const got = new Set<number>();
          for (const [from, to] of clock.slice(r, lo, hi)) for (let c = from; c <= to; c++) got.add(c);
          const want = new Set(a.filter(([x, c]) => x === r && c > lo && c <= hi).map(([, c]) => c));
          expect(got).toEqual(want);
        }
      }),
    );
  });

  it('encodes compactly and decodes to an equal clock', () => {
    fc.assert(
      fc.property(dotSet, (a) => {
        const clock = build(a);
        expect(decodeClock(encodeClock(clock)).equals(clock)).toBe(true);
      }),
    );
    const big = Clock.fromIntervals([[REPLICAS[0]!, 1, 1_000_000]]);
    expect(encodeClock(big).length).toBeLessThan(24);
  });

  it('rejects malformed encodings with DecodeError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => throwsOnly(DecodeError, () => decodeClock(bytes))),
    );
  });

  it('toJSON shows base and extras', () => {
    const c = Clock.fromIntervals([
      [REPLICAS[0]!, 1, 5],
      [REPLICAS[0]!, 8, 9],
      [REPLICAS[1]!, 3, 3],
    ]);
    expect(c.toJSON()).toEqual({
      [REPLICAS[0]!]: { base: 5, extras: [[8, 9]] },
      [REPLICAS[1]!]: { base: 0, extras: [[3, 3]] },
    });
  });
});
