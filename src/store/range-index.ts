// Fingerprints over key ranges for range reconciliation (core/reconcile.ts): the state digest
// partitioned into 65,536 leaves by a hash of the key, each leaf the XOR of its keys' state hashes
// (state-hash.ts) and a count of them. Every change that moves the digest moves its key's leaf the
// same way (ChangeSet folds both), so the XOR of all leaves is the digest.
//
// Why fixed leaves by key hash, not a Negentropy-style split over sorted keys: a sorted split needs
// an order-statistic tree over the keys (LMDB has none), while a fixed partition is one array
// update per write, the tree above it (fanout 16, depth 4) is rebuilt from the leaves in about a
// millisecond per session, and both nodes cut the keyspace at the same places without agreeing on
// boundaries. Hashing the key spreads any key naming scheme evenly; 2^16 leaves keep about 1.5
// keys per leaf at 100,000 keys, so a differing leaf is listed in a few bytes.
//
// Kept in memory (1.25 MB) and built on first use from one pass over the states, not at open: most
// nodes never reconcile, and a store of millions of keys would pay seconds at every start.

import { LEAVES, leafSpan, type Item } from '../core/reconcile.js';
import type { ReadView } from './backend.js';
import { shiftDigest, stateHash, type DigestTarget } from './state-hash.js';

const LEAF_BITS = Math.log2(LEAVES);

/** The leaf of a key: FNV-1a over its bytes, mixed (murmur3's finalizer), top 16 bits. */
export function leafOf(key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> (32 - LEAF_BITS);
}

/** Leaf fingerprints (four 32-bit words each) and the number of keys hashed into each. */
export class RangeIndex {
  constructor(
    readonly words: Uint32Array = new Uint32Array(LEAVES * 4),
    readonly counts: Int32Array = new Int32Array(LEAVES),
  ) {}

  /** Built from every state of a read view, at digest cutoff `at`. */
  static build(view: Pick<ReadView, 'visitStates'>, at: number): RangeIndex {
    const index = new RangeIndex();
    view.visitStates(undefined, false, (key, state) => {
      const h = stateHash(key, state, at);
      if (h !== null) index.fold(h, key, 1);
      return true;
    });
    return index;
  }

  /**
   * The same, `batch` keys an event-loop turn (about 10 µs a key here: 100,000 keys would hold
   * the loop for a second), so reads, writes and sync go on while a daemon builds it.
   */
  static async buildInTurns(view: Pick<ReadView, 'visitStates'>, at: number, batch = 4096): Promise<RangeIndex> {
    const index = new RangeIndex();
    let after: Uint8Array | undefined;
    for (let more = true; more; ) {
      let n = 0;
      more = false;
      view.visitStates(after, after !== undefined, (key, state) => {
        const h = stateHash(key, state, at);
        if (h !== null) index.fold(h, key, 1);
        if (++n < batch) return true;
        after = Uint8Array.from(key);
        more = true;
        return false;
      });
      if (more) await new Promise((ok) => setImmediate(ok));
    }
    return index;
  }

  /** Folds one key's hash in (`dir` 1) or out (-1). */
  fold(h: ArrayLike<number>, key: Uint8Array, dir: 1 | -1): void {
    const leaf = leafOf(key);
    const o = leaf * 4;
    const w = this.words;
    w[o] = w[o]! ^ h[0]!;
    w[o + 1] = w[o + 1]! ^ h[1]!;
    w[o + 2] = w[o + 2]! ^ h[2]!;
    w[o + 3] = w[o + 3]! ^ h[3]!;
    this.counts[leaf] = this.counts[leaf]! + dir;
  }

  clone(): RangeIndex {
    return new RangeIndex(this.words.slice(), this.counts.slice());
  }

  /** A copy moved from cutoff `from` to `to` (as shiftDigest moves the digest). */
  shifted(view: Parameters<typeof shiftDigest>[0], from: number, to: number): RangeIndex {
    const copy = this.clone();
    if (from !== to) shiftDigest(view, { xor: (h, key, dir) => copy.fold(h, key!, dir ?? 1) }, from, to);
    return copy;
  }

  /** The XOR of every leaf: the digest it partitions. */
  total(): Uint32Array {
    const t = new Uint32Array(4);
    for (let i = 0; i < this.words.length; i++) t[i & 3] = t[i & 3]! ^ this.words[i]!;
    return t;
  }
}

/**
 * One transaction's changes to the index, staged like the rest of a ChangeSet and folded in only
 * once the transaction's callback ran (Keyspace.transact); a failed commit drops the whole index.
 */
export class RangeDelta {
  private readonly changes: { h: Uint32Array; key: Uint8Array; dir: 1 | -1 }[] = [];

  /** A digest target that moves `digest` and records the change for the index. */
  folding(digest: DigestTarget): DigestTarget {
    return {
      xor: (h, key, dir) => {
        digest.xor(h);
        if (key !== undefined) this.changes.push({ h: Uint32Array.from(h), key, dir: dir ?? 1 });
      },
    };
  }

  applyTo(index: RangeIndex): void {
    for (const c of this.changes) index.fold(c.h, c.key, c.dir);
  }
}

/**
 * The keys under each of `nodes` (disjoint tree nodes, core/reconcile.ts) with word `word` of their
 * state hash at cutoff `at`: one pass over the states. A per-leaf key list would make this cost the
 * listed keys only, but it would cost memory or a table write per new key; a session lists at most
 * four times, so a pass is the cheaper trade below millions of keys.
 */
export function listItems(view: Pick<ReadView, 'visitStates'>, nodes: readonly number[], at: number, word: number): Item<Uint8Array>[][] {
  const out: Item<Uint8Array>[][] = nodes.map(() => []);
  const where = new Int32Array(LEAVES).fill(-1);
  nodes.forEach((id, n) => {
    const { from, to } = leafSpan(id);
    where.fill(n, from, to);
  });
  view.visitStates(undefined, false, (key, state) => {
    const n = where[leafOf(key)]!;
    if (n < 0) return true;
    const h = stateHash(key, state, at);
    if (h !== null) out[n]!.push({ hash: h[word]!, key: Uint8Array.from(key) });
    return true;
  });
  return out;
}
