// The node clock (design note, "Words"): per replica, the set of dots this node's state reflects.
// Stored as sorted, disjoint, non-adjacent closed intervals [from, to] per replica. The common case
// is one interval [1, base]; a gap appears when a cut delta or a pushed batch arrives out of order,
// and a delta chunk's claim is a single interval per replica. Intervals keep both compact no matter
// how many dots they cover.
//
// A Clock is mutable (add, merge) because the write path bumps it once per write; everything else
// returns new values. No I/O, deterministic.

import type { ReplicaId } from './replica.js';

/** One replica's intervals, flat: [from0, to0, from1, to1, ...]. */
type Runs = number[];

export interface ClockJSON {
  [replica: string]: { base: number; extras: [number, number][] };
}

export class Clock {
  private readonly m = new Map<ReplicaId, Runs>();

  static empty(): Clock {
    return new Clock();
  }

  /** Builds a clock from (replica, from, to) intervals in any order; overlaps are merged. */
  static fromIntervals(list: Iterable<readonly [ReplicaId, number, number]>): Clock {
    const clock = new Clock();
    for (const [r, from, to] of list) clock.addRange(r, from, to);
    return clock;
  }

  clone(): Clock {
    const c = new Clock();
    for (const [r, runs] of this.m) c.m.set(r, runs.slice());
    return c;
  }

  /** Replica ids present, sorted (deterministic iteration for encoding and delta walks). */
  replicas(): ReplicaId[] {
    return [...this.m.keys()].sort();
  }

  isEmpty(): boolean {
    return this.m.size === 0;
  }

  /** Every dot 1..base of replica r is known. */
  base(r: ReplicaId): number {
    const runs = this.m.get(r);
    return runs !== undefined && runs[0] === 1 ? runs[1]! : 0;
  }

  /** The highest known counter of replica r (0 if none). */
  max(r: ReplicaId): number {
    const runs = this.m.get(r);
    return runs === undefined ? 0 : runs[runs.length - 1]!;
  }

  /** The intervals of r as [from, to] pairs. */
  runs(r: ReplicaId): [number, number][] {
    const runs = this.m.get(r) ?? [];
    const out: [number, number][] = [];
    for (let i = 0; i < runs.length; i += 2) out.push([runs[i]!, runs[i + 1]!]);
    return out;
  }

