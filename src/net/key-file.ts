// Key files (identity, swarm key, operator key) are published whole or not at all, and never over another's.

import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../errors.js';

/**
 * Writes `bytes` to a temporary file (mode 0600), syncs it, then hard-links it into place. Unlike
 * rename, link fails if `file` exists, so a concurrent creator's key is never replaced; and a crash
 * leaves either no key or a whole one. Returns false if `file` already existed.
 */
export async function publishKeyFile(file: string, bytes: Uint8Array, what: string): Promise<boolean> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    throw new ConfigError(`cannot write ${what} ${file}: ${code ?? (err as Error).message}`);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Writes a new key file of `text` with mode 0600; refuses to replace one unless `force` (then
 * `replaced` says what that means for the nodes).
 */
export function writeNewKeyFile(file: string, text: string, force: boolean, what: string, replaced: string): void {
  const flags = constants.O_WRONLY | constants.O_CREAT | (force ? constants.O_TRUNC : constants.O_EXCL);
  let fd: number;
  try {
    fd = openSync(file, flags, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ConfigError(`${file} already exists; pass --force to replace it (${replaced})`);
    throw new ConfigError(`cannot write ${what} ${file}: ${code ?? (err as Error).message}`);
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/**
 * The 64 hex characters of a key file in the go-ipfs swarm-key layout (`header`, "/base16/", the
 * key), refused with `hint` (how to make one) when the file is anything else.
 */
export function readHexKeyFile(file: string, header: string, what: string, hint: string, article = 'a'): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const lines = text.split(/\r?\n/);
  if (lines[0] !== header || lines[1] !== '/base16/' || !/^[0-9a-fA-F]{64}$/.test(lines[2] ?? '')) {
    throw new ConfigError(`${file} is not ${article} ${what}: expected "${header}", "/base16/" and 64 hex characters (${hint})`);
  }
  return lines[2]!.toLowerCase();
}
