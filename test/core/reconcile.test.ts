// Range reconciliation's pure core (core/reconcile.ts): two random keyspaces find exactly their
// differences in at most four rounds, and a lying server costs bounded rounds and bytes and can
// make the puller ask only for what it listed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FANOUT, ITEMS_MAX, LEAF_LEVEL, LEAVES, NODES, ReconError, ReconPuller, ReconServer, RangeTree, leafSpan, type DiffGroup, type FpGroup, type Item } from '../../src/core/reconcile.js';
import { leafOf } from '../../src/store/range-index.js';

/** A keyspace as key -> the session word of its state hash. */
type Space = Map<string, number>;

const enc = new TextEncoder();
const leafCache = new Map<string, number>();
const leaf = (k: string): number => {
  let l = leafCache.get(k);
  if (l === undefined) leafCache.set(k, (l = leafOf(enc.encode(k))));
  return l;
};

function treeOf(space: Space): RangeTree {
  const words = new Uint32Array(LEAVES * 4);
  const counts = new Int32Array(LEAVES);
  for (const [k, h] of space) {
    words[leaf(k) * 4]! ^= h;
    counts[leaf(k)]!++;
  }
  return RangeTree.fromLeaves(words, counts, 0);
}

const byLeaf = new WeakMap<Space, Map<number, Item<string>[]>>();
function itemsUnder(space: Space, nodes: readonly number[]): Item<string>[][] {
  let m = byLeaf.get(space);
  if (m === undefined) {
    byLeaf.set(space, (m = new Map()));
    for (const [key, hash] of space) {
      const l = leaf(key);
      if (!m.has(l)) m.set(l, []);
      m.get(l)!.push({ hash, key });
    }
  }
  const leaves = m;
  return nodes.map((id) => {
    const { from, to } = leafSpan(id);
    if (to - from > 256) return [...space].filter(([k]) => leaf(k) >= from && leaf(k) < to).map(([key, hash]) => ({ hash, key }));
    const out: Item<string>[] = [];
    for (let l = from; l < to; l++) out.push(...(leaves.get(l) ?? []));
    return out;
  });
}

interface Outcome {
  rounds: number;
  fpBytes: number;
  listBytes: number;
  need: number[];
  absent: string[];
  received: string[];
}

/** One session, the server answering honestly or through `lie`. */
function session(server: Space, puller: Space, lie?: (groups: readonly FpGroup[]) => DiffGroup[], maxItems = 2 * puller.size + 1000): Outcome {
  const srv = new ReconServer(treeOf(server));
  const pull = new ReconPuller<string>(treeOf(puller), maxItems);
  const out: Outcome = { rounds: 0, fpBytes: 0, listBytes: 0, need: [], absent: [], received: [] };
  const candidates: string[] = [];
  let groups = pull.start();
  while (groups.length > 0) {
    out.fpBytes += groups.length * FANOUT * 4;
    const diffs = lie === undefined ? srv.answer(groups, (nodes) => itemsUnder(server, nodes).map((l) => Uint32Array.from(l, (i) => i.hash))) : lie(groups);
    for (const d of diffs) for (const l of d.lists) out.listBytes += l.length * 4;
    const step = pull.onDiff(diffs, (nodes) => itemsUnder(puller, nodes));
    out.need.push(...step.need);
    candidates.push(...step.candidates);
    groups = step.next;
  }
  out.rounds = pull.rounds;
  if (lie === undefined) srv.need(out.need);
  const wanted = new Set(out.need);
  for (const [k, h] of server) if (wanted.has(h) && pull.accept(h)) out.received.push(k);
  expect(pull.accept(0x12345678) && !wanted.has(0x12345678)).toBe(false); // never a hash not asked for
  const got = new Set(out.received);
  out.absent = candidates.filter((k) => !got.has(k));
  return out;
}

/** Keys k0..k(n-1), each with a distinct 32-bit hash (a version number mixed in, so a change is a new hash). */
const hashOf = (k: string, version: number): number => {
  let h = 0x9747b28c ^ version;
  for (let i = 0; i < k.length; i++) h = Math.imul(h ^ k.charCodeAt(i), 0x5bd1e995) >>> 0;
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
};

const spaces = fc
  .record({
    n: fc.integer({ min: 0, max: 3000 }),
    changes: fc.array(fc.record({ i: fc.nat(3999), what: fc.constantFrom('change', 'delete', 'add') }), { maxLength: 120 }),
  })
  .map(({ n, changes }) => {
    const a: Space = new Map();
    for (let i = 0; i < n; i++) a.set(`k${i}`, hashOf(`k${i}`, 0));
    const b = new Map(a);
    changes.forEach((c, v) => {
      const k = `k${c.i}`;
      if (c.what === 'delete') b.delete(k);
      else b.set(k, hashOf(k, v + 1));
    });
    return [a, b] as const;
  });

