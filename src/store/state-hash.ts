// The per-key hash that feeds the state digest: MurmurHash3 x86-128 (see core/murmur3.ts for why)
// of (key length, key, encoded state). One scratch buffer is reused, so hashing allocates nothing.

import { murmur3x86_128 } from '../core/murmur3.js';

let scratch = Buffer.allocUnsafe(4096);

/** The hash as four 32-bit words, valid until the next call. */
export function stateHash(key: Uint8Array, state: Uint8Array): Uint32Array {
  const need = 4 + key.length + state.length;
  if (scratch.length < need) scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  scratch.writeUInt32BE(key.length, 0);
  scratch.set(key, 4);
  scratch.set(state, 4 + key.length);
  return murmur3x86_128(scratch, need);
}
