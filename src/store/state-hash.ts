// The per-key hash that feeds the state digest: SHA-256 of (key length, key, encoded state), cut to
// 128 bits. One scratch buffer is reused so hashing a write allocates only the 32-byte result.

import { hash } from 'node:crypto';

let scratch = Buffer.allocUnsafe(4096);

export function stateHash(key: Uint8Array, state: Uint8Array): Uint8Array {
  const need = 4 + key.length + state.length;
  if (scratch.length < need) scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  scratch.writeUInt32BE(key.length, 0);
  scratch.set(key, 4);
  scratch.set(state, 4 + key.length);
  return hash('sha256', scratch.subarray(0, need), 'buffer') as unknown as Uint8Array;
}
