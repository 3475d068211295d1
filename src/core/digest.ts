// The state digest: XOR of a 128-bit hash of every (key, canonical key state). Order-independent
// and its own inverse, so each change updates it in O(1): xor out the old state's hash, xor in the
// new one. Two replicas with equal clocks must have equal digests; anything else is damage or a bug.
// The hash itself is computed by the storage shell; this module only combines.

export const DIGEST_BYTES = 16;

export class Digest {
  private readonly w = new Uint32Array(4);

  constructor(bytes?: Uint8Array) {
    if (bytes !== undefined) {
      if (bytes.length !== DIGEST_BYTES) throw new RangeError(`digest must be ${DIGEST_BYTES} bytes`);
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      for (let i = 0; i < 4; i++) this.w[i] = v.getUint32(i * 4);
    }
  }

  /** Folds one hash (four 32-bit words) in, or out. */
  xor(hash: ArrayLike<number>): void {
    for (let i = 0; i < 4; i++) this.w[i]! ^= hash[i]!;
  }

  /** Folds another digest in (or out): how a difference between two digests carries over. */
  xorDigest(other: Digest): void {
    this.xor(other.w);
  }

  clone(): Digest {
    const d = new Digest();
    d.w.set(this.w);
    return d;
  }

  /** Big-endian bytes of the four words. */
  get bytes(): Uint8Array {
    const out = new Uint8Array(DIGEST_BYTES);
    const v = new DataView(out.buffer);
    for (let i = 0; i < 4; i++) v.setUint32(i * 4, this.w[i]!);
    return out;
  }

  hex(): string {
    return [...this.w].map((x) => x.toString(16).padStart(8, '0')).join('');
  }
}
