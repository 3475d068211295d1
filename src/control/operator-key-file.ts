// The operator's private key file (replikv keygen --operator): what signs a forget that every node
// obeys (core/forget-record.ts). It belongs to the operator, not to a node: nothing makes it in a
// data directory, and the daemon never reads it; the CLI signs with it (replikv forget --sign-key).
// Format, like a swarm key's:
//   /key/replikv/operator/ed25519/
//   /base16/
//   <64 hex characters: the private key>

import { keyHex, newOperatorKey, operatorKeyFromSeed, type OperatorKey } from '../core/forget-record.js';
import { readHexKeyFile, writeNewKeyFile } from '../net/key-file.js';

const HEADER = '/key/replikv/operator/ed25519/';

/** Writes a new operator key to `file` (mode 0600); refuses to replace one unless `force`. Returns its public half, hex. */
export function writeOperatorKeyFile(file: string, force = false): string {
  const { key, seed } = newOperatorKey();
  writeNewKeyFile(file, `${HEADER}\n/base16/\n${keyHex(seed)}\n`, force, 'operator key', 'forgets signed with the old key are then refused by nodes that drop its public half');
  return keyHex(key.publicKey);
}

export function readOperatorKeyFile(file: string): OperatorKey {
  const hex = readHexKeyFile(file, HEADER, 'operator key', 'make one with: replikv keygen --operator --out FILE', 'an');
  return operatorKeyFromSeed(Buffer.from(hex, 'hex'));
}
