import fc from 'fast-check';
// @ts-expect-error: the oracle package ships no types
import oracle from 'murmurhash3js-revisited';
import { describe, expect, it } from 'vitest';
import { murmur3x86_128 } from '../../src/core/murmur3.js';

const hex = (w: Uint32Array) => [...w].map((x) => x.toString(16).padStart(8, '0')).join('');

describe('murmur3 x86 128', () => {
  it('matches the reference implementation for every length and seed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, seed) => {
        expect(hex(murmur3x86_128(bytes, bytes.length, seed))).toBe(oracle.x86.hash128(bytes, seed));
      }),
      { numRuns: 500 },
    );
    expect(hex(murmur3x86_128(new Uint8Array(0)))).toBe('00000000000000000000000000000000');
  });

  it('reads blocks as words when given them, with the same result', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, seed) => {
        const copy = new Uint8Array(bytes.length + 3);
        copy.set(bytes);
        const words = new Uint32Array(copy.buffer, 0, copy.length >> 2);
        expect(hex(murmur3x86_128(copy, bytes.length, seed, words))).toBe(oracle.x86.hash128(bytes, seed));
      }),
      { numRuns: 500 },
    );
  });
});