describe('range reconciliation', () => {
  it('finds exactly the keys whose states differ, in at most four rounds', () => {
    fc.assert(
      fc.property(spaces, fc.boolean(), ([a, b], flip) => {
        const [server, puller] = flip ? [b, a] : [a, b];
        const out = session(server, puller);
        expect(out.rounds).toBeLessThanOrEqual(LEAF_LEVEL);
        const differ = [...server].filter(([k, h]) => puller.get(k) !== h).map(([k]) => k);
        expect(new Set(out.received)).toEqual(new Set(differ));
        expect(new Set(out.absent)).toEqual(new Set([...puller.keys()].filter((k) => !server.has(k))));
      }),
      { numRuns: 60 },
    );
  });

  it('costs one round of 16 fingerprints when the keyspaces are equal', () => {
    fc.assert(
      fc.property(spaces, ([a]) => {
        const out = session(a, new Map(a));
        expect(out).toMatchObject({ rounds: 1, fpBytes: 64, listBytes: 0, need: [], absent: [] });
      }),
      { numRuns: 20 },
    );
  });

  it('costs a few fingerprints per difference, not per key', () => {
    const a: Space = new Map();
    for (let i = 0; i < 20_000; i++) a.set(`k${i}`, hashOf(`k${i}`, 0));
    const b = new Map(a);
    for (let i = 0; i < 200; i++) {
      const k = `k${i * 97}`;
      if (i % 2 === 0) b.delete(k);
      else b.set(k, hashOf(k, 1));
    }
    const out = session(a, b);
    expect(out.received.length).toBe(200); // the server holds all 20,000: 100 changed, 100 missing on the puller
    expect(out.absent.length).toBe(0);
    expect(out.rounds).toBe(3);
    // about 2,400 fingerprints and 5 listed hashes per difference: far below 4 bytes a key (80,000)
    expect(out.fpBytes + out.listBytes).toBeLessThan(20_000);
  });

  it('a lying server costs at most every node once and four rounds, and gets asked only for hashes it listed', () => {
    const lie = fc.record({ seed: fc.nat(), splitAll: fc.boolean(), listSize: fc.integer({ min: 0, max: ITEMS_MAX + 4 }) });
    fc.assert(
      fc.property(spaces, lie, ([a, b], l) => {
        let x = l.seed;
        const rand = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
        const listed = new Set<number>();
        const liar = (groups: readonly FpGroup[]): DiffGroup[] =>
          groups.map((g) => {
            const leafKids = g.parent >= NODES - LEAVES - LEAVES / FANOUT;
            const differ = l.splitAll ? 0xffff : rand() & 0xffff;
            const listedMask = leafKids ? differ : l.splitAll ? 0 : differ & rand();
            const lists: Uint32Array[] = [];
            for (let j = 0; j < FANOUT; j++) {
              if ((listedMask & (1 << j)) === 0) continue;
              const list = Uint32Array.from({ length: l.listSize }, () => rand());
              list.forEach((h) => listed.add(h));
              lists.push(list);
            }
            return { differ, listed: listedMask, lists };
          });
        const maxItems = 2 * b.size + 1000;
        let out: Outcome;
        try {
          out = session(a, b, liar, maxItems);
        } catch (err) {
          expect(err).toBeInstanceOf(ReconError); // too many items listed: the session stops
          return;
        }
        expect(out.rounds).toBeLessThanOrEqual(LEAF_LEVEL);
        expect(out.fpBytes).toBeLessThanOrEqual(NODES * 4);
        for (const h of out.need) expect(listed.has(h)).toBe(true);
        expect(out.need.length).toBeLessThanOrEqual(maxItems);
        for (const k of out.absent) expect(b.has(k)).toBe(true); // only the puller's own keys, never more
      }),
      { numRuns: 12 },
    );
  });

  it('a server refuses ranges it did not split, and hashes it did not list', () => {
    const space: Space = new Map([['a', 1]]);
    const srv = new ReconServer(treeOf(space));
    expect(() => srv.answer([{ parent: 5, fps: new Uint32Array(FANOUT) }], () => [])).toThrow(ReconError);
    srv.answer([{ parent: 0, fps: new Uint32Array(FANOUT) }], (nodes) => itemsUnder(space, nodes).map((l) => Uint32Array.from(l, (i) => i.hash)));
    expect(() => srv.answer([{ parent: 0, fps: new Uint32Array(FANOUT) }], () => [])).toThrow(ReconError); // asked twice
    expect(() => srv.need([12345])).toThrow(ReconError);
    srv.need([1]);
    expect(() => srv.need([1])).toThrow(ReconError); // each listed state once
  });

  it('a puller refuses answers that split a leaf or list ranges not said to differ', () => {
    const pull = new ReconPuller<string>(treeOf(new Map()), 100);
    pull.start();
    expect(() => pull.onDiff([{ differ: 1, listed: 2, lists: [new Uint32Array(0)] }], () => [])).toThrow(ReconError);
    const deep = new ReconPuller<string>(treeOf(new Map()), 100);
    let groups = deep.start();
    expect(() => {
      for (let i = 0; i < 5; i++) groups = deep.onDiff(groups.map(() => ({ differ: 1, listed: 0, lists: [] })), () => []).next;
    }).toThrow(/split a leaf/);
  });
});
