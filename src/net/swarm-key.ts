// Swarm keys for libp2p private networks (pnet): nodes without the same 32-byte pre-shared key
// cannot even complete a connection. The file format is go-ipfs/libp2p's:
//   /key/swarm/psk/1.0.0/
//   /base16/
//   <64 hex characters>
// Checked here with a clear error, because @libp2p/pnet only says "invalid psk".

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { publishKeyFile, readHexKeyFile, writeNewKeyFile } from './key-file.js';

const HEADER = '/key/swarm/psk/1.0.0/';

export function generateSwarmKey(): string {
  return `${HEADER}\n/base16/\n${randomBytes(32).toString('hex')}\n`;
}

/** Writes a new swarm key to `file` with mode 0600. Refuses to replace an existing file unless `force`. */
export function writeSwarmKeyFile(file: string, force = false): void {
  writeNewKeyFile(file, generateSwarmKey(), force, 'swarm key', 'every node must then get the new key');
}

/** Reads and checks a swarm key file; returns the file's bytes as @libp2p/pnet expects them. */
export function readSwarmKeyFile(file: string): Uint8Array {
  const hex = readHexKeyFile(file, HEADER, 'swarm key', 'make one with: replikv keygen --out FILE');
  return new TextEncoder().encode(`${HEADER}\n/base16/\n${hex}`);
}

/** The file name of the key a daemon generates in its data directory when none is configured. */
export const DEFAULT_SWARM_KEY = 'swarm.key';

export interface DataDirSwarmKey {
  file: string;
  key: Uint8Array;
  /** True when the file did not exist: the key is new and persist() writes it. */
  generated: boolean;
  /** Writes a generated key to its file (mode 0600); nothing to do for a loaded one. */
  persist(): Promise<void>;
}

/**
 * The swarm key in `file` (a data directory's swarm.key), or a new one in memory that only
 * persist() writes, so that a start refused before then leaves no key behind.
 */
export function loadOrGenerateSwarmKey(file: string): DataDirSwarmKey {
  let exists = true;
  try {
    readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`cannot read swarm key ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    exists = false;
  }
  if (exists) return { file, key: readSwarmKeyFile(file), generated: false, persist: async () => {} };
  const text = generateSwarmKey();
  const key = new TextEncoder().encode(text.trimEnd());
  return {
    file,
    key,
    generated: true,
    async persist() {
      if (!(await publishKeyFile(file, new TextEncoder().encode(text), 'swarm key'))) {
        throw new ConfigError(`swarm key ${file} was created by another process while this daemon started; start it again`);
      }
    },
  };
}
