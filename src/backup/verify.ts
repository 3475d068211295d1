// `backup verify`: checks the chain of every backup (or of one and its ancestors) and every chunk:
// size and SHA-256 against the manifest always; with the key (or in a repository in the clear)
// also authentication, decompression, every frame's encoding and the key-state count. Every
// problem is collected, so one run names every damaged file.

import { ReplikvError } from '../errors.js';
import { resolveChain } from './chain.js';
import { DamagedBackupError } from './errors.js';
import type { Manifest } from './manifest.js';
import type { Repo } from './repo.js';

export interface VerifyReport {
  backups: string[];
  chunks: number;
  bytes: number;
  /** false when the repository is encrypted and no key was given: hashes only. */
  decoded: boolean;
}

export interface VerifyOptions {
  repo: Repo;
  id?: string;
  onProgress?: (p: { bytes: number; total: number }) => void;
}

export async function verifyRepo(o: VerifyOptions): Promise<VerifyReport> {
  const all = await o.repo.manifests();
  const targets = o.id === undefined ? all : resolveChain(all, o.id);
  const problems: string[] = [];
  const note = (err: unknown) => {
    if (!(err instanceof ReplikvError)) throw err;
    problems.push(err.message);
  };
  for (const m of targets) {
    try {
      resolveChain(all, m.id);
    } catch (err) {
      note(err);
    }
  }
  const progress = { bytes: 0, total: targets.reduce((n, m) => n + m.bytes, 0) };
  let chunks = 0;
  for (const m of targets) {
    for (const chunk of m.chunks) {
      await checkChunk(o.repo, m, chunk).catch(note);
      chunks++;
      progress.bytes += chunk.bytes;
      o.onProgress?.({ ...progress });
    }
  }
  if (problems.length > 0) throw new DamagedBackupError(problems.join('\n'));
  return { backups: targets.map((m) => m.id), chunks, bytes: progress.total, decoded: o.repo.canRead };
}

async function checkChunk(repo: Repo, m: Manifest, chunk: Manifest['chunks'][number]): Promise<void> {
  await (repo.canRead ? repo.readDeltas(m, chunk) : repo.readStored(m, chunk));
}
