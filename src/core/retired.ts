// Retired replicas: replica ids that write no more (a node rebuilt or restored got a new one, a
// forgotten peer's, one moved from at the counter limit), each with its last counter. Every replica
// id stays in node clocks for ever; a retired one whose entry is exactly [1..c] costs the same ~20
// bytes in every DIGEST with nothing to say. So two nodes that hold the same table of retired
// replicas leave those entries out of the clocks they send each other, and put them back on receipt.
//
// Compression is exact or nothing: an entry is left out only when the sender's clock for r is
// exactly [1..c] and the receiver's table (proved equal by its hash) says c too. A table entry is
// therefore only a shorthand, never a belief about the replica: a wrong or forged one (a live
// replica, any counter) can make a digest longer, never make a receiver think a sender holds what it
// does not. Tables merge by union, the higher counter winning, so all nodes converge on one table.
// Pure; no I/O.

import { createHash } from 'node:crypto';
import { Clock } from './clock.js';
import type { ReplicaId } from './replica.js';

/** Most retired replicas a node keeps: the same bound as the heads it keeps. */
export const MAX_RETIRED = 100_000;

export class RetiredTable {
  private readonly m = new Map<ReplicaId, number>();
  private hashCache: Buffer | null = null;

  get size(): number {
    return this.m.size;
  }

  /** Records that r writes no more beyond c (the higher counter wins). False when nothing changed or the table is full. */
  add(r: ReplicaId, c: number): boolean {
    const had = this.m.get(r);
    if (had !== undefined && had >= c) return false;
    if (had === undefined && this.m.size >= MAX_RETIRED) return false;
    this.m.set(r, c);
    this.hashCache = null;
    return true;
  }

  entries(): [ReplicaId, number][] {
    return [...this.m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** 16 bytes naming the whole table: equal hashes, equal tables (SHA-256 of the sorted entries). */
  hash(): Uint8Array {
    if (this.hashCache === null) {
      const h = createHash('sha256');
      for (const [r, c] of this.entries()) h.update(`${r}:${c}\n`);
      this.hashCache = h.digest().subarray(0, 16);
    }
    return this.hashCache;
  }

  /**
   * The clock without the entries this table abbreviates (exactly [1..c] for a retired r at c), and
   * a bitmap over entries() of those left out: a receiver must tell "left out" from "never heard of".
   */
  compress(clock: Clock): { clock: Clock; omitted: Uint8Array } {
    const list = this.entries();
    const omitted = new Uint8Array((list.length + 7) >> 3);
    let out: Clock | undefined;
    list.forEach(([r, c], i) => {
      const runs = clock.runs(r);
      if (runs.length !== 1 || runs[0]![0] !== 1 || runs[0]![1] !== c) return;
      out ??= clock.clone();
      out.drop(r);
      omitted[i >> 3]! |= 1 << (i & 7);
    });
    return { clock: out ?? clock, omitted };
  }

  /**
   * A clock compressed by an equal table (same hash), whole again: each entry the bitmap marks gets
   * [1..c]. Null when the bitmap does not fit this table or marks an entry the clock still holds.
   */
  expand(clock: Clock, omitted: Uint8Array): Clock | null {
    const list = this.entries();
    if (omitted.length !== (list.length + 7) >> 3) return null;
    let out: Clock | undefined;
    for (let i = 0; i < list.length; i++) {
      if ((omitted[i >> 3]! & (1 << (i & 7))) === 0) continue;
      const [r, c] = list[i]!;
      if (clock.max(r) > 0) return null;
      out ??= clock.clone();
      out.addRange(r, 1, c);
    }
    return out ?? clock;
  }
}
