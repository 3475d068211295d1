// The state digest: XOR of a 128-bit hash of every (key, canonical key state). Order-independent
// and its own inverse, so each change updates it in O(1): xor out the old state's hash, xor in the
// new one. Two replicas with equal clocks must have equal digests; anything else is damage or a bug.
// The hash itself is computed by the storage shell (node:crypto); this module only combines.

export const DIGEST_BYTES = 16;

export class Digest {
  readonly bytes: Uint8Array;

  constructor(bytes?: Uint8Array) {
    this.bytes = new Uint8Array(DIGEST_BYTES);
    if (bytes !== undefined) {
      if (bytes.length !== DIGEST_BYTES) throw new RangeError(`digest must be ${DIGEST_BYTES} bytes`);
      this.bytes.set(bytes);
    }
  }

  /** Folds one 16-byte (or longer: the first 16 bytes are used) hash in, or out. */
  xor(hash: Uint8Array): void {
    const b = this.bytes;
    for (let i = 0; i < DIGEST_BYTES; i++) b[i]! ^= hash[i]!;
  }

  clone(): Digest {
    return new Digest(this.bytes);
  }

  hex(): string {
    return Buffer.from(this.bytes).toString('hex');
  }
}
