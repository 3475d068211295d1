// The node's libp2p identity: an Ed25519 key kept in a file, so the PeerId survives restarts and
// peers' allow-lists stay valid. Created once, never replaced: a new key is a new peer.

import { readFile } from 'node:fs/promises';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { ConfigError } from '../errors.js';
import { publishKeyFile } from './key-file.js';

/** Reads the identity key in `file`, or creates one (mode 0600) if the file does not exist. */
export async function loadOrCreateIdentity(file: string): Promise<PrivateKey> {
  const existing = await readKeyFile(file);
  if (existing !== undefined) return existing;
  const key = await generateKeyPair('Ed25519');
  if (await publishKeyFile(file, privateKeyToProtobuf(key), 'identity key')) return key;
  // Another process created the file between our read and our link: its key wins.
  const winner = await readKeyFile(file);
  if (winner === undefined) throw new ConfigError(`identity key ${file} vanished while it was being created`);
  return winner;
}

export interface Identity {
  key: PrivateKey;
  /** Writes a newly generated key to its file (mode 0600); nothing to do for a loaded one. */
  persist(): Promise<void>;
}

/**
 * The identity key in `file`, or a new one that is written only by `persist()`: the daemon persists
 * it once it is listening, so a start that fails before leaves no key behind.
 */
export async function loadOrGenerateIdentity(file: string): Promise<Identity> {
  const existing = await readKeyFile(file);
  if (existing !== undefined) return { key: existing, persist: async () => {} };
  const key = await generateKeyPair('Ed25519');
  return {
    key,
    async persist() {
      // Unlike rename, link refuses to replace a key another process created meanwhile (two
      // daemons sharing one --identity file): ours is already in use, so refuse to start.
      if (!(await publishKeyFile(file, privateKeyToProtobuf(key), 'identity key'))) {
        throw new ConfigError(`identity key ${file} was created by another process while this daemon started; start it again`);
      }
    },
  };
}

/** The key in `file`, or undefined if there is no such file. */
async function readKeyFile(file: string): Promise<PrivateKey | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read identity key ${file}: ${code ?? (err as Error).message}`);
  }
  try {
    return privateKeyFromProtobuf(bytes);
  } catch (err) {
    throw new ConfigError(`${file} is not a libp2p private key (${(err as Error).message}); move it away to create a new identity`);
  }
}
