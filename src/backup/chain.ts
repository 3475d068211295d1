// Which backups depend on which (pure). An incremental backup adds to the newest backup of any
// type, a differential one to the newest full one; either records its parent's clock as the clock
// it is relative to. A restore applies a chain: a full backup, then each child down to the target.

import { BackupError, DamagedBackupError } from './errors.js';
import { backupId, type BackupType } from './manifest.js';

/** The fields chain logic reads from a manifest. */
export interface Link {
  id: string;
  seq: number;
  type: BackupType;
  parent: string | null;
  since: string;
  clock: string;
  /** Set in encrypted repositories (manifest format 2): a backup's MAC, and its parent's when it was made. */
  mac?: string | null;
  parentMac?: string | null;
}

export interface Plan<T extends Link = Link> {
  id: string;
  seq: number;
  /** The parent backup (null for a full one); `since` is its clock, or '' (the empty clock) for a full one. */
  parent: T | null;
}

const bySeq = <T extends Link>(links: readonly T[]): T[] => [...links].sort((a, b) => a.seq - b.seq);
const newest = <T extends Link>(links: readonly T[]): T | undefined => bySeq(links).at(-1);

/** Id, sequence number and parent of a new backup of `type`. */
export function planBackup<T extends Link>(links: readonly T[], type: BackupType): Plan<T> {
  const seq = (newest(links)?.seq ?? 0) + 1;
  if (type === 'full') return { id: backupId(seq, type), seq, parent: null };
  const parent = type === 'incremental' ? newest(links) : newest(links.filter((l) => l.type === 'full'));
  if (parent === undefined) throw new BackupError(`no full backup in the repository yet: create a full one before an ${type === 'incremental' ? 'incremental' : 'differential'} one`);
  return { id: backupId(seq, type), seq, parent };
}

/**
 * The chain ending at `id` (the newest backup when undefined), full backup first. A missing or
 * mismatched link is a DamagedBackupError naming it. `trust` (which throws to refuse) sees each
 * backup before the chain follows its parent, so a forged parent is reported as the forgery it is.
 */
export function resolveChain<T extends Link>(links: readonly T[], id?: string, trust?: (link: T) => void): T[] {
  const byId = new Map(links.map((l) => [l.id, l]));
  const target = id === undefined ? newest(links) : byId.get(id);
  if (target === undefined) {
    throw new BackupError(id === undefined ? 'the repository holds no backups' : `no backup ${id} in the repository (see: replikv backup list)`);
  }
  trust?.(target);
  const chain: T[] = [target];
  for (let at = target; at.parent !== null; ) {
    const parent = byId.get(at.parent);
    if (parent === undefined) throw new DamagedBackupError(`broken chain: backup ${at.id} needs ${at.parent}, which is missing`);
    trust?.(parent);
    if (parent.seq >= at.seq) throw new DamagedBackupError(`broken chain: backup ${at.id} names ${parent.id}, which is not older`);
    if (parent.clock !== at.since) throw new DamagedBackupError(`broken chain: backup ${at.id} does not continue from ${parent.id} (clocks differ)`);
    if ((parent.mac ?? null) !== (at.parentMac ?? null)) throw new DamagedBackupError(`broken chain: backup ${at.id} was made on another ${parent.id} than the one in the repository (MACs differ)`);
    chain.push(parent);
    at = parent;
  }
  if (chain.at(-1)!.type !== 'full') throw new DamagedBackupError(`broken chain: ${chain.at(-1)!.id} has no parent but is not a full backup`);
  return chain.reverse();
}

/**
 * The backups to delete to keep the `keepFull` newest full backups and everything built on them,
 * dependents first (so an interrupted prune never leaves a backup without its parent). Backups
 * whose chain is already broken are left alone: verify reports them.
 */
export function pruneSelection(links: readonly Link[], keepFull: number): string[] {
  const fulls = bySeq(links.filter((l) => l.type === 'full'));
  const dropped = new Set(fulls.slice(0, Math.max(0, fulls.length - keepFull)).map((l) => l.id));
  const byId = new Map(links.map((l) => [l.id, l]));
  const rootOf = (l: Link): string | undefined => {
    let at: Link | undefined = l;
    for (let hops = 0; at !== undefined && at.parent !== null && hops <= links.length; hops++) at = byId.get(at.parent);
    return at?.type === 'full' ? at.id : undefined;
  };
  return bySeq(links)
    .filter((l) => {
      const root = rootOf(l);
      return root !== undefined && dropped.has(root);
    })
    .map((l) => l.id)
    .reverse();
}
