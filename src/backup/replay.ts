// One backup applied to a keyspace, as restore does into the new store and verify does in memory:
// its chunks merged in order, then its clock; and the check that the result is the state the
// manifest records.

import { DecodeError } from '../errors.js';
import type { Keyspace } from '../store/keyspace.js';
import { DamagedBackupError } from './errors.js';
import { clockOf, type ChunkInfo, type Manifest } from './manifest.js';
import type { Repo } from './repo.js';
import { legacySummary } from './legacy-summary.js';
import { LASTING_ONLY } from '../store/state-hash.js';

/** Applies one backup's chunks (reading the next chunk while the current one is merged), then its clock. */
export async function applyBackup(repo: Repo, ks: Keyspace, m: Manifest, read: (bytes: number) => void): Promise<void> {
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

/**
 * Refuses a keyspace that is not the state backup `m` records. The message does not show the
 * digest or count the chunks gave: in a repository in the clear a forger could copy them into the
 * manifest.
 */
export function checkReplayed(repo: Repo, ks: Keyspace, m: Manifest): void {
  // A manifest from before garbage collection recorded the digest and count as they were counted then.
  const s = m.format < 3 ? legacySummary(ks) : ks.summary(LASTING_ONLY); // what changes() records
  const differs = [s.digest !== m.digest && 'digest', s.keys !== m.keys && 'live key count'].filter(Boolean);
  if (differs.length > 0) {
    throw new DamagedBackupError(`${repo.manifestPath(m.id)} does not match its chunks: the chain up to ${m.id} gives another ${differs.join(' and ')} than it records`);
  }
}
