// Equivocation in real keyspaces: one replica's dot reaches nodes with different contents. Nodes
// converge to the same bytes and digest by merging each other's states, report the replica, and a
// node never gives up its own write for another version of it: it writes it again instead.
import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { encodeKeyState } from '../../src/core/codec.js';
import type { DeltaChunk } from '../../src/core/delta.js';
import { Keyspace, type Equivocation } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import { testReplica } from '../helpers/replicas.js';

const open: Keyspace[] = [];
afterEach(async () => {
  for (const ks of open.splice(0)) await ks.close();
});

const NOW = 1_800_000_000_000;

async function node(): Promise<{ ks: Keyspace; found: Equivocation[] }> {
  const ks = await Keyspace.open(new MemoryBackend(), { now: () => NOW });
  const found: Equivocation[] = [];
  ks.onEquivocation = (f) => found.push(...f);
  open.push(ks);
  return { ks, found };
}

const X = testReplica(); // the equivocating replica

/** X's write of dot (X, 1) to `key` with `value`, as a push carries it. */
function forged(key: string, value: string, exp?: number): DeltaChunk {
  const state = encodeKeyState({ ctx: [[X.r, 1]], sibs: [{ r: X.r, c: 1, hlc: NOW * 1024, value: Buffer.from(value), ...(exp === undefined ? {} : { exp }) }] });
  return { entries: [{ key: Buffer.from(key), state }], claim: Clock.fromIntervals([[X.r, 1, 1]]), heads: [X.head(1)] };
}

/** Everything `from` holds, merged into `to` (what a heal's snapshot does, with no claim). */
const mergeAll = (from: Keyspace, to: Keyspace): Promise<unknown> => applyAll(from, to);

describe('equivocation in keyspaces', () => {
  it('three nodes given three versions of one dot converge to the same one, and report the replica', async () => {
    const nodes = await Promise.all([node(), node(), node()]);
    const versions = ['from-x-to-a', 'from-x-to-b', 'from-x-to-c'];
    await Promise.all(nodes.map((n, i) => n.ks.applyDelta(forged('k', versions[i]!))));
    expect(new Set(nodes.map((n) => n.ks.summary().digest)).size).toBe(3);
    expect(nodes.every((n) => n.ks.summary().clock.equals(nodes[0]!.ks.summary().clock))).toBe(true);

    // a ring of merges, as heals between pairs would do
    for (const [i, j] of [[0, 1], [1, 2], [2, 0], [0, 1]] as const) await mergeAll(nodes[i]!.ks, nodes[j]!.ks);
    const digests = new Set(nodes.map((n) => n.ks.summary().digest));
    expect(digests.size).toBe(1);
    for (const n of nodes) expect(Buffer.from(n.ks.get('k')!).toString()).toBe('from-x-to-a'); // the lowest
    const reported = nodes.flatMap((n) => n.found.flatMap((f) => f.dots));
    expect(reported.length).toBeGreaterThanOrEqual(2);
    expect(reported.every((d) => d.r === X.r && d.c === 1)).toBe(true);
    // converged: merging again changes nothing and finds nothing more
    const before = reported.length;
    for (const [i, j] of [[0, 1], [1, 2], [2, 0]] as const) expect((await applyAll(nodes[i]!.ks, nodes[j]!.ks)).changed).toBe(0);
    expect(nodes.flatMap((n) => n.found.flatMap((f) => f.dots)).length).toBe(before);
  });

  it('versions differing only in expiry converge too', async () => {
    const [a, b] = await Promise.all([node(), node()]);
    await a.ks.applyDelta(forged('k', 'same', NOW + 3_600_000));
    await b.ks.applyDelta(forged('k', 'same', NOW + 7_200_000));
    await mergeAll(a.ks, b.ks);
    await mergeAll(b.ks, a.ks);
    expect(a.ks.expiryOf('k')).toBe(NOW + 3_600_000);
    expect(b.ks.expiryOf('k')).toBe(NOW + 3_600_000);
    expect(a.ks.summary().digest).toBe(b.ks.summary().digest);
  });

  it('a node keeps its own write against a forged version, and writes it again so the others follow', async () => {
    const [o, b] = await Promise.all([node(), node()]);
    await o.ks.put('k', Buffer.from('real'));
    await b.ks.applyDelta(o.ks.pushChunk(['k']));
    // a member hands b another version of o's dot, which sorts first: b takes it
    const [sib] = o.ks.read('k')!.siblings;
    const junk = encodeKeyState({ ctx: [[sib!.replica, sib!.counter]], sibs: [{ r: sib!.replica, c: sib!.counter, hlc: 0, value: Buffer.from('junk') }] });
    await b.ks.applyDelta({ entries: [{ key: Buffer.from('k'), state: junk }], claim: Clock.empty() });
    expect(Buffer.from(b.ks.get('k')!).toString()).toBe('junk');

    await mergeAll(b.ks, o.ks); // o meets the forgery of its own write
    expect(Buffer.from(o.ks.get('k')!).toString()).toBe('real');
    expect(o.found.flatMap((f) => f.dots)).toEqual([{ r: o.ks.replicaId, c: 1 }]);
    expect(o.ks.read('k')!.siblings.map((s) => s.counter)).toEqual([2]); // written again
    await b.ks.applyDelta(o.ks.pushChunk(['k']));
    expect(Buffer.from(b.ks.get('k')!).toString()).toBe('real');
    expect(b.ks.summary().digest).toBe(o.ks.summary().digest);
  });
});

async function applyAll(from: Keyspace, to: Keyspace): Promise<{ changed: number }> {
  const snap = from.snapshot();
  try {
    return await to.applyDelta({ entries: [...snap.entries()], claim: Clock.empty(), heads: snap.heads });
  } finally {
    snap.close();
  }
}
