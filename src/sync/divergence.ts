// Divergence at equal clocks (trust note, point 4), decided without I/O: time comes in as `now`.
//
// Every sync exchange starts with both sides' DIGESTs (node clock and state digest, read from one
// record, so each pair is consistent), and a VERIFY answer is one. Two consistent pairs with equal
// clocks, taken at the same cutoff time (state-hash.ts), must have equal digests: the values a
// read can return are a function of the writes known and the time. Anything else is damage or a lie. When each pair was read does not matter, only that it is consistent,
// so a comparison needs no lock against writes landing in between: a write moves the clock too.
//
// This module says what an observation means (detected, healed, whether to start a heal now) and
// what to do once a heal's merge is done. The healer (healer.ts) does the I/O.

import { Clock } from '../core/clock.js';

/** One side's consistent (clock, digest) pair; the digest in hex, taken at cutoff `digestAt` (ms). */
export interface DigestView {
  clock: Clock;
  digest: string;
  /** Absent in views that never hold expiring values (tests): compares equal to absent only. */
  digestAt?: number;
}

export type Verdict = 'agree' | 'diverged' | 'incomparable';

/**
 * Compares the peer's pair with this node's: `ours` are this node's pairs read around the peer's
 * answer (the one it sent in the exchange, or the ones just before and after a VERIFY). Only a pair
 * at the peer's clock is compared; with writes in flight the clocks differ and nothing is said.
 */
export function compareDigests(ours: readonly DigestView[], theirs: DigestView): Verdict {
  const same = sameMoment(ours, theirs);
  if (same === undefined) return 'incomparable';
  return same.digest === theirs.digest ? 'agree' : 'diverged';
}

/**
 * Our pair at the peer's clock and cutoff, if any. Digests at different cutoffs differ by the
 * values expiring in between, so only equal cutoffs compare (Keyspace.summaryAt takes ours there).
 */
export function sameMoment<T extends Omit<DigestView, 'digest'>>(ours: readonly T[], theirs: Omit<DigestView, 'digest'>): T | undefined {
  return ours.find((s) => s.digestAt === theirs.digestAt && s.clock.equals(theirs.clock));
}

/**
 * How often one peer may be healed from: at most one snapshot stream per peer this often, so a
 * peer that keeps disagreeing (damaged, or lying) costs at most that. 10 gossip intervals, at
 * least 10 s.
 */
export function healEveryMs(gossipIntervalMs: number): number {
  return Math.max(10_000, 10 * gossipIntervalMs);
}

export interface Noted {
  /** A new divergence with this peer (it agreed, or was unknown, before). */
  detected: boolean;
  /** A divergence with this peer is over: equal digests at equal clocks again. */
  healed: boolean;
  /** Start a heal from this peer now (no heal in flight, the peer's interval has passed). */
  heal: boolean;
}

export interface DivergenceStats {
  /** Divergences found since start (each peer counts again after it agreed in between). */
  detected: number;
  /** Divergences that ended: equal digests at an equal clock again. */
  healed: number;
  /** When the last one was found (ms since the epoch), or null. */
  lastAt: number | null;
  /** Peers that differ from this node at the last equal-clock comparison. */
  peers: string[];
}

/** A bound on the peers remembered, so a stream of identities cannot grow the table. */
const MAX_PEERS = 4096;

interface PeerRecord {
  divergent: boolean;
  lastHealAt: number | null;
}

export class DivergenceTracker {
  private readonly peers = new Map<string, PeerRecord>();
  private healing: string | null = null;
  private detected = 0;
  private healed = 0;
  private lastAt: number | null = null;

  constructor(private readonly healEvery: number) {}

  /** What a comparison with `peer` means. Incomparable pairs change nothing. */
  note(peer: string, verdict: Verdict, now: number): Noted {
    const none: Noted = { detected: false, healed: false, heal: false };
    if (verdict === 'incomparable') return none;
    const p = this.record(peer);
    if (verdict === 'agree') {
      if (!p.divergent) return none;
      p.divergent = false;
      this.healed++;
      return { ...none, healed: true };
    }
    const detected = !p.divergent;
    if (detected) {
      p.divergent = true;
      this.detected++;
      this.lastAt = now;
    }
    return { detected, healed: false, heal: this.mayHeal(peer, now) };
  }

  /** One heal at a time, and per peer at most once every `healEvery` ms. */
  mayHeal(peer: string, now: number): boolean {
    if (this.healing !== null) return false;
    const last = this.peers.get(peer)?.lastHealAt ?? null;
    return last === null || now - last >= this.healEvery;
  }

  healStarted(peer: string, now: number): void {
    this.healing = peer;
    this.record(peer).lastHealAt = now;
  }

  healEnded(): void {
    this.healing = null;
  }

  stats(): DivergenceStats {
    const peers = [...this.peers].filter(([, p]) => p.divergent).map(([id]) => id);
    return { detected: this.detected, healed: this.healed, lastAt: this.lastAt, peers };
  }

  private record(peer: string): PeerRecord {
    let p = this.peers.get(peer);
    if (p === undefined) {
      this.peers.set(peer, (p = { divergent: false, lastHealAt: null }));
      if (this.peers.size > MAX_PEERS) this.peers.delete(this.peers.keys().next().value!);
    }
    return p;
  }
}

export type AfterMerge =
  /** Equal digests at equal clocks: the merge healed it. */
  | 'healed'
  /** The clocks moved apart meanwhile: the next exchanges compare again. */
  | 'unknown'
  /** The recount proves this node's store damaged: repair from the peer (its states win). */
  | 'repair'
  /** Still different, and this node's store is intact by its recount: keep it, log, count. */
  | 'persists';

/**
 * What to do after a heal merged the peer's snapshot. `localDamaged` is the verdict of a recount of
 * this node's store (null: not recounted). A peer's word never overwrites this node's states: only
 * a recount that proves local damage does, because anything else a member could fake.
 */
export function divergenceDecision(input: { verdict: Verdict; localDamaged: boolean | null }): AfterMerge {
  if (input.verdict === 'agree') return 'healed';
  if (input.verdict === 'incomparable') return 'unknown';
  return input.localDamaged === true ? 'repair' : 'persists';
}

/**
 * How many of each replica's newest dots a heal asks for first (narrowHealClock): a forged or
 * equivocated write is most often among them, and then a few keys settle what a whole snapshot
 * would. A divergence they do not explain falls back to a range reconciliation (reconciler.ts).
 */
export const HEAL_NEWEST_DOTS = 4;

/** The clock a heal's first, narrowed request sends: this node's, less each replica's newest `perReplica` dots. */
export function narrowHealClock(clock: Clock, perReplica = HEAL_NEWEST_DOTS): Clock {
  const out = Clock.empty();
  for (const r of clock.replicas()) {
    for (const [from, to] of clock.slice(r, 0, clock.max(r) - perReplica)) out.addRange(r, from, to);
  }
  return out;
}
