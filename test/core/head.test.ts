// Signed heads: a replica id names its public key, and only the holder of the private key can
// vouch for that replica's counters. Every way of bending a head must fail verification.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reader, Writer } from '../../src/core/bytes.js';
import { decodeHeads, encodeHeads, headIsValid, MAX_COUNTER, newReplicaKey, readHead, replicaIdOf, replicaKeyFromSeed, signHead, writeHead } from '../../src/core/head.js';
import { evidencedClaim } from '../../src/core/delta.js';
import { Clock } from '../../src/core/clock.js';

describe('signed heads', () => {
  const a = newReplicaKey();
  const b = newReplicaKey();

  it('derive the replica id from the public key, and a seed gives back the same replica', () => {
    expect(a.key.r).toMatch(/^[0-9a-f]{32}$/);
    expect(a.key.r).toBe(replicaIdOf(a.key.publicKey));
    expect(a.key.r).not.toBe(b.key.r);
    expect(replicaKeyFromSeed(a.seed).r).toBe(a.key.r);
  });

  it('verify when signed by the replica, and round-trip through the encoding', () => {
    const h = signHead(a.key, 12345);
    expect(headIsValid(h)).toBe(true);
    const w = new Writer();
    writeHead(w, h);
    const back = readHead(new Reader(w.finish()));
    expect(back).toEqual(h);
    expect(decodeHeads(encodeHeads([h, signHead(b.key, 1)])).map((x) => x.r)).toEqual([a.key.r, b.key.r]);
  });

  it('fail for a raised counter, another replica id, another key, a flipped signature bit, or past the limit', () => {
    const h = signHead(a.key, 10);
    expect(headIsValid({ ...h, c: 11 })).toBe(false);
    expect(headIsValid({ ...h, r: b.key.r })).toBe(false); // a's signature for b's id
    expect(headIsValid({ ...signHead(b.key, 10), r: a.key.r })).toBe(false); // b's key claiming a's id
    const sig = Uint8Array.from(h.sig);
    sig[7] = sig[7]! ^ 1;
    expect(headIsValid({ ...h, sig })).toBe(false);
    expect(headIsValid(signHead(a.key, MAX_COUNTER))).toBe(true);
    expect(headIsValid(signHead(a.key, MAX_COUNTER + 1))).toBe(false);
  });

  it('refuse a truncated record with DecodeError', () => {
    const bytes = encodeHeads([signHead(a.key, 3)]);
    expect(() => decodeHeads(bytes.subarray(0, bytes.length - 1))).toThrow(/malformed/);
  });
});

describe('evidencedClaim (property)', () => {
  const R = ['a'.repeat(32), 'b'.repeat(32), 'c'.repeat(32)];
  const runs = fc.array(fc.tuple(fc.constantFrom(...R), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 20 })), { maxLength: 8 });

  it('keeps exactly the claimed dots at or below what was seen of each replica', () => {
    fc.assert(
      fc.property(runs, fc.array(fc.integer({ min: 0, max: 90 }), { minLength: 3, maxLength: 3 }), (list, seenList) => {
        const claim = Clock.fromIntervals(list.map(([r, from, len]) => [r, from, from + len] as [string, number, number]));
        const seen = (r: string) => seenList[R.indexOf(r)]!;
        const out = evidencedClaim(claim, seen);
        expect(claim.coversClock(out)).toBe(true);
        for (const r of R) {
          for (let c = 1; c <= 85; c++) expect(out.covers(r, c)).toBe(claim.covers(r, c) && c <= seen(r));
        }
      }),
    );
  });

  it('returns the claim itself when all of it is evidenced (no copy on the hot path)', () => {
    const claim = Clock.fromIntervals([[R[0]!, 1, 5]]);
    expect(evidencedClaim(claim, () => 5)).toBe(claim);
  });
});