  covers(r: ReplicaId, c: number): boolean {
    const runs = this.m.get(r);
    if (runs === undefined) return false;
    if (c <= runs[1]! && c >= runs[0]!) return true; // fast path: the base run
    // binary search for the last run starting at or before c
    let lo = 0;
    let hi = runs.length / 2 - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (runs[mid * 2]! <= c) lo = mid;
      else hi = mid - 1;
    }
    return runs[lo * 2]! <= c && c <= runs[lo * 2 + 1]!;
  }

  /** Adds one dot. O(1) when it extends the last run (the write path). */
  add(r: ReplicaId, c: number): void {
    const runs = this.m.get(r);
    if (runs !== undefined) {
      const last = runs.length - 1;
      if (runs[last]! + 1 === c) {
        runs[last] = c;
        return;
      }
      if (runs[last]! >= c && this.covers(r, c)) return;
    }
    this.addRange(r, c, c);
  }

  /** Adds the dots from..to (inclusive) of replica r. */
  addRange(r: ReplicaId, from: number, to: number): void {
    if (to < from) return;
    const runs = this.m.get(r);
    if (runs === undefined) {
      this.m.set(r, [from, to]);
      return;
    }
    this.m.set(r, unionRuns(runs, [from, to]));
  }

  /** Forgets every dot of replica r. */
  drop(r: ReplicaId): void {
    this.m.delete(r);
  }

  /** this := this ∪ other. */
  merge(other: Clock): this {
    for (const [r, runs] of other.m) {
      const mine = this.m.get(r);
      this.m.set(r, mine === undefined ? runs.slice() : unionRuns(mine, runs));
    }
    return this;
  }

  /** Does this clock know every dot that `other` knows? */
  coversClock(other: Clock): boolean {
    for (const [r, runs] of other.m) {
      const mine = this.m.get(r);
      if (mine === undefined) return false;
      if (countRuns(subtractRuns(runs, mine)) > 0) return false;
    }
    return true;
  }

  /** The dots of this clock that `other` lacks (this \ other). */
  difference(other: Clock): Clock {
    const out = new Clock();
    for (const [r, runs] of this.m) {
      const theirs = other.m.get(r);
      const d = theirs === undefined ? runs.slice() : subtractRuns(runs, theirs);
      if (d.length > 0) out.m.set(r, d);
    }
    return out;
  }

  /** The dots both clocks hold (this ∩ other). */
  intersect(other: Clock): Clock {
    return this.difference(this.difference(other));
  }

  /** How many dots this clock holds (for "behind" counts: a.difference(b).size()). */
  size(): number {
    let n = 0;
    for (const runs of this.m.values()) n += countRuns(runs);
    return n;
  }

  /** The dots of replica r with lo < c <= hi, as a list of [from, to] intervals. */
  slice(r: ReplicaId, lo: number, hi: number): [number, number][] {
    const runs = this.m.get(r);
    const out: [number, number][] = [];
    if (runs === undefined) return out;
    for (let i = 0; i < runs.length; i += 2) {
      const from = Math.max(runs[i]!, lo + 1);
      const to = Math.min(runs[i + 1]!, hi);
      if (from <= to) out.push([from, to]);
    }
    return out;
  }

  equals(other: Clock): boolean {
    if (this.m.size !== other.m.size) return false;
    for (const [r, runs] of this.m) {
      const theirs = other.m.get(r);
      if (theirs === undefined || theirs.length !== runs.length) return false;
      for (let i = 0; i < runs.length; i++) if (runs[i] !== theirs[i]) return false;
    }
    return true;
  }

  /** Human/JSON form: base plus the extra intervals above it. */
  toJSON(): ClockJSON {
    const out: ClockJSON = {};
    for (const r of this.replicas()) {
      const base = this.base(r);
      out[r] = { base, extras: this.runs(r).filter(([from]) => from !== 1) };
    }
    return out;
  }

  /** Visits every (replica, from, to) interval in canonical order. */
  forEachRun(fn: (r: ReplicaId, from: number, to: number) => void): void {
    for (const r of this.replicas()) {
      const runs = this.m.get(r)!;
      for (let i = 0; i < runs.length; i += 2) fn(r, runs[i]!, runs[i + 1]!);
    }
  }
}

function countRuns(runs: Runs): number {
  let n = 0;
  for (let i = 0; i < runs.length; i += 2) n += runs[i + 1]! - runs[i]! + 1;
  return n;
}

/** Union of two normalised run lists; adjacent runs are joined. */
function unionRuns(a: Runs, b: Runs): Runs {
  const out: Runs = [];
  let i = 0;
  let j = 0;
  const push = (from: number, to: number) => {
    const n = out.length;
    if (n > 0 && from <= out[n - 1]! + 1) {
      if (to > out[n - 1]!) out[n - 1] = to;
    } else {
      out.push(from, to);
    }
  };
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! <= b[j]!)) {
      push(a[i]!, a[i + 1]!);
      i += 2;
    } else {
      push(b[j]!, b[j + 1]!);
      j += 2;
    }
  }
  return out;
}

/** a \ b for normalised run lists. */
function subtractRuns(a: Runs, b: Runs): Runs {
  const out: Runs = [];
  let j = 0;
  for (let i = 0; i < a.length; i += 2) {
    let from = a[i]!;
    const to = a[i + 1]!;
    while (j < b.length && b[j + 1]! < from) j += 2;
    let k = j;
    while (k < b.length && b[k]! <= to && from <= to) {
      if (b[k]! > from) out.push(from, b[k]! - 1);
      from = Math.max(from, b[k + 1]! + 1);
      k += 2;
    }
    if (from <= to) out.push(from, to);
  }
  return out;
}
