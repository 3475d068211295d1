// Sealing chunks (AES-256-GCM) and opening repositories (scrypt, key check record).
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newEncryption, seal, unlock, unseal } from '../../src/backup/cipher.js';
import { WrongKeyError } from '../../src/backup/errors.js';

const key = randomBytes(32);

describe('backup encryption', () => {
  it('opens what it sealed, and nothing that was changed, moved or sealed under another key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.string(), fc.nat(), (plain, aad, at) => {
        const sealed = seal(key, plain, aad);
        expect([...unseal(key, sealed, aad)!]).toEqual([...plain]);
        const flipped = Buffer.from(sealed);
        flipped[at % flipped.length]! ^= 0x01;
        expect(unseal(key, flipped, aad)).toBeNull();
        expect(unseal(key, sealed, aad + 'x')).toBeNull(); // the chunk's place is bound in
        expect(unseal(randomBytes(32), sealed, aad)).toBeNull();
        expect(unseal(key, sealed.subarray(0, 20), aad)).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it('derives the same key from the same passphrase, and refuses another as a wrong key', async () => {
    const { record, key: made } = await newEncryption('open sesame');
    expect((await unlock(record, 'open sesame', 'repo')).equals(made)).toBe(true);
    await expect(unlock(record, 'open sesame!', 'repo')).rejects.toThrow(WrongKeyError);
    await expect(unlock(record, 'open sesame!', 'repo')).rejects.toThrow('wrong key: the passphrase does not open the repository repo');
    // a fresh salt each time: the same passphrase gives another key in another repository
    expect((await newEncryption('open sesame')).key.equals(made)).toBe(false);
  });
});
