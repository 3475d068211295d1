// Chain logic (pure): parents of new backups, the chain a restore applies, and prune selection,
// checked on random histories of backup types.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planBackup, pruneSelection, resolveChain, type Link } from '../../src/backup/chain.js';
import { BackupError, DamagedBackupError } from '../../src/backup/errors.js';
import { BACKUP_TYPES, type BackupType } from '../../src/backup/manifest.js';

/** A repository history built the way `backup create` builds it; each backup's clock is its id. */
function history(types: readonly BackupType[]): Link[] {
  const links: Link[] = [];
  for (const type of types) {
    if (type !== 'full' && !links.some((l) => l.type === 'full')) continue;
    const plan = planBackup(links, type);
    links.push({ id: plan.id, seq: plan.seq, type, parent: plan.parent?.id ?? null, since: plan.parent?.clock ?? '', clock: `clock-${plan.id}` });
  }
  return links;
}

const types = fc.array(fc.constantFrom(...BACKUP_TYPES), { minLength: 1, maxLength: 30 });

describe('backup chains', () => {
  it('an incremental backup adds to the newest backup, a differential one to the newest full one', () => {
    const h = history(['full', 'incremental', 'incremental', 'differential', 'incremental', 'full', 'differential']);
    expect(h.map((l) => [l.id, l.parent])).toEqual([
      ['000001-full', null],
      ['000002-incremental', '000001-full'],
      ['000003-incremental', '000002-incremental'],
      ['000004-differential', '000001-full'],
      ['000005-incremental', '000004-differential'],
      ['000006-full', null],
      ['000007-differential', '000006-full'],
    ]);
    expect(resolveChain(h, '000005-incremental').map((l) => l.id)).toEqual(['000001-full', '000004-differential', '000005-incremental']);
    expect(resolveChain(h, '000003-incremental').map((l) => l.id)).toEqual(['000001-full', '000002-incremental', '000003-incremental']);
    expect(resolveChain(h).map((l) => l.id)).toEqual(['000006-full', '000007-differential']);
  });

  it('refuses a partial backup before any full one', () => {
    expect(() => planBackup([], 'incremental')).toThrow(/no full backup/);
    expect(() => planBackup([], 'differential')).toThrow(BackupError);
  });

  it('every chain starts with a full backup and follows parents down to its target', () => {
    fc.assert(
      fc.property(types, (t) => {
        const h = history(t);
        for (const target of h) {
          const chain = resolveChain(h, target.id);
          expect(chain[0]!.type).toBe('full');
          expect(chain.at(-1)).toBe(target);
          for (let i = 1; i < chain.length; i++) expect(chain[i]!.parent).toBe(chain[i - 1]!.id);
          // at most: a full, a differential, then incrementals
          expect(chain.slice(1).filter((l) => l.type === 'full')).toEqual([]);
          expect(chain.filter((l) => l.type === 'differential').length).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  it('names a missing link, a link that does not continue its parent, and an unknown id', () => {
    const h = history(['full', 'incremental', 'incremental']);
    expect(() => resolveChain(h.filter((l) => l.id !== '000002-incremental'), '000003-incremental')).toThrow(/000003-incremental needs 000002-incremental, which is missing/);
    const forged = h.map((l) => (l.id === '000003-incremental' ? { ...l, since: 'another clock' } : l));
    expect(() => resolveChain(forged, '000003-incremental')).toThrow(DamagedBackupError);
    expect(() => resolveChain(h, '000009-full')).toThrow(/no backup 000009-full/);
    expect(() => resolveChain([])).toThrow(/no backups/);
  });

  it('follows a parent only after trusting it, and refuses a parent other than the one a backup was made on', () => {
    const h = history(['full', 'incremental', 'incremental']).map((l) => ({ ...l, mac: `mac-${l.id}`, parentMac: l.parent === null ? null : `mac-${l.parent}` }));
    const seen: string[] = [];
    expect(resolveChain(h, '000003-incremental', (l) => void seen.push(l.id)).map((l) => l.id)).toEqual(seen.reverse());
    const untrusted = (l: Link) => {
      if (l.id === '000002-incremental') throw new DamagedBackupError(`${l.id} fails authentication`);
    };
    expect(() => resolveChain(h, '000003-incremental', untrusted)).toThrow(/000002-incremental fails authentication/);
    // another 000002-incremental with the same clock (made again after the first was deleted)
    const remade = h.map((l) => (l.id === '000002-incremental' ? { ...l, mac: 'mac-remade' } : l));
    expect(() => resolveChain(remade, '000003-incremental')).toThrow(/000003-incremental was made on another 000002-incremental/);
  });

  it('prune keeps the N newest full backups and every backup built on them, deleting dependents first', () => {
    fc.assert(
      fc.property(types, fc.integer({ min: 1, max: 4 }), (t, keep) => {
        const h = history(t);
        const doomed = pruneSelection(h, keep);
        const kept = h.filter((l) => !doomed.includes(l.id));
        const fulls = h.filter((l) => l.type === 'full');
        expect(kept.filter((l) => l.type === 'full')).toEqual(fulls.slice(-keep));
        for (const l of kept) expect(() => resolveChain(kept, l.id)).not.toThrow();
        // deleting in the given order never leaves a listed backup without its parent
        let left = h;
        for (const id of doomed) {
          left = left.filter((l) => l.id !== id);
          for (const l of left) expect(() => resolveChain(left, l.id)).not.toThrow();
        }
        // nothing built on a kept full backup is deleted
        for (const id of doomed) expect(fulls.slice(-keep).map((f) => f.id)).not.toContain(resolveChain(h, id)[0]!.id);
      }),
    );
  });
});
