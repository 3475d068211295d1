// `backup verify`: checks the chain of every backup (or of one and its ancestors) and every chunk:
// size and SHA-256 against the manifest always. With the key (or in a repository in the clear) it
// also decrypts, decompresses and decodes every chunk and replays every chain in memory, as a
// restore would, checking the digest and live key count each manifest records; with the key of an
// encrypted repository every manifest is authenticated first. Every problem is collected, so one
// run names every damaged file.

import { ReplikvError } from '../errors.js';
import { Keyspace } from '../store/keyspace.js';
import { MemoryBackend } from '../store/memory-backend.js';
import { resolveChain } from './chain.js';
import { DamagedBackupError } from './errors.js';
import type { Manifest } from './manifest.js';
import type { Repo } from './repo.js';
import { applyBackup, checkReplayed } from './replay.js';

export interface VerifyReport {
  backups: string[];
  chunks: number;
  bytes: number;
  /** false when the repository is encrypted and no key was given: hashes only. */
  decoded: boolean;
  /** true when every manifest was checked with the repository key (an encrypted repository, with its key). */
  authenticated: boolean;
}

export interface VerifyOptions {
  repo: Repo;
  id?: string;
  onProgress?: (p: { bytes: number; total: number }) => void;
}

/** A replay in progress: the in-memory store after a backup, which its children continue from. */
interface Replay {
  backend: MemoryBackend;
  ks: Keyspace;
}

export async function verifyRepo(o: VerifyOptions): Promise<VerifyReport> {
  const { repo } = o;
  const all = await repo.manifests();
  const trust = repo.canRead ? (m: Manifest) => repo.authenticate(m) : undefined;
  const targets = o.id === undefined ? all : resolveChain(all, o.id, trust);
  const problems = new Set<string>(); // a damaged ancestor is met again by each of its chains
  const note = (err: unknown) => {
    if (!(err instanceof ReplikvError)) throw err;
    problems.add(err.message);
  };
  const sound: Manifest[] = []; // authenticated, with an unbroken chain
  for (const m of targets) {
    try {
      resolveChain(all, m.id, trust);
      sound.push(m);
    } catch (err) {
      note(err);
    }
  }
  const progress = { bytes: 0, total: targets.reduce((n, m) => n + m.bytes, 0) };
  const read = (bytes: number) => {
    progress.bytes += bytes;
    o.onProgress?.({ ...progress });
  };
  const checked = new Set<Manifest>();
  /** Every chunk of `m` on its own: a chain that cannot be replayed still has each damaged file named. */
  const checkChunks = async (m: Manifest, count: boolean) => {
    checked.add(m);
    for (const chunk of m.chunks) {
      await (repo.canRead ? repo.readDeltas(m, chunk) : repo.readStored(m, chunk)).catch(note);
      if (count) read(chunk.bytes);
    }
  };

  if (repo.canRead) {
    const children = new Map<string, Manifest[]>();
    for (const m of sound) if (m.parent !== null) children.set(m.parent, [...(children.get(m.parent) ?? []), m]);
    // Depth first from each full backup: a backup's children continue from copies of its replay
    // (the last one from the replay itself), so every chunk is read once.
    const replay = async (m: Manifest, at: Replay | null): Promise<void> => {
      checked.add(m);
      let next = at;
      if (at === null) await checkChunks(m, true);
      else {
        try {
          await applyBackup(repo, at.ks, m, read);
          checkReplayed(repo, at.ks, m);
        } catch (err) {
          note(err);
          next = null; // what follows from a wrong state proves nothing; its chunks are still checked
          await checkChunks(m, false);
        }
      }
      const kids = children.get(m.id) ?? [];
      for (const [i, kid] of kids.entries()) await replay(kid, next === null || i === kids.length - 1 ? next : await branch(next));
    };
    for (const root of sound.filter((m) => m.parent === null)) {
      const backend = new MemoryBackend();
      await replay(root, { backend, ks: await Keyspace.open(backend) });
    }
  }
  for (const m of targets) if (!checked.has(m)) await checkChunks(m, true);

  if (problems.size > 0) throw new DamagedBackupError([...problems].join('\n'));
  const chunks = targets.reduce((n, m) => n + m.chunks.length, 0);
  return { backups: targets.map((m) => m.id), chunks, bytes: progress.total, decoded: repo.canRead, authenticated: repo.canRead && repo.encrypted };
}

async function branch(r: Replay): Promise<Replay> {
  const backend = r.backend.clone();
  return { backend, ks: await Keyspace.open(backend) };
}
