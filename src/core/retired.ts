// Retired replicas: replica ids that write no more (a node rebuilt or restored got a new one, a
// forgotten peer's, one moved from at the counter limit), each with its last counter. Every replica
// id stays in node clocks for ever; a retired one whose entry is exactly [1..c] costs the same ~20
// bytes in every DIGEST with nothing to say. So two nodes that hold the same table of retired
// replicas leave those entries out of the clocks they send each other, and put them back on receipt.
//
// Compression is exact or nothing: an entry is left out only when the sender's clock for r is
// exactly [1..c] and the receiver's table (proved equal by its hash) says c too. A table entry is
// therefore only a shorthand, never a belief about the replica.
//
// Kept only with evidence: a node holds (r, c) only while its own clock holds exactly [1..c] of r,
// so every entry abbreviates something it really stores, the table is never larger than the clock
// it shortens, and a forged record (a replica nobody has dots of, a wrong counter) is refused. A
// forged record that names a real replica at its real counter is a true shorthand, and it goes when
// the replica writes again. Given its clock, a node has one possible counter per replica, so two
// nodes with equal clocks that teach each other what the other's clock can take end with equal
// tables. Pure; no I/O.

import { createHash } from 'node:crypto';
import type { Clock } from './clock.js';
import type { ReplicaId } from './replica.js';

/** Most retired replicas a node keeps: the same bound as the heads it keeps. */
export const MAX_RETIRED = 100_000;

/** The evidence a retired record needs: `clock` holds exactly [1..c] of r (the entry abbreviates something real). */
export function abbreviates(clock: Clock, r: ReplicaId, c: number): boolean {
  return c >= 1 && clock.base(r) === c && clock.max(r) === c;
}

export type Admission = 'added' | 'known' | 'unproven' | 'full';

export class RetiredTable {
  private readonly m = new Map<ReplicaId, number>();
  private sorted: [ReplicaId, number][] | null = null;
  private hashCache: Uint8Array | null = null;

  get size(): number {
    return this.m.size;
  }

  /** Keeps (r, c) if `clock` is evidence for it; 'unproven' if not, 'full' past MAX_RETIRED. */
  add(r: ReplicaId, c: number, clock: Clock): Admission {
    if (!abbreviates(clock, r, c)) return 'unproven';
    const had = this.m.get(r);
    if (had === c) return 'known';
    if (had === undefined && this.m.size >= MAX_RETIRED) return 'full';
    this.m.set(r, c); // a different counter no longer abbreviates anything: replaced
    this.changed();
    return 'added';
  }

  /** A peer's records, each kept only with evidence: how many were added and how many refused for want of it. */
  learn(records: Iterable<readonly [ReplicaId, number]>, clock: Clock): { added: number; unproven: number } {
    let added = 0;
    let unproven = 0;
    for (const [r, c] of records) {
      const a = this.add(r, c, clock);
      if (a === 'added') added++;
      else if (a === 'unproven') unproven++;
    }
    return { added, unproven };
  }

  /** Drops the entries `clock` no longer holds exactly (the replica wrote again): how many went. */
  prune(clock: Clock): number {
    let dropped = 0;
    for (const [r, c] of this.m) {
      if (abbreviates(clock, r, c)) continue;
      this.m.delete(r);
      dropped++;
    }
    if (dropped > 0) this.changed();
    return dropped;
  }

  /**
   * What to teach a peer whose clock is `theirs`: only entries it can keep (its clock holds exactly
   * [1..c] too), at most `limit`, a window starting at `round × limit` so that a long list goes
   * round in turns.
   */
  teach(theirs: Clock, limit: number, round = 0): [ReplicaId, number][] {
    const fit = this.entries().filter(([r, c]) => abbreviates(theirs, r, c));
    if (fit.length <= limit) return fit;
    const from = (round * limit) % fit.length;
    const out = fit.slice(from, from + limit);
    return out.length < limit ? out.concat(fit.slice(0, limit - out.length)) : out;
  }

  /** Sorted by replica id (a view: callers must not change it). */
  entries(): readonly [ReplicaId, number][] {
    this.sorted ??= [...this.m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return this.sorted;
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
      if (!abbreviates(clock, r, c)) return;
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

  private changed(): void {
    this.sorted = null;
    this.hashCache = null;
  }
}
