// MurmurHash3, x86 128-bit variant (Austin Appleby's reference, public domain), for the state
// digest. Hand-written because the digest hashes every state on every write and every merge:
// node:crypto's SHA-256 costs about 0.8 µs a call here (mostly call overhead for ~150 bytes),
// this about 0.1 µs. The digest detects divergence and damage between authenticated peers; it
// needs a well-mixed 128-bit hash, not collision resistance against an attacker.
// Checked against the murmurhash3js-revisited package in test/core/murmur3.test.ts.

/** The four 32-bit words of the last hash (h1..h4), reused to avoid allocating per call. */
export const murmurOut = new Uint32Array(4);

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

const word = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Hashes bytes[0, len) into murmurOut. `words`, when given, is the same memory as 32-bit words (a
 * Uint32Array over bytes' buffer, starting where bytes starts): on a little-endian host, which is
 * every host Node runs on in practice, each block's words are then read in one load instead of
 * four byte loads and shifts each, which about halves the hash's cost.
 */
export function murmur3x86_128(bytes: Uint8Array, len = bytes.length, seed = 0, words?: Uint32Array): Uint32Array {
  let h1 = seed | 0;
  let h2 = h1;
  let h3 = h1;
  let h4 = h1;
  const blocks = len & ~15;
  const w = LITTLE_ENDIAN ? words : undefined;
  for (let i = 0; i < blocks; i += 16) {
    const j = i >> 2;
    h1 ^= Math.imul(rotl(Math.imul(w === undefined ? word(bytes, i) : w[j]!, C1), 15), C2);
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
    h2 ^= Math.imul(rotl(Math.imul(w === undefined ? word(bytes, i + 4) : w[j + 1]!, C2), 16), C3);
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
    h3 ^= Math.imul(rotl(Math.imul(w === undefined ? word(bytes, i + 8) : w[j + 2]!, C3), 17), C4);
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
    h4 ^= Math.imul(rotl(Math.imul(w === undefined ? word(bytes, i + 12) : w[j + 3]!, C4), 18), C1);
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  }
  // tail: up to 15 bytes, little-endian into k1..k4 (locals, not an array: no allocation per hash)
  let k1 = 0;
  let k2 = 0;
  let k3 = 0;
  let k4 = 0;
  for (let j = blocks; j < len; j++) {
    const b = bytes[j]! << (((j - blocks) & 3) * 8);
    const lane = (j - blocks) >> 2;
    if (lane === 0) k1 |= b;
    else if (lane === 1) k2 |= b;
    else if (lane === 2) k3 |= b;
    else k4 |= b;
  }
  const rest = len - blocks;
  if (rest > 12) h4 ^= Math.imul(rotl(Math.imul(k4, C4), 18), C1);
  if (rest > 8) h3 ^= Math.imul(rotl(Math.imul(k3, C3), 17), C4);
  if (rest > 4) h2 ^= Math.imul(rotl(Math.imul(k2, C2), 16), C3);
  if (rest > 0) h1 ^= Math.imul(rotl(Math.imul(k1, C1), 15), C2);

  h1 ^= len;
  h2 ^= len;
  h3 ^= len;
  h4 ^= len;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  murmurOut[0] = h1;
  murmurOut[1] = h2;
  murmurOut[2] = h3;
  murmurOut[3] = h4;
  return murmurOut;
}
