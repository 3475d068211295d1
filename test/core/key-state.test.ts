import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeKeyState, dotKey, encodeFirstWrite, encodeKeyState, inspectKeyState, replicaToBytes, resolveEncoded, siblingCount } from '../../src/core/codec.js';
import { isLive, localWrite, merge, resolve, type KeyState } from '../../src/core/key-state.js';
import { DecodeError } from '../../src/errors.js';
import { keyState, replica, REPLICAS, sibling, throwsOnly } from './arbitraries.js';

const bytes = (s: KeyState) => Buffer.from(encodeKeyState(s)).toString('hex');

describe('merge', () => {
  it('is commutative, associative and idempotent (byte-equal canonical states)', () => {
    fc.assert(
      fc.property(keyState, keyState, keyState, (a, b, c) => {
        expect(bytes(merge(a, b))).toBe(bytes(merge(b, a)));
        expect(bytes(merge(merge(a, b), c))).toBe(bytes(merge(a, merge(b, c))));
        expect(bytes(merge(a, a))).toBe(bytes(a));
        expect(bytes(merge(merge(a, b), b))).toBe(bytes(merge(a, b)));
      }),
    );
  });

  it('keeps concurrent writes as siblings and drops superseded ones', () => {
    const [r1, r2] = REPLICAS as [string, string];
    const a = localWrite(undefined, { r: r1, c: 1 }, 10, Buffer.from('a'));
    const b = localWrite(undefined, { r: r2, c: 1 }, 11, Buffer.from('b'));
    const both = merge(a, b);
    expect(both.sibs.map((s) => s.r)).toEqual([r1, r2]);
    expect(Buffer.from(resolve(both, 0)!.value!).toString()).toBe('b'); // higher HLC wins the plain read
    // a write that read both supersedes both
    const c = localWrite(both, { r: r1, c: 2 }, 5, Buffer.from('c'));
    expect(c.sibs).toHaveLength(1);
    expect(bytes(merge(c, a))).toBe(bytes(c));
    expect(bytes(merge(b, c))).toBe(bytes(c));
  });

  it('a write with an older context supersedes only what that context saw', () => {
    const [r1, r2] = REPLICAS as [string, string];
    const a = localWrite(undefined, { r: r1, c: 1 }, 10, Buffer.from('a'));
    const seenByClient = a.ctx;
    const b = merge(a, localWrite(undefined, { r: r2, c: 1 }, 11, Buffer.from('b')));
    const c = localWrite(b, { r: r1, c: 2 }, 12, Buffer.from('c'), seenByClient);
    expect(c.sibs.map((s) => `${s.r === r1 ? 'r1' : 'r2'}:${s.c}`)).toEqual(['r1:2', 'r2:1']);
  });

  it('delete leaves a tombstone the resolver reads as absent', () => {
    const r1 = REPLICAS[0]!;
    const a = localWrite(undefined, { r: r1, c: 1 }, 10, Buffer.from('a'));
    const d = localWrite(a, { r: r1, c: 2 }, 11, null);
    expect(d.sibs).toEqual([{ r: r1, c: 2, hlc: 11, value: null }]);
    expect(isLive(d, 0)).toBe(false);
    expect(isLive(a, 0)).toBe(true);
  });

  it('resolver breaks HLC ties by replica id, the same on every replica', () => {
    fc.assert(
      fc.property(keyState, keyState, (a, b) => {
        const m1 = merge(a, b);
        const m2 = merge(b, a);
        // generated pairs can be causally impossible and cancel out; real histories never do
        fc.pre(m1.sibs.length > 0);
        const w1 = resolve(m1, 0);
        const w2 = resolve(m2, 0);
        expect(w1 && [w1.r, w1.c]).toEqual(w2 && [w2.r, w2.c]);
        // values beat tombstones; among values the highest (hlc, replica, counter)
        const values = m1.sibs.filter((s) => s.value !== null);
        expect(w1 === undefined).toBe(values.length === 0);
        for (const s of values) expect(s.hlc < w1!.hlc || (s.hlc === w1!.hlc && (s.r < w1!.r || (s.r === w1!.r && s.c <= w1!.c)))).toBe(true);
      }),
    );
  });
});

describe('key-state codec', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(keyState, (s) => {
        expect(bytes(decodeKeyState(encodeKeyState(s)))).toBe(bytes(s));
      }),
    );
  });

  it('rejects random and mutated bytes with DecodeError only', () => {
    fc.assert(
      fc.property(keyState, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 255 }), (s, pos, x) => {
        const enc = encodeKeyState(s);
        const bad = Uint8Array.from(enc);
        bad[pos % bad.length]! ^= x;
        for (const input of [bad, enc.subarray(0, pos % enc.length)]) throwsOnly(DecodeError, () => decodeKeyState(input));
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => throwsOnly(DecodeError, () => decodeKeyState(b))),
    );
  });

  it('encodes a first write exactly as the general encoder does', () => {
    fc.assert(
      fc.property(replica, fc.integer({ min: 1, max: 2 ** 53 - 1 }), fc.nat(), fc.option(fc.uint8Array({ maxLength: 300 })), (r, c, hlc, value) => {
        const general = encodeKeyState(localWrite(undefined, { r, c }, hlc, value));
        expect(Buffer.from(encodeFirstWrite(replicaToBytes(r), c, hlc, value)).toString('hex')).toBe(Buffer.from(general).toString('hex'));
      }),
    );
  });

  it('reads facts, resolved values and sibling counts from bytes exactly as the full decoder does', () => {
    const hex = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('hex'));
    // the result of a function, or the name of the error it threw
    const outcome = (fn: () => unknown) => {
      try {
        return fn();
      } catch (err) {
        return (err as Error).name;
      }
    };
    const viaDecoder = (b: Uint8Array, max?: number) =>
      outcome(() => {
        const s = decodeKeyState(b, max);
        const best = resolve(s, 0);
        return { dots: s.sibs.map((x) => hex(dotKey(replicaToBytes(x.r), x.c))), value: hex(best?.value ?? null), maxHlc: Math.max(...s.sibs.map((x) => x.hlc)), n: s.sibs.length };
      });
    const viaFacts = (b: Uint8Array, max?: number) =>
      outcome(() => {
        const f = inspectKeyState(b, max);
        const value = resolveEncoded(b, max, 0);
        expect(f.live).toBe(value !== null);
        return { dots: f.dots.map(hex), value: hex(value), maxHlc: f.maxHlc, n: siblingCount(b) };
      });
    // the common shape (one context entry, one sibling) has its own fast path: generate it often
    const single = fc
      .tuple(replica, fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 300 }), fc.boolean())
      .map(([r, c, more, tomb]): KeyState => ({ ctx: [[r, c + more]], sibs: [sibling(r, c, tomb)] }));
    fc.assert(
      fc.property(fc.oneof(keyState, single), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 255 }), fc.nat(12), (s, pos, x, max) => {
        const enc = encodeKeyState(s);
        const bad = Uint8Array.from(enc);
        bad[pos % bad.length]! ^= x;
        for (const input of [enc, bad, enc.subarray(0, pos % enc.length)]) {
          expect(viaFacts(input)).toEqual(viaDecoder(input));
          expect(viaFacts(input, max)).toEqual(viaDecoder(input, max));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('enforces the value size limit while decoding', () => {
    const s = localWrite(undefined, { r: REPLICAS[0]!, c: 1 }, 1, new Uint8Array(100));
    expect(() => decodeKeyState(encodeKeyState(s), 99)).toThrow(/exceeds the limit 99/);
  });
});
