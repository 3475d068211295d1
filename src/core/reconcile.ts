// Range reconciliation (pure, no I/O): a puller finds where its keyspace and a server's differ by
// comparing fingerprints over key ranges, splitting only the ranges that differ, and asks for only
// the differing key states. The ranges are the nodes of a fixed tree over the 2^16 leaves of the
// range index (store/range-index.ts): fanout 16, depth 4, so a session takes at most four rounds of
// fingerprints, then one for the states.
//
// One round: the puller sends, for each range it knows differs, the fingerprints of its 16 children
// (one 32-bit word of the 128-bit XOR; which word is the session's choice, so a collision in one
// session is not one in the next). The server compares each with its own: equal ranges are done; a
// differing range is either split (its children come next round) or, when the server holds at
// most ITEMS_MAX keys in it or it is a leaf, listed: the server sends its keys' hashes. The puller
// compares a list with its own keys there: hashes it lacks are needed (their states are asked
// for), its keys whose hash the server did not list are candidates for "the server's state
// differs or it has none" (absent once no state for them came back).
//
// Nothing here deletes or overwrites anything: the outputs are requests and lists. A lying server
// can only make the puller descend the tree (at most every node once, four rounds), accept at most
// `maxItems` listed hashes, and ask for states that must hash to what was listed. A lying puller
// can only make the server answer each node once and send each listed key's state once.

import { DecodeError } from '../errors.js';

export const FANOUT_BITS = 4;
export const FANOUT = 1 << FANOUT_BITS;
/** The leaves' level: the root is level 0. */
export const LEAF_LEVEL = 4;
export const LEAVES = 1 << (FANOUT_BITS * LEAF_LEVEL);
/** A differing range with at most this many keys on the server is listed rather than split. */
export const ITEMS_MAX = 16;

/** Node ids: level by level from the root (0), each level's nodes in order. */
const LEVEL_START = [0, 1, 17, 273, 4369, 69905];
export const NODES = LEVEL_START[LEAF_LEVEL + 1]!;

export function nodeId(level: number, index: number): number {
  return LEVEL_START[level]! + index;
}

export function levelOf(id: number): number {
  let l = 0;
  while (id >= LEVEL_START[l + 1]!) l++;
  return l;
}

/** The leaves [from, to) under a node. */
export function leafSpan(id: number): { from: number; to: number } {
  const l = levelOf(id);
  const shift = FANOUT_BITS * (LEAF_LEVEL - l);
  const index = id - LEVEL_START[l]!;
  return { from: index << shift, to: (index + 1) << shift };
}

/** Fingerprints (one 32-bit word) and key counts of every node, from the leaves. */
export class RangeTree {
  private constructor(
    readonly fps: Uint32Array,
    readonly counts: Int32Array,
  ) {}

  /** `leafWords`: four words per leaf (range-index.ts); `word`: which of them fingerprints (0-3). */
  static fromLeaves(leafWords: Uint32Array, leafCounts: Int32Array, word: number): RangeTree {
    const fps = new Uint32Array(NODES);
    const counts = new Int32Array(NODES);
    const leaf0 = LEVEL_START[LEAF_LEVEL]!;
    for (let i = 0; i < LEAVES; i++) {
      fps[leaf0 + i] = leafWords[i * 4 + word]!;
      counts[leaf0 + i] = leafCounts[i]!;
    }
    for (let l = LEAF_LEVEL - 1; l >= 0; l--) {
      const start = LEVEL_START[l]!;
      const below = LEVEL_START[l + 1]!;
      for (let i = 0; i < LEVEL_START[l + 1]! - start; i++) {
        let f = 0;
        let c = 0;
        for (let j = 0; j < FANOUT; j++) {
          f ^= fps[below + i * FANOUT + j]!;
          c += counts[below + i * FANOUT + j]!;
        }
        fps[start + i] = f >>> 0;
        counts[start + i] = c;
      }
    }
    return new RangeTree(fps, counts);
  }

  /** The ids of a node's children. */
  static children(id: number): number[] {
    const l = levelOf(id);
    const first = LEVEL_START[l + 1]! + (id - LEVEL_START[l]!) * FANOUT;
    return Array.from({ length: FANOUT }, (_, j) => first + j);
  }
}

/** The puller's fingerprints of a split node's children. */
export interface FpGroup {
  parent: number;
  fps: Uint32Array;
}

/** The server's answer to one group: which children differ, which of those it lists, and the lists in child order. */
export interface DiffGroup {
  differ: number;
  listed: number;
  lists: Uint32Array[];
}

/** A peer's reconciliation message that breaks the protocol (counted like any refused frame). */
export class ReconError extends DecodeError {
  override readonly name = 'ReconError';
}

/** The hashes (the session's word) of the server's keys under each of `nodes`: its store, read by the shell. */
export type ListItems = (nodes: readonly number[]) => Uint32Array[];

/** The server's side of one session. */
export class ReconServer {
  /** Nodes the puller may send children of: the root, then what this server split. */
  private readonly open = new Set<number>([0]);
  /** Hashes this server listed and has not yet sent a state for (NEED may name only these). */
  private readonly listed = new Set<number>();

  constructor(private readonly tree: RangeTree) {}

