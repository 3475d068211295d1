// Write concern: wait until N replicas, the writer included, hold a write durably. A peer counts
// once what it acknowledged of data this node sent it (a PUSH, or the DELTAs of a sync exchange;
// see Replicator) covers every dot of the write; what its DIGEST claims counts for nothing. Timing
// out says how many did and undoes nothing.

import { Clock } from '../core/clock.js';
import { WriteConcernError } from '../errors.js';

interface Waiter {
  dots: Clock;
  wanted: number;
  done: (acked: number) => void;
}

export class WriteConcern {
  private readonly waiters = new Set<Waiter>();

  /** `holdings()` lists, per peer, the dots that peer is known to hold durably. */
  constructor(private readonly holdings: () => Iterable<Clock>) {}

  /** Replicas (this one included) known to hold every dot in `dots`. */
  count(dots: Clock): number {
    let n = 1;
    for (const held of this.holdings()) if (held.coversClock(dots)) n++;
    return n;
  }

  /** Resolves with the replica count once `wanted` replicas hold `dots`; rejects with WriteConcernError at the timeout. */
  wait(dots: Clock, wanted: number, timeoutMs: number): Promise<number> {
    const now = this.count(dots);
    if (now >= wanted) return Promise.resolve(now);
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new WriteConcernError(this.count(dots), wanted, timeoutMs));
      }, timeoutMs);
      const waiter: Waiter = {
        dots,
        wanted,
        done: (acked) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(acked);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** Every dot a waiting write needs more replicas for (sync exchanges send them again, for an ACK). */
  pending(): Clock {
    const all = Clock.empty();
    for (const w of this.waiters) all.merge(w.dots);
    return all;
  }

  /** Something new is known about a peer: settle the waiters it satisfies. */
  changed(): void {
    for (const w of [...this.waiters]) {
      const n = this.count(w.dots);
      if (n >= w.wanted) w.done(n);
    }
  }
}
