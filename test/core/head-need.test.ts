// Which heads a frame needs (core/head-need.ts), as properties: a receiver checks a head only for a
// replica the frame's states name past the head it holds, one per replica, the highest; a sender
// attaches exactly the heads of the replicas its states and claim name, above what the peer holds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeKeyState } from '../../src/core/codec.js';
import type { Head } from '../../src/core/head.js';
import { headsToCheck, headsToSend, namedCounters, splitByHeads } from '../../src/core/head-need.js';
import { Clock } from '../../src/core/clock.js';
import { clock, keyState, replica, REPLICAS } from './arbitraries.js';

/** A head as the pure decisions see it (they never verify: the store does). */
const head = (r: string, c: number): Head => ({ r, c, key: new Uint8Array(32), sig: new Uint8Array(64) });
const heads = fc.array(fc.tuple(replica, fc.integer({ min: 1, max: 12 })), { maxLength: 12 }).map((l) => l.map(([r, c]) => head(r, c)));
const levels = fc.array(fc.integer({ min: 0, max: 12 }), { minLength: REPLICAS.length, maxLength: REPLICAS.length });
const at = (list: number[]) => (r: string) => list[REPLICAS.indexOf(r)] ?? 0;

describe('namedCounters (property)', () => {
  it('is the highest counter each replica has in the states\' contexts', () => {
    fc.assert(
      fc.property(fc.array(keyState, { maxLength: 6 }), (states) => {
        const named = namedCounters(states.map((s, i) => ({ key: Buffer.from(`k${i}`), state: encodeKeyState(s) })));
        const want = new Map<string, number>();
        for (const s of states) for (const [r, c] of s.ctx) want.set(r, Math.max(want.get(r) ?? 0, c));
        expect(named).toEqual(want);
      }),
    );
  });

  it('names nothing for bytes that are not a state, and never throws', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 4 }), (junk) => {
        const named = namedCounters(junk.map((state, i) => ({ key: Buffer.from(`k${i}`), state })));
        for (const c of named.values()) expect(Number.isSafeInteger(c)).toBe(true);
      }),
    );
  });
});

describe('headsToCheck (property)', () => {
  const named = fc.array(fc.tuple(replica, fc.integer({ min: 1, max: 12 })), { maxLength: 6 }).map((l) => {
    const m = new Map<string, number>();
    for (const [r, c] of l) m.set(r, Math.max(m.get(r) ?? 0, c));
    return m;
  });

  it('checks only heads of named replicas past what is held, one per replica, the highest sent; never this replica\'s', () => {
    fc.assert(
      fc.property(heads, named, levels, replica, (hs, nm, held, self) => {
        const out = headsToCheck(hs, nm, at(held), self);
        const seen = new Set<string>();
        for (const h of out) {
          expect(hs).toContain(h);
          expect(h.r).not.toBe(self);
          expect(seen.has(h.r)).toBe(false);
          seen.add(h.r);
          expect(nm.get(h.r)!).toBeGreaterThan(at(held)(h.r));
          expect(h.c).toBeGreaterThan(at(held)(h.r));
          expect(h.c).toBe(Math.max(...hs.filter((x) => x.r === h.r).map((x) => x.c)));
        }
        // and none is missed: a named replica past what is held, with a newer head sent, is checked
        for (const [r, c] of nm) {
          const useful = hs.some((h) => h.r === r && h.c > at(held)(r));
          if (r !== self && c > at(held)(r) && useful) expect(seen.has(r)).toBe(true);
        }
        expect(out.length).toBeLessThanOrEqual(nm.size);
      }),
    );
  });

  it('a frame of heads only, whatever their number, costs no check', () => {
    fc.assert(
      fc.property(heads, levels, (hs, held) => {
        expect(headsToCheck(hs, new Map(), at(held), REPLICAS[0]!)).toEqual([]);
      }),
    );
  });
});

describe('headsToSend (property)', () => {
  it('attaches each named or claimed replica\'s head above what the peer holds, and nothing else', () => {
    fc.assert(
      fc.property(fc.uniqueArray(replica, { maxLength: 5 }), clock, levels, levels, (names, claim, kept, peer) => {
        const nm = new Map(names.map((r) => [r, 1]));
        const headOf = (r: string) => (at(kept)(r) > 0 ? head(r, at(kept)(r)) : undefined);
        const out = headsToSend(nm, claim, headOf, at(peer));
        const want = REPLICAS.filter((r) => (nm.has(r) || claim.max(r) > 0) && at(kept)(r) > at(peer)(r));
        expect(out.map((h) => h.r).sort()).toEqual(want.sort());
        for (const h of out) expect(h.c).toBe(at(kept)(h.r));
      }),
    );
  });
});

describe('splitByHeads (property)', () => {
  it('no frame carries more than the limit; states first, in order, then the whole claim; each frame has the heads it names', () => {
    fc.assert(
      fc.property(fc.array(keyState, { maxLength: 8 }), clock, fc.integer({ min: 1, max: 4 }), (states, claim, max) => {
        const entries = states.map((s, i) => ({ key: Buffer.from(`k${i}`), state: encodeKeyState(s) }));
        const named = namedCounters(entries);
        const all = [...new Set([...named.keys(), ...claim.replicas()])].map((r) => head(r, 99));
        const frames = splitByHeads({ entries, claim }, all, max);
        const sent = frames.flatMap((f) => f.entries);
        expect(sent).toEqual(entries);
        const together = Clock.empty();
        for (const f of frames) together.merge(f.claim);
        expect(together.equals(claim)).toBe(true);
        if (all.length <= max) return void expect(frames).toHaveLength(1);
        const lastWithEntries = frames.findLastIndex((f) => f.entries.length > 0);
        frames.forEach((f, i) => {
          const hs = (f.heads ?? []).map((h) => h.r);
          const oneState = f.entries.length === 1;
          if (!oneState) expect(hs.length).toBeLessThanOrEqual(max);
          if (i <= lastWithEntries) expect(f.claim.isEmpty()).toBe(true); // no claim before every state is sent
          for (const r of [...namedCounters(f.entries).keys(), ...f.claim.replicas()]) expect(hs).toContain(r);
        });
      }),
    );
  });
});

