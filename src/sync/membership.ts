// Who the peers are and how they are doing. Pure bookkeeping with time passed in (no timers, no
// I/O), so the rules are testable: the replicator feeds it events and asks it what to dial and
// whom to gossip with.
//
// A peer is alive while connected; suspect when disconnected but seen within `downAfterMs`; down
// otherwise. A failed dial backs off exponentially from the gossip interval up to `maxBackoffMs`.

import type { Clock } from '../core/clock.js';
import type { PeerState } from '../control/api.js';

export interface MembershipOptions {
  intervalMs: number;
  downAfterMs?: number;
  maxBackoffMs?: number;
}

interface Peer {
  readonly peerId: string;
  readonly addrs: Set<string>;
  connected: boolean;
  lastSeen: number | null;
  replicaId: string | null;
  clock: Clock | null;
  failures: number;
  nextDialAt: number;
  dialCursor: number;
}

interface Seed {
  readonly addr: string;
  failures: number;
  nextDialAt: number;
}

export interface DialPlan {
  /** Known when the address names it (/p2p/...). */
  peerId: string | null;
  addr: string;
}

/** The PeerId a multiaddr ends with, if any. */
export function peerIdOf(addr: string): string | null {
  const m = /\/p2p\/([^/]+)$/.exec(addr);
  return m ? m[1]! : null;
}

export class Membership {
  private readonly peers = new Map<string, Peer>();
  private readonly seeds = new Map<string, Seed>();
  private readonly downAfter: number;
  private readonly maxBackoff: number;

  constructor(
    readonly self: string,
    private readonly opts: MembershipOptions,
  ) {
    this.downAfter = opts.downAfterMs ?? 10 * opts.intervalMs;
    this.maxBackoff = opts.maxBackoffMs ?? 30_000;
  }

  /** A bootstrap address: learned as a peer if it names one, otherwise dialled until it answers. */
  addSeed(addr: string): void {
    const id = peerIdOf(addr);
    if (id !== null) this.learn(id, [addr]);
    else this.seeds.set(addr, { addr, failures: 0, nextDialAt: 0 });
  }

  /** Records addresses of a peer (from bootstrap, identify or peer exchange). True if the peer is new. */
  learn(peerId: string, addrs: Iterable<string>): boolean {
    if (peerId === this.self) return false;
    let p = this.peers.get(peerId);
    const isNew = p === undefined;
    if (p === undefined) {
      p = { peerId, addrs: new Set(), connected: false, lastSeen: null, replicaId: null, clock: null, failures: 0, nextDialAt: 0, dialCursor: 0 };
      this.peers.set(peerId, p);
    }
    for (const a of addrs) {
      const full = peerIdOf(a) === null ? `${a}/p2p/${peerId}` : a;
      if (peerIdOf(full) === peerId) p.addrs.add(full);
    }
    return isNew;
  }

  connected(peerId: string, now: number): void {
    if (peerId === this.self) return;
    this.learn(peerId, []);
    const p = this.peers.get(peerId)!;
    p.connected = true;
    p.failures = 0;
    p.lastSeen = now;
  }

  disconnected(peerId: string): void {
    const p = this.peers.get(peerId);
    if (p === undefined) return;
    p.connected = false;
    p.nextDialAt = 0;
  }

  /** The peer spoke to us (a digest or a push); a digest also tells its replica id and clock. */
  heard(peerId: string, now: number, digest?: { replicaId: string; clock: Clock }): void {
    const p = this.peers.get(peerId);
    if (p === undefined) return;
    p.lastSeen = now;
    if (digest !== undefined) {
      p.replicaId = digest.replicaId;
      p.clock = digest.clock;
    }
  }

  /** The replica id the peer last told us, or null. */
  replicaOf(peerId: string): string | null {
    return this.peers.get(peerId)?.replicaId ?? null;
  }

  seedAnswered(addr: string): void {
    this.seeds.delete(addr);
  }

  dialFailed(plan: DialPlan, now: number): void {
    const target = plan.peerId === null ? this.seeds.get(plan.addr) : this.peers.get(plan.peerId);
    if (target === undefined) return;
    target.failures++;
    target.nextDialAt = now + Math.min(this.maxBackoff, this.opts.intervalMs * 2 ** Math.min(target.failures, 16));
  }

  /** Dials due now: unconnected peers with an address and seeds, each at most once per backoff. */
  dueDials(now: number): DialPlan[] {
    const plans: DialPlan[] = [];
    for (const p of this.peers.values()) {
      if (p.connected || p.addrs.size === 0 || p.nextDialAt > now) continue;
      const addrs = [...p.addrs];
      plans.push({ peerId: p.peerId, addr: addrs[p.dialCursor++ % addrs.length]! });
      p.nextDialAt = now + this.opts.intervalMs; // one attempt in flight; dialFailed backs off further
    }
    for (const s of this.seeds.values()) {
      if (s.nextDialAt > now) continue;
      plans.push({ peerId: null, addr: s.addr });
      s.nextDialAt = now + this.opts.intervalMs;
    }
    return plans;
  }

  /** Up to `n` distinct connected peers, chosen at random (`random` in [0, 1)). */
  gossipTargets(n: number, random: () => number): string[] {
    const pool = this.connectedPeers();
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, n);
  }

  connectedPeers(): string[] {
    return [...this.peers.values()].filter((p) => p.connected).map((p) => p.peerId);
  }

  state(peerId: string, now: number): PeerState {
    const p = this.peers.get(peerId);
    if (p === undefined) return 'down';
    // A connection is the liveness signal: libp2p's connection monitor pings it and closes it when
    // the peer stops answering. Gossip silence is not, since push mode exchanges digests rarely.
    if (p.connected) return 'alive';
    const silent = p.lastSeen === null ? Infinity : now - p.lastSeen;
    return silent <= this.downAfter ? 'suspect' : 'down';
  }

  /** Addresses to share in peer exchange (ours are added by the caller). */
  exchangeAddrs(limit = 1000): string[] {
    const out: string[] = [];
    for (const p of this.peers.values()) for (const a of p.addrs) if (out.length < limit) out.push(a);
    return out;
  }

  list(): { peerId: string; addrs: string[]; lastSeen: number | null; replicaId: string | null; clock: Clock | null }[] {
    return [...this.peers.values()]
      .map((p) => ({ peerId: p.peerId, addrs: [...p.addrs], lastSeen: p.lastSeen, replicaId: p.replicaId, clock: p.clock }))
      .sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
  }
}
