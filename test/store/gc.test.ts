// Garbage collection on real keyspaces (in memory): a key goes only once its whole context is
// stable, and a key that must wait does not hold up the rest.
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { behindFrontier, stableClock } from '../../src/core/gc.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';

const open = () => Keyspace.open(new MemoryBackend(), { now: () => 1_000_000 });
const text = (v: Uint8Array | undefined) => (v === undefined ? undefined : Buffer.from(v).toString());

/** Everything `from` has that `to` lacks, as deltas; never past `from`'s GC horizon. */
async function sync(from: Keyspace, to: Keyspace): Promise<void> {
  expect(behindFrontier(to.summary().clock, from.gcStats().frontier)).toBe(0);
  for (const chunk of from.delta(to.summary().clock)) await to.applyDelta(chunk);
}

/** A pushed batch: the key's state, claiming only its siblings' dots. */
async function push(from: Keyspace, to: Keyspace, key: string): Promise<void> {
  await to.applyDelta(from.pushChunk([key]));
}

/** `from`'s whole snapshot merged into `to`, claiming nothing (a divergence heal). */
async function heal(from: Keyspace, to: Keyspace): Promise<void> {
  const snap = from.snapshot();
  await to.applyDelta({ entries: [...snap.entries()], claim: Clock.empty(), heads: snap.heads });
  snap.close();
}

/** Each node collects all it may, with every other node's current clock heard. */
async function collect(nodes: Keyspace[]): Promise<void> {
  const clocks = nodes.map((n) => n.summary().clock);
  for (const [i, n] of nodes.entries()) {
    const stable = stableClock(clocks[i]!, clocks.filter((_, j) => j !== i));
    for (let step = 0; (await n.collectGarbage(stable, 1)).more; step++) expect(step).toBeLessThan(20);
  }
}

describe('collectGarbage', () => {
  it('keeps a deleted key while some member knows the delete but not the put it deleted, so an old copy of the put cannot come back', async () => {
    const [a, b, d] = [await open(), await open(), await open()];
    await a.put('k', Buffer.from('v'));
    await sync(a, b);
    const old = b.snapshot(); // a backup holding k=v
    const oldEntries = [...old.entries()];
    await a.del('k');
    await a.put('later', Buffer.from('x'));
    await sync(a, b);
    // D learns the delete and the later put by push alone: its clock covers them, not the put of v
    await push(a, d, 'k');
    await push(a, d, 'later');
    expect([1, 2, 3].map((c) => d.summary().clock.covers(a.replicaId, c))).toEqual([false, true, true]);
    await collect([a, b, d]);

    // C restored from the backup: its deltas and its snapshot reach every node
    const c = await open();
    await c.applyDelta({ entries: oldEntries, claim: old.clock, heads: old.heads });
    old.close();
    expect(text(c.get('k'))).toBe('v');
    for (const n of [a, b, d]) {
      await sync(c, n);
      await heal(c, n);
      expect(n.get('k')).toBeUndefined();
    }
    // D's gap is filled: now the key goes everywhere, and C (behind A's frontier) catches up from A
    await sync(a, d);
    await collect([a, b, d]);
    for (const n of [a, b, d]) expect([n.read('k'), n.gcStats().tombstones]).toEqual([undefined, 0]);
    for (const n of [a, b, d]) await heal(c, n);
    const snap = a.snapshot();
    c.learnHeads(snap.heads);
    await c.repairRange([...snap.entries()], undefined, undefined, snap.clock, { absentIsCollected: true });
    await c.finishRepair(snap.clock);
    snap.close();
    for (const n of [a, b, c, d]) expect(n.get('k')).toBeUndefined();
  });

  it('a key that must wait for its context holds up no other key', async () => {
    // the GC index walks tombstones by replica id: the key that must wait comes first
    const [a, b, d] = [await open(), await open(), await open()].sort((x, y) => (x.replicaId < y.replicaId ? -1 : 1)) as [Keyspace, Keyspace, Keyspace];
    await a.put('k', Buffer.from('v'));
    await sync(a, b);
    await a.del('k');
    await sync(a, b);
    await push(a, d, 'k'); // D's clock: the delete, not the put
    await d.del('j');
    for (const n of [a, b]) await push(d, n, 'j');
    const stable = stableClock(d.summary().clock, [a.summary().clock, b.summary().clock]);
    expect([stable.covers(a.replicaId, 2), stable.covers(a.replicaId, 1)]).toEqual([true, false]);
    expect(await d.collectGarbage(stable, 1)).toMatchObject({ keys: 1, siblings: 1, more: true });
    expect(d.read('j')).toBeUndefined();
    expect(await d.collectGarbage(stable, 1)).toMatchObject({ keys: 0, siblings: 0, more: false });
    expect(d.read('k')?.siblings.map((x) => x.value)).toEqual([null]); // waits for the put's dot
  });
});
