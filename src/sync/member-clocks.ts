// The last clock heard from each member, for garbage collection (pure bookkeeping; time passed in).
//
// A tombstone may go once every current member's clock covers it (core/gc.ts). A member is a peer
// this node has heard a digest from; it stops counting when forgotten (`replikv forget`) or when
// silent for longer than gcGraceMs: it is then declared gone, GC no longer waits for it, and it is
// refused if it comes back with its old data (its clock will lack what was collected meanwhile).
// The table is persisted (encode/decode): a restarted node must not believe it has no members and
// collect what a member that was down has not seen.

import { Reader, Writer } from '../core/bytes.js';
import { Clock } from '../core/clock.js';
import { readClock, writeClock } from '../core/codec.js';
import { stableClock } from '../core/gc.js';

/**
 * Members kept at most (a member minting PeerIds must not grow this). When full, the longest silent
 * member whose replica wrote nothing this node holds gives way; with none such, the newcomer is not
 * kept, and while it is connected it holds collection back as a peer met but not heard
 * (stability's `unheard`). So a flood of PeerIds can stall collection, never make it run early.
 */
export const MAX_MEMBERS = 1024;

interface Member {
  replicaId: string;
  clock: Clock;
  /** When its last digest was heard (ms), less this node's own downtime: its silence, for GC. */
  heardAt: number;
  /** When its last digest was heard (ms), wall time: how long the two have been apart. */
  contactAt: number;
}

/** Who holds garbage collection back: the member whose last clock lacks the most of this node's. */
export interface HeldBack {
  peer: string;
  /** Dots this node knows that the member's last clock lacks. */
  lacking: number;
  /** When that clock was heard (ms): the member has not been heard with a newer one since. */
  since: number;
}

/** A peer this node withholds deltas from, or one that withholds them from this node (GC horizon). */
export interface HorizonGap {
  /** Dots of the GC frontier the one behind lacks. */
  lacking: number;
  /** When it was last seen (ms since the epoch). */
  at: number;
}

/** A peer this node has been connected to and has no clock of yet, known since `since` (ms). */
export interface Unheard {
  peer: string;
  since: number;
  /** Connected now: counted however long ago it was met (its digests may be refused, or not kept). */
  connected?: boolean;
}

export interface Stability {
  stable: Clock;
  heldBackBy: HeldBack | null;
  /** Members counted. */
  members: number;
  /** Members silent for longer than the grace period (not counted, refused if they return with old data). */
  gone: string[];
}

export class MemberClocks {
  private readonly m = new Map<string, Member>();

  /**
   * A digest from `peer` (its replica id and clock) at `now`. `wrote(r)`: does this node hold writes
   * of replica r (such a member is never evicted for a newcomer)? False if the table is full.
   */
  heard(peer: string, replicaId: string, clock: Clock, now: number, wrote: (r: string) => boolean = () => false): boolean {
    if (!this.m.has(peer) && this.m.size >= MAX_MEMBERS && !this.evictOldest(wrote)) return false;
    this.m.set(peer, { replicaId, clock, heardAt: now, contactAt: now });
    return true;
  }

  /** When this node last heard the member (wall time, ms; undefined for none). */
  contactAt(peer: string): number | undefined {
    return this.m.get(peer)?.contactAt;
  }

  forget(peer: string): boolean {
    return this.m.delete(peer);
  }

  /** When the member was last heard (ms), or undefined for a peer that is no member. */
  heardAt(peer: string): number | undefined {
    return this.m.get(peer)?.heardAt;
  }

  /** Has this member been silent for longer than `graceMs`? */
  isGone(peer: string, now: number, graceMs: number): boolean {
    const m = this.m.get(peer);
    return m !== undefined && now - m.heardAt > graceMs;
  }

  /**
   * The stable clock: `own` less what any member heard within `graceMs` lacks. `unheard` are peers
   * this node has been connected to but has no clock of yet (since when it knows them): each may
   * hold none of this node's writes, so while one is within `graceMs` nothing is stable. Without
   * them a node that had not yet heard a peer's digest (push mode sends one every ten rounds)
   * collected under its own clock alone, and that peer was then behind its horizon.
   */
  stability(own: Clock, now: number, graceMs: number, unheard: Iterable<Unheard> = []): Stability {
    const counted: Clock[] = [];
    const gone: string[] = [];
    let heldBackBy: HeldBack | null = null;
    const consider = (peer: string, clock: Clock, since: number): void => {
      counted.push(clock);
      const lacking = own.difference(clock).size();
      if (lacking > 0 && (heldBackBy === null || lacking > heldBackBy.lacking)) heldBackBy = { peer, lacking, since };
    };
    for (const [peer, m] of this.m) {
      if (now - m.heardAt > graceMs) gone.push(peer);
      else consider(peer, m.clock, m.heardAt);
    }
    for (const u of unheard) if (!this.m.has(u.peer) && (u.connected === true || now - u.since <= graceMs)) consider(u.peer, Clock.empty(), u.since);
    return { stable: stableClock(own, counted), heldBackBy, members: counted.length, gone };
  }

  /** Ages every member by `ms` less (this node was down that long: its downtime is nobody's silence). */
  shift(ms: number): void {
    for (const m of this.m.values()) m.heardAt += ms;
  }

  /** How long ago (ms) the oldest clock still counted was heard; null with no member counted. */
  oldestHeard(now: number, graceMs: number): number | null {
    let oldest: number | null = null;
    for (const m of this.m.values()) if (now - m.heardAt <= graceMs && (oldest === null || m.heardAt < oldest)) oldest = m.heardAt;
    return oldest === null ? null : now - oldest;
  }

  encode(): Uint8Array {
    const w = new Writer(256);
    w.varint(this.m.size);
    for (const [peer, m] of this.m) {
      w.chunk(Buffer.from(peer, 'utf8'));
      w.bytes(Buffer.from(m.replicaId, 'hex'));
      w.varint(m.heardAt);
      w.varint(m.contactAt);
      writeClock(w, m.clock);
    }
    return w.finish();
  }

  /** The table as encoded; throws DecodeError on damage (the caller starts empty and says so). */
  static decode(buf: Uint8Array): MemberClocks {
    const rd = new Reader(buf, 'member clocks record');
    const out = new MemberClocks();
    const n = rd.varint();
    if (n > MAX_MEMBERS) rd.fail(`${n} members exceed the limit ${MAX_MEMBERS}`);
    for (let i = 0; i < n; i++) {
      const peer = Buffer.from(rd.chunk(256)).toString('utf8');
      const replicaId = rd.hex16();
      const heardAt = rd.varint();
      const contactAt = rd.varint();
      out.m.set(peer, { replicaId, heardAt, contactAt, clock: readClock(rd) });
    }
    rd.end();
    return out;
  }

  private evictOldest(wrote: (r: string) => boolean): boolean {
    let oldest: [string, number] | undefined;
    for (const [peer, m] of this.m) if (!wrote(m.replicaId) && (oldest === undefined || m.heardAt < oldest[1])) oldest = [peer, m.heardAt];
    if (oldest === undefined) return false;
    this.m.delete(oldest[0]);
    return true;
  }
}
