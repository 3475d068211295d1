// `replikv restore`: builds a data directory from a chain of backups, offline. A fresh store (so a
// fresh replica id) is built in a temporary directory beside the target: the full backup's
// chunks, then each later backup's, merged with applyDelta (merge is idempotent and commutative,
// so overlapping changes are safe in any order), each backup's clock added once its chunks are in.
// The result must match the target backup's digest and key count; only then is the directory
// renamed into place, so a failed restore leaves nothing in the target.

import { mkdir, mkdtemp, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { assertDataDirFree } from '../data-dir.js';
import { Keyspace } from '../store/keyspace.js';
import { DecodeError } from '../errors.js';
import { resolveChain } from './chain.js';
import { BackupError, DamagedBackupError } from './errors.js';
import { clockOf, type ChunkInfo, type Manifest } from './manifest.js';
import type { Repo } from './repo.js';

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
  const chain = resolveChain(await o.repo.manifests(), o.until);
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
    }
    const last = chain.at(-1)!;
    const s = ks.summary();
    if (s.digest !== last.digest || s.keys !== last.keys) {
      throw new DamagedBackupError(`the restored keyspace (${s.keys} keys, digest ${s.digest}) does not match backup ${last.id} (${last.keys} keys, digest ${last.digest})`);
    }
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

/** Applies one backup's chunks (reading the next chunk while the current one is merged), then its clock. */
async function applyBackup(repo: Repo, ks: Keyspace, m: Manifest, read: (bytes: number) => void): Promise<void> {
  const load = (c: ChunkInfo) => repo.readDeltas(m, c);
  let next = m.chunks.length > 0 ? load(m.chunks[0]!) : undefined;
  for (let i = 0; i < m.chunks.length; i++) {
    const deltas = await next!;
    next = i + 1 < m.chunks.length ? load(m.chunks[i + 1]!) : undefined;
    next?.catch(() => undefined); // awaited in its turn; a failure there must not go unhandled
    try {
      // trusted: the operator's own files (authenticated when encrypted); their heads are kept and passed on
      await Promise.all(deltas.map((d) => ks.applyDelta(d, { trusted: true }))); // issued together: one commit per chunk file
    } catch (err) {
      if (err instanceof DecodeError) throw new DamagedBackupError(`${repo.chunkPath(m.id, m.chunks[i]!)} is damaged: ${err.message}`);
      throw err;
    }
    read(m.chunks[i]!.bytes);
  }
  await ks.applyDelta({ entries: [], claim: clockOf(m.clock, `manifest of ${m.id}`) }, { trusted: true });
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
