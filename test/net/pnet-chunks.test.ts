// pnet's cipher (xsalsa20) fed in 1 MiB pieces: the same bytes as in one call, and no crash on a
// buffer larger than its WebAssembly memory can grow to (which used to kill the daemon from inside
// a socket handler when a private network carried a 16 MiB value).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PIECE, xsalsa20 } from '../../src/net/pnet-chunks.js';

const nonce = randomBytes(24);
const key = randomBytes(32);

describe('the private-network cipher in pieces', () => {
  it('gives the same bytes however the input is split', () => {
    const input = randomBytes(3 * PIECE + 12_345);
    const whole = xsalsa20(nonce, key).update(input); // split into pieces inside
    const byHand = xsalsa20(nonce, key);
    const out = new Uint8Array(input.length);
    let at = 0;
    for (const n of [1, 63, 64, 65, 100_000, PIECE - 7, PIECE + 9]) {
      out.set(byHand.update(input.subarray(at, at + n)), at);
      at += n;
    }
    out.set(byHand.update(input.subarray(at)), at);
    expect(Buffer.compare(Buffer.from(out), Buffer.from(whole))).toBe(0);
    // and decrypting gives the input back
    const back = xsalsa20(nonce, key).update(whole);
    expect(Buffer.compare(Buffer.from(back), input)).toBe(0);
  });

  it('takes a buffer far beyond its memory limit (80 MiB) without throwing', () => {
    const big = new Uint8Array(80 * 1024 * 1024);
    const out = xsalsa20(nonce, key).update(big);
    expect(out.length).toBe(big.length);
    expect(out.some((b) => b !== 0)).toBe(true);
  });
});

describe('the private-network cipher with many connections', () => {
  it('does not grow its memory without bound when ciphers take turns (each grow left the others a dead view)', () => {
    const ciphers = Array.from({ length: 4 }, () => xsalsa20(randomBytes(24), key));
    const piece = new Uint8Array(PIECE);
    // before the fix every turn of a cipher with a stale view grew the memory by its whole input:
    // 200 turns of 1 MiB passed the 32-64 MiB ceiling and threw
    for (let turn = 0; turn < 200; turn++) ciphers[turn % ciphers.length]!.update(piece);
    // and the ciphers still agree with fresh ones on what they produce
    const n = randomBytes(24);
    const input = randomBytes(200_000);
    const a = xsalsa20(n, key).update(input);
    ciphers[0]!.update(new Uint8Array(PIECE)); // another cipher moves the memory in between
    const b = xsalsa20(n, key).update(input);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
  });
});
