// Key files (identity, swarm key) are published whole or not at all, and never over another's.

import { randomBytes } from 'node:crypto';
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
