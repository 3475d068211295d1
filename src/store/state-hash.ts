// The per-key hash that feeds the state digest: MurmurHash3 x86-128 (see core/murmur3.ts for why)
// of (key length, key, digestPart of the state at a cutoff time T: its value siblings that last or
// expire after T, codec.ts). Every value a read at T or later can return is in it. Leaving out
// contexts, tombstones and values expired by T makes the digest the same on every replica that
// holds the same values, whichever tombstones and expired values each has collected so far (a
// node collects an expired value only once its cutoff has passed the expiry: Keyspace). A key
// without expiring values hashes the same at every T. One scratch buffer is reused, so hashing
// allocates nothing.

import { Writer } from '../core/bytes.js';
import { digestPart, gcExpiryKey } from '../core/codec.js';
import { MAX_EXPIRE_AT } from '../core/validate.js';
import { murmur3x86_128 } from '../core/murmur3.js';
import { DecodeError } from '../errors.js';

// The scratch buffer is also seen as 32-bit words, which murmur3 reads a block at a time.
let scratch = new Uint8Array(4096);
let words = new Uint32Array(scratch.buffer);
const part = new Writer(4096);

/** The hash at cutoff `at` (ms) as four 32-bit words, valid until the next call; null when the key adds nothing to the digest. */
export function stateHash(key: Uint8Array, state: Uint8Array, at: number): Uint32Array | null {
  let some: boolean;
  try {
    some = digestPart(state, Number.MAX_SAFE_INTEGER, part, at);
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

/**
 * What a key's hash is folded into: a Digest, or one that also moves the key's range fingerprint
 * (range-index.ts), which needs the key and whether the hash goes out (-1) or in (1).
 */
export interface DigestTarget {
  xor(h: ArrayLike<number>, key?: Uint8Array, dir?: 1 | -1): void;
}

/** XORs a key state's hash at cutoff `at` into a digest (nothing when the state adds nothing); `dir` -1: the state leaves. */
export function xorState(digest: DigestTarget, key: Uint8Array, state: Uint8Array, at: number, dir: 1 | -1 = 1): void {
  const h = stateHash(key, state, at);
  if (h !== null) digest.xor(h, key, dir);
}

/** The cutoff at which a digest leaves out every expiring value: the digest before expiring values counted (store and manifest format 3). */
export const LASTING_ONLY = Number.MAX_SAFE_INTEGER;

/** What shiftDigest reads: the GC index's expiry entries and the states they name. */
export interface ExpiryView {
  gcRange(from: Uint8Array, to: Uint8Array): Iterable<{ readonly k: Uint8Array; readonly key: Uint8Array }>;
  getState(key: Uint8Array): Uint8Array | undefined;
}

/** The GC index's entries of values expiring after `from` and no later than `to` (either order; clamped to MAX_EXPIRE_AT). */
export function expiringBetween(view: Pick<ExpiryView, 'gcRange'>, from: number, to: number): Iterable<{ readonly k: Uint8Array; readonly key: Uint8Array }> {
  const lo = Math.min(from, to);
  const hi = Math.min(Math.max(from, to), MAX_EXPIRE_AT);
  if (lo >= hi) return [];
  const zero = new Uint8Array(16);
  return view.gcRange(gcExpiryKey(lo + 1, zero, 0), gcExpiryKey(hi + 1, zero, 0));
}

/**
 * Moves a digest taken at cutoff `from` to cutoff `to`, either way: only keys holding a value that
 * expires between the two hash differently, and the GC index lists exactly those (by expiry), so
 * this reads those keys and nothing else. Going back is exact only over values still held.
 */
export function shiftDigest(view: ExpiryView, digest: DigestTarget, from: number, to: number): void {
  const done = new Set<string>();
  for (const { key } of expiringBetween(view, from, to)) {
    const id = Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
    if (done.has(id)) continue; // a key with several expiring values has an entry for each
    done.add(id);
    const state = view.getState(key);
    if (state === undefined) continue;
    xorState(digest, key, state, from, -1);
    xorState(digest, key, state, to, 1);
  }
}