  answer(groups: readonly FpGroup[], list: ListItems): DiffGroup[] {
    const out: DiffGroup[] = [];
    const toList: number[] = [];
    for (const g of groups) {
      if (!this.open.delete(g.parent)) throw new ReconError(`range ${g.parent} was not split by this server, or asked twice`);
      if (g.fps.length !== FANOUT) throw new ReconError(`a group holds ${g.fps.length} fingerprints, not ${FANOUT}`);
      const kids = RangeTree.children(g.parent);
      const leafKids = levelOf(kids[0]!) === LEAF_LEVEL;
      let differ = 0;
      let listed = 0;
      for (let j = 0; j < FANOUT; j++) {
        const id = kids[j]!;
        if (this.tree.fps[id] === g.fps[j]) continue;
        differ |= 1 << j;
        if (leafKids || this.tree.counts[id]! <= ITEMS_MAX) {
          listed |= 1 << j;
          toList.push(id);
        } else {
          this.open.add(id);
        }
      }
      out.push({ differ, listed, lists: [] });
    }
    const lists = toList.length === 0 ? [] : list(toList);
    let k = 0;
    for (const d of out) {
      for (let j = 0; j < FANOUT; j++) {
        if ((d.listed & (1 << j)) === 0) continue;
        const l = lists[k++]!;
        for (const h of l) this.listed.add(h);
        d.lists.push(l);
      }
    }
    return out;
  }

  /** Checks a NEED: only hashes listed this session, each once. */
  need(hashes: readonly number[]): void {
    for (const h of hashes) {
      if (!this.listed.delete(h)) throw new ReconError(`a state was asked for by a hash this server did not list (or asked twice): ${h.toString(16)}`);
    }
  }
}

/** One of the puller's own keys in a listed range. */
export interface Item<K> {
  hash: number;
  key: K;
}

export interface PullerStep<K> {
  /** Groups for the next round (empty: the descent is over). */
  next: FpGroup[];
  /** Hashes whose states to ask for. */
  need: number[];
  /** Own keys whose hash the server did not list (absent there, unless a state for them comes). */
  candidates: K[];
}

/** The puller's side of one session. */
export class ReconPuller<K> {
  /** Groups sent and not yet answered, in order. */
  private sent: FpGroup[] = [];
  private readonly needed = new Set<number>();
  private items = 0;
  rounds = 0;

  constructor(
    private readonly tree: RangeTree,
    /** The most hashes a server may list in a session (past it: a lie or a broken peer). */
    private readonly maxItems: number,
  ) {}

  /** The first round: the root's children. */
  start(): FpGroup[] {
    return (this.sent = [this.group(0)]);
  }

  private group(parent: number): FpGroup {
    const fps = new Uint32Array(FANOUT);
    RangeTree.children(parent).forEach((id, j) => (fps[j] = this.tree.fps[id]!));
    return { parent, fps };
  }

  /**
   * The server's answer to the last round. `mine` lists this node's own keys under nodes (the
   * shell reads them from the store), for the ranges the server listed.
   */
  onDiff(diffs: readonly DiffGroup[], mine: (nodes: readonly number[]) => Item<K>[][]): PullerStep<K> {
    if (diffs.length !== this.sent.length) throw new ReconError(`${diffs.length} answers to ${this.sent.length} ranges`);
    this.rounds++;
    const next: FpGroup[] = [];
    const listedNodes: number[] = [];
    const theirLists: Uint32Array[] = [];
    diffs.forEach((d, i) => {
      const kids = RangeTree.children(this.sent[i]!.parent);
      if ((d.listed & ~d.differ) !== 0 || d.differ >>> FANOUT !== 0) throw new ReconError('an answer lists ranges it does not say differ');
      if (d.lists.length !== popcount(d.listed)) throw new ReconError('an answer holds the wrong number of lists');
      let k = 0;
      for (let j = 0; j < FANOUT; j++) {
        if ((d.differ & (1 << j)) === 0) continue;
        const id = kids[j]!;
        if ((d.listed & (1 << j)) !== 0) {
          const l = d.lists[k++]!;
          this.items += l.length;
          if (this.items > this.maxItems) throw new ReconError(`the server listed more than ${this.maxItems} keys`);
          listedNodes.push(id);
          theirLists.push(l);
        } else {
          if (levelOf(id) === LEAF_LEVEL) throw new ReconError('the server split a leaf');
          next.push(this.group(id));
        }
      }
    });
    const need: number[] = [];
    const candidates: K[] = [];
    const own = listedNodes.length === 0 ? [] : mine(listedNodes);
    own.forEach((items, n) => {
      const theirs = new Set(theirLists[n]!);
      const have = new Set<number>();
      for (const it of items) {
        have.add(it.hash);
        if (!theirs.has(it.hash)) candidates.push(it.key);
      }
      for (const h of theirs) {
        if (have.has(h) || this.needed.has(h)) continue;
        this.needed.add(h);
        need.push(h);
      }
    });
    this.sent = next;
    return { next, need, candidates };
  }

  /**
   * A state arrived whose hash is `hash`: true when it was asked for. Two of the server's keys may
   * share a 32-bit hash (at 100,000 keys, about one pair does), and both come: a hash stays asked
   * for, and the shell bounds the states a session may bring.
   */
  accept(hash: number): boolean {
    return this.needed.has(hash);
  }
}

function popcount(x: number): number {
  let n = 0;
  for (; x !== 0; x &= x - 1) n++;
  return n;
}
