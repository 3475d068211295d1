// The sibling counts the metrics export (countSiblings): kept in step by every change set, they
// always equal a fresh count of the store, after local writes with stale contexts, deletes,
// merged deltas from another replica and garbage collection; and each commit is timed (onCommit).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Keyspace, type KeyspaceOptions } from '../../src/store/keyspace.js';
import { runOp } from '../helpers/two-replicas.js';

const dirs: string[] = [];
const open: Keyspace[] = [];
afterEach(async () => {
  for (const ks of open.splice(0)) await ks.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function fresh(opts: KeyspaceOptions = {}): Promise<{ ks: Keyspace; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'replikv-sibs-'));
  dirs.push(dir);
  const ks = await Keyspace.openDir(dir, { countSiblings: true, ...opts });
  open.push(ks);
  return { ks, dir };
}

/** What a fresh pass over the store counts: reopen it. */
async function recounted(ks: Keyspace, dir: string): Promise<ReturnType<Keyspace['siblingStats']>> {
  await ks.close();
  const again = await Keyspace.openDir(dir, { countSiblings: true });
  open.push(again);
  return again.siblingStats();
}

describe('sibling counts', () => {
  it('count concurrent versions, and drop them when a write supersedes them', async () => {
    const { ks, dir } = await fresh();
    expect(ks.siblingStats()).toEqual({ keys: 0, siblings: 0 });
    await ks.put('k', Buffer.from('first'));
    const seen = ks.read('k')!.context;
    await ks.put('k', Buffer.from('second'));
    await ks.put('k', Buffer.from('concurrent'), { context: seen });
    await ks.put('other', Buffer.from('x'));
    expect(ks.siblingStats()).toEqual({ keys: 1, siblings: 3 });
    await ks.put('k', Buffer.from('merged'), { context: ks.read('k')!.context });
    expect(ks.siblingStats()).toEqual({ keys: 0, siblings: 2 });
    await ks.del('other');
    expect(ks.siblingStats()).toEqual({ keys: 0, siblings: 2 }); // a tombstone is a sibling
    expect(await recounted(ks, dir)).toEqual({ keys: 0, siblings: 2 });
  });

  it('is not kept unless asked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'replikv-sibs-'));
    dirs.push(dir);
    const ks = await Keyspace.openDir(dir);
    open.push(ks);
    await ks.put('k', Buffer.from('v'));
    expect(ks.siblingStats()).toBeNull();
  });

  it('times every commit', async () => {
    const times: number[] = [];
    const { ks } = await fresh({ onCommit: (s) => times.push(s) });
    await ks.put('a', Buffer.from('1'));
    await Promise.all([ks.put('b', Buffer.from('2')), ks.del('a')]);
    expect(times.length).toBeGreaterThanOrEqual(3); // one per transaction, grouped or not
    for (const t of times) expect(t).toBeGreaterThan(0);
  });

  it('always equal a fresh count, over writes, merges from another replica and collection', async () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('put' as const), on: fc.integer({ min: 0, max: 1 }), key: fc.integer({ min: 0, max: 5 }), stale: fc.boolean() }),
      fc.record({ t: fc.constant('del' as const), on: fc.integer({ min: 0, max: 1 }), key: fc.integer({ min: 0, max: 5 }), stale: fc.boolean() }),
      fc.record({ t: fc.constant('sync' as const), on: fc.integer({ min: 0, max: 1 }) }),
      fc.record({ t: fc.constant('gc' as const), on: fc.integer({ min: 0, max: 1 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const nodes = [await fresh(), await fresh()];
        const first = new Map<string, string>(); // a context from a key's first read, for stale writes
        for (const o of ops) await runOp(nodes.map((n) => n.ks), o, first);
        for (const { ks, dir } of nodes) {
          const kept = ks.siblingStats();
          expect(kept).toEqual(await recounted(ks, dir));
        }
        for (const ks of open.splice(0)) await ks.close().catch(() => undefined);
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});
