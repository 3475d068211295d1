// Ed25519 keys as replikv keeps them: raw 32-byte seeds and public keys. node:crypto takes them only
// wrapped in DER (PKCS#8, SPKI), whose Ed25519 prefixes are fixed; replica heads and operator
// forgets both sign with such keys.

import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

// DER prefixes of PKCS#8 and SPKI for Ed25519: the raw 32 bytes follow them.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A new key pair's seed: the private key to keep (32 bytes). */
export function newSeed(): Uint8Array {
  const { privateKey } = generateKeyPairSync('ed25519');
  return new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length));
}

/** The private key of a 32-byte seed, and its raw public half. */
export function keyPairOfSeed(seed: Uint8Array): { privateKey: KeyObject; publicKey: Uint8Array } {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)) };
}

/** A raw 32-byte public key as node:crypto takes it; throws on bytes that are not a key. */
export function publicKeyOf(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}
