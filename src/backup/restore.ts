// `replikv restore`: builds a data directory from a chain of backups, offline. A fresh store (so a
// fresh replica id) is built in a temporary directory beside the target: the full backup's
// chunks, then each later backup's, merged with applyDelta (merge is idempotent and commutative,
// so overlapping changes are safe in any order), each backup's clock added once its chunks are in.
// Every manifest of the chain is authenticated first (encrypted repositories), and the keyspace
// after each backup must match that backup's digest and key count; only then is the directory
// renamed into place, so a failed restore leaves nothing in the target.

import { mkdir, mkdtemp, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { assertDataDirFree } from '../data-dir.js';
import { Keyspace } from '../store/keyspace.js';
import { META_RESTORED } from '../store/meta.js';
import { resolveChain } from './chain.js';
import { BackupError } from './errors.js';
import type { Repo } from './repo.js';
import { applyBackup, checkReplayed } from './replay.js';

export interface RestoreProgress {
  /** Stored bytes read so far, and in the whole chain. */
  bytes: number;
  total: number;
}

export interface RestoreOptions {
  repo: Repo;
  dataDir: string;
  /** The last backup to apply (the newest when undefined). */
  until?: string;
  onProgress?: (p: RestoreProgress) => void;
}

export interface RestoreResult {
  chain: string[];
  replicaId: string;
  keys: number;
  digest: string;
}

export async function restoreBackup(o: RestoreOptions): Promise<RestoreResult> {
  await assertDataDirFree(resolve(o.dataDir)); // a running daemon's directory: say so, naming its pid
  o.repo.requireKey();
  const chain = resolveChain(await o.repo.manifests(), o.until, (m) => o.repo.authenticate(m));
  const target = resolve(o.dataDir);
  const leftover = await entriesOf(target);
  if (leftover !== null && leftover.length > 0) throw new BackupError(`the target ${target} is not empty; restore into a new directory`);
  await mkdir(dirname(target), { recursive: true });
  const tmp = await mkdtemp(join(dirname(target), `.${basename(target)}.restoring-`));
  let ks: Keyspace | undefined;
  try {
    ks = await Keyspace.openDir(tmp, { durability: 'relaxed' });
    const progress = { bytes: 0, total: chain.reduce((n, m) => n + m.bytes, 0) };
    for (const m of chain) {
      await applyBackup(o.repo, ks, m, (bytes) => {
        progress.bytes += bytes;
        o.onProgress?.({ ...progress });
      });
      checkReplayed(o.repo, ks, m);
    }
    const s = ks.summary();
    // It lacks what the cluster did after the backup, deletes collected since included: it may
    // take a peer's GC frontier on its word once (sync/catch-up.ts).
    await ks.putMeta(META_RESTORED, Buffer.from(new Date().toISOString()));
    await ks.close();
    if (leftover !== null) await rmdir(target); // an empty directory made for the restore
    await rename(tmp, target);
    return { chain: chain.map((m) => m.id), replicaId: s.replicaId, keys: s.keys, digest: s.digest };
  } catch (err) {
    await ks?.close().catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** The names in a directory, or null when it does not exist. */
async function entriesOf(dir: string): Promise<string[] | null> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new BackupError(`cannot use the target ${dir}: ${code}`);
  }
}
