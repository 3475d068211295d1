import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeToken, encodeToken } from '../../src/core/token.js';
import { InvalidTokenError } from '../../src/errors.js';
import { REPLICAS } from './arbitraries.js';

describe('context token', () => {
  const vv = [[REPLICAS[0]!, 3], [REPLICAS[2]!, 17]] as const;

  it('round-trips', () => {
    expect(decodeToken(encodeToken(vv))).toEqual(vv);
    expect(decodeToken(encodeToken([]))).toEqual([]);
  });

  it('refuses damaged tokens with a clear InvalidTokenError', () => {
    const t = encodeToken(vv);
    expect(() => decodeToken('')).toThrow(InvalidTokenError);
    expect(() => decodeToken('not a token!')).toThrow(/base64url/);
    expect(() => decodeToken(t.slice(0, -3))).toThrow(InvalidTokenError);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: t.length - 1 }), fc.constantFrom(...'ABCxyz019-_'), (i, ch) => {
        const bad = t.slice(0, i) + ch + t.slice(i + 1);
        if (bad === t) return;
        try {
          const got = decodeToken(bad);
          // base64url has slack bits in its last character: a change there can decode to the same bytes
          expect(got).toEqual(vv);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidTokenError);
        }
      }),
    );
  });
});
