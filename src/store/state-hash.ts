// The per-key hash that feeds the state digest: MurmurHash3 x86-128 (see core/murmur3.ts for why)
// of (key length, key, encoded state). One scratch buffer is reused, so hashing allocates nothing.

import { murmur3x86_128 } from '../core/murmur3.js';

// The scratch buffer is also seen as 32-bit words, which murmur3 reads a block at a time.
let scratch = new Uint8Array(4096);
let words = new Uint32Array(scratch.buffer);

/** The hash as four 32-bit words, valid until the next call. */
export function stateHash(key: Uint8Array, state: Uint8Array): Uint32Array {
  const need = 4 + key.length + state.length;
  if (scratch.length < need) {
    scratch = new Uint8Array(Math.max(need, scratch.length * 2) + 3);
    words = new Uint32Array(scratch.buffer, 0, scratch.length >> 2);
  }
  const n = key.length;
  scratch[0] = n >>> 24;
  scratch[1] = (n >>> 16) & 0xff;
  scratch[2] = (n >>> 8) & 0xff;
  scratch[3] = n & 0xff;
  scratch.set(key, 4);
  scratch.set(state, 4 + n);
  return murmur3x86_128(scratch, need, 0, words);
}
