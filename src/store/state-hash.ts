// The per-key hash that feeds the state digest: MurmurHash3 x86-128 (see core/murmur3.ts for why)
// of (key length, key, digestPart of the state: its value siblings without an expiry, codec.ts).
// Leaving out contexts, tombstones and expiring values makes the digest the same on every replica
// that holds the same lasting values, whichever tombstones and expired values each has collected
// so far. One scratch buffer is reused, so hashing allocates nothing.

import { Writer } from '../core/bytes.js';
import { digestPart } from '../core/codec.js';
import { murmur3x86_128 } from '../core/murmur3.js';
import { DecodeError } from '../errors.js';

// The scratch buffer is also seen as 32-bit words, which murmur3 reads a block at a time.
let scratch = new Uint8Array(4096);
let words = new Uint32Array(scratch.buffer);
const part = new Writer(4096);

/** The hash as four 32-bit words, valid until the next call; null when the key adds nothing to the digest. */
export function stateHash(key: Uint8Array, state: Uint8Array): Uint32Array | null {
  let some: boolean;
  try {
    some = digestPart(state, Number.MAX_SAFE_INTEGER, part);
  } catch (err) {
    part.discard();
    if (!(err instanceof DecodeError)) throw err;
    return hashOf(key, state); // damage on disk: its bytes, so that a recount shows it
  }
  if (!some) {
    part.discard();
    return null;
  }
  const bytes = part.peek();
  const h = hashOf(key, bytes);
  part.discard();
  return h;
}

/**
 * The hash before expiry and garbage collection: of the whole encoded state. Only for checking
 * backups whose manifests recorded a digest made this way (backup/replay.ts).
 */
export function legacyStateHash(key: Uint8Array, state: Uint8Array): Uint32Array {
  return hashOf(key, state);
}

function hashOf(key: Uint8Array, state: Uint8Array): Uint32Array {
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

/** XORs a key state's hash into a digest (nothing when the state adds nothing). */
export function xorState(digest: { xor(h: ArrayLike<number>): void }, key: Uint8Array, state: Uint8Array): void {
  const h = stateHash(key, state);
  if (h !== null) digest.xor(h);
}
