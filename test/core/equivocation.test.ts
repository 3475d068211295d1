// Equivocation (core/equivocation.ts): a faulty replica wrote one dot with different contents to
// different nodes. Merge must still be a join (commutative, associative, idempotent) when states
// disagree on a dot's content, and nodes that heard different versions must end byte-equal,
// whatever order they merge in.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeKeyState } from '../../src/core/codec.js';
import { compareContent, equivocations, keepOwn, reassertion, winner } from '../../src/core/equivocation.js';
import { merge, type KeyState, type Sibling } from '../../src/core/key-state.js';
import { keyState, REPLICAS } from './arbitraries.js';

const bytes = (s: KeyState) => Buffer.from(encodeKeyState(s)).toString('hex');

/** Version v (0: the honest one) of a sibling: another HLC, value, expiry or a tombstone. */
function version(s: Sibling, v: number): Sibling {
  switch (v % 5) {
    case 0:
      return s;
    case 1:
      return { ...s, hlc: s.hlc + 1 };
    case 2:
      return { r: s.r, c: s.c, hlc: s.hlc, value: Buffer.from(`forged-${v}`) };
    case 3:
      return { r: s.r, c: s.c, hlc: s.hlc, value: s.value ?? Buffer.from('x'), exp: 10 + v };
    default:
      return { r: s.r, c: s.c, hlc: s.hlc, value: null };
  }
}

/** keyState whose siblings may each be another version of the same dot: what an equivocating replica hands out. */
const forged: fc.Arbitrary<KeyState> = keyState.chain((s) =>
  fc.array(fc.nat(9), { minLength: s.sibs.length, maxLength: s.sibs.length }).map((vs) => ({ ctx: s.ctx, sibs: s.sibs.map((x, i) => version(x, vs[i]!)) })),
);

const sib: fc.Arbitrary<Sibling> = fc.tuple(fc.nat(3), fc.option(fc.constantFrom('a', 'b', 'ab'), { nil: null }), fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined })).map(([hlc, v, exp]) =>
  v === null ? { r: REPLICAS[0]!, c: 1, hlc, value: null } : { r: REPLICAS[0]!, c: 1, hlc, value: Buffer.from(v), ...(exp === undefined ? {} : { exp }) },
);

describe('equivocation', () => {
  it('orders contents totally: zero only for equal contents, antisymmetric, transitive', () => {
    fc.assert(
      fc.property(sib, sib, sib, (a, b, c) => {
        const same = bytes({ ctx: [[a.r, 1]], sibs: [a] }) === bytes({ ctx: [[b.r, 1]], sibs: [b] });
        expect(compareContent(a, b) === 0).toBe(same);
        expect(Math.sign(compareContent(a, b)) + Math.sign(compareContent(b, a))).toBe(0);
        if (compareContent(a, b) <= 0 && compareContent(b, c) <= 0) expect(compareContent(a, c)).toBeLessThanOrEqual(0);
        expect(winner(a, b)).toBe(compareContent(a, b) <= 0 ? a : b);
      }),
    );
  });

  it('merge stays commutative, associative and idempotent when states disagree on a dot', () => {
    fc.assert(
      fc.property(forged, forged, forged, (a, b, c) => {
        expect(bytes(merge(a, b))).toBe(bytes(merge(b, a)));
        expect(bytes(merge(merge(a, b), c))).toBe(bytes(merge(a, merge(b, c))));
        expect(bytes(merge(a, a))).toBe(bytes(a));
        expect(bytes(merge(merge(a, b), b))).toBe(bytes(merge(a, b)));
      }),
    );
  });

  it('nodes that heard different versions converge to the same bytes, in any merge order', () => {
    // each node starts from its own version of one state; gossip is a random sequence of pairwise
    // merges (j takes in i's state), then one full round so every pair has met at least once
    fc.assert(
      fc.property(
        keyState,
        fc.array(fc.nat(9), { minLength: 3, maxLength: 5 }),
        fc.array(fc.tuple(fc.nat(4), fc.nat(4)), { maxLength: 20 }),
        (base, vs, gossip) => {
          const nodes: KeyState[] = vs.map((v) => ({ ctx: base.ctx, sibs: base.sibs.map((x) => version(x, v)) }));
          const n = nodes.length;
          for (const [i, j] of gossip) nodes[j % n] = merge(nodes[j % n], nodes[i % n]!);
          for (let round = 0; round < 2; round++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) nodes[j] = merge(nodes[j], nodes[i]!);
          const all = new Set(nodes.map(bytes));
          expect(all.size).toBe(1);
          // and the survivor of each dot is the lowest version anyone held
          const got = nodes[0]!.sibs;
          for (const [k, s] of got.entries()) {
            const candidates = vs.map((v) => version(base.sibs[k]!, v));
            expect(candidates.every((x) => compareContent(s, x) <= 0)).toBe(true);
          }
        },
      ),
    );
  });

  it('names exactly the dots held with different contents', () => {
    fc.assert(
      fc.property(keyState, fc.nat(9), (s, v) => {
        const other = s.sibs.map((x) => version(x, v));
        const found = equivocations(s.sibs, other).map((d) => `${d.r}:${d.c}`);
        const expected = s.sibs.filter((x, i) => compareContent(x, other[i]!) !== 0).map((d) => `${d.r}:${d.c}`);
        expect(found).toEqual(expected);
      }),
    );
  });

  it('a node keeps its own version of its own dots, and writes again what a read finds here', () => {
    const [me, other] = REPLICAS as [string, string];
    const mine: Sibling = { r: me, c: 3, hlc: 9, value: Buffer.from('real') };
    const theirs: KeyState = { ctx: [[me, 3], [other, 1]], sibs: [{ r: me, c: 3, hlc: 1, value: Buffer.from('forged') }, { r: other, c: 1, hlc: 5, value: Buffer.from('o') }] };
    const kept = keepOwn(theirs, [mine], me);
    expect(kept.sibs).toEqual([mine, theirs.sibs[1]]);
    expect(keepOwn(theirs, [mine], other)).toBe(theirs); // not this node's dot: untouched
    expect(reassertion(mine, 0)).toEqual({ value: mine.value });
    expect(reassertion({ ...mine, exp: 100 }, 50)).toEqual({ value: mine.value, exp: 100 });
    expect(reassertion({ ...mine, exp: 100 }, 100)).toEqual({ value: null }); // expired here: absent, so a delete
    expect(reassertion({ ...mine, value: null }, 0)).toEqual({ value: null });
  });
});
