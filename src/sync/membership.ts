// Who the peers are and how they are doing. Pure bookkeeping with time and randomness passed in (no
// timers, no I/O), so the rules are testable: the replicator feeds it events and asks it what to
// dial, whom to gossip with, and whom to drop.
//
// - A peer is alive while connected; suspect when disconnected but seen within `downAfterMs`; down
//   otherwise; and dropped (from dialling, peer exchange and status) once down for `goneAfterMs`.
//   A dropped peer is not re-learned from peer exchange for another `goneAfterMs`; a connection
//   from it brings it back at once.
// - Seeds (configured bootstrap addresses) are kept for the life of the daemon and dialled by
//   address whenever nobody is connected there, whatever PeerId answered before: a seed machine
//   whose disk was replaced comes back with a new PeerId and is found again.
// - One dial in flight per transport address. A failed dial backs off exponentially from the
//   gossip interval up to `maxBackoffMs`, with jitter so that nodes do not redial in lockstep.
// - A forgotten peer (`replikv forget`, or an operator's signed forget heard from another node,
//   forgetting.ts) is dropped at once, never learned or dialled again, and refused if it connects,
//   for FORGET_RETENTION_MS.
// - Addresses this node checked itself (a dial reached the peer there, or the peer announced them
//   over its own connection) are vouched for: they displace addresses passed on by others when a
//   peer's list is full, and only they are remembered across a restart (known-peers.ts).

import type { Clock } from '../core/clock.js';
import type { PeerState } from './peer-info.js';
import { ReplikvError } from '../errors.js';
import type { KnownPeer } from './known-peers.js';
import { MAX_ADDRS_PER_PEER, MAX_DIALS_IN_FLIGHT, MAX_KNOWN_PEERS } from './limits.js';

/** `replikv forget` of something that is not another node's PeerId. */
export class ForgetError extends ReplikvError {
  override readonly code = 'FORGET_REFUSED';
}

export interface MembershipOptions {
  intervalMs: number;
  downAfterMs?: number;
  /** A peer down (unreachable, silent) this long is dropped. Default 24 h. */
  goneAfterMs?: number;
  maxBackoffMs?: number;
  /** Source of jitter in [0, 1). */
  random?: () => number;
  /** Peers known at most (limits.ts); past it the oldest peer never connected gives way. */
  maxPeers?: number;
  /** Addresses kept per peer (limits.ts); the first ones learned are kept, but vouched ones displace the others. */
  maxAddrsPerPeer?: number;
  /** Dials to learned peers in flight at once (limits.ts); seeds are not counted against it. */
  maxDialsInFlight?: number;
}

export const DEFAULT_GONE_AFTER_MS = 24 * 3600_000;
/** How long a forgotten PeerId is remembered as forgotten (and refused). */
export const FORGET_RETENTION_MS = 30 * 24 * 3600_000;

interface Peer {
  readonly peerId: string;
  readonly addrs: Set<string>;
  /** The addresses of `addrs` this node checked itself (a dial, or the peer's own word over its connection). */
  readonly vouched: Set<string>;
  connected: boolean;
  /** Last time it was connected or spoke to us; null if never. */
  lastSeen: number | null;
  /** When the current (or last) connection came up. */
  connectedAt: number;
  readonly learnedAt: number;
  replicaId: string | null;
  clock: Clock | null;
  failures: number;
  nextDialAt: number;
  dialCursor: number;
  /** A dial to one of its addresses is in flight. */
  dialing: boolean;
}

interface Seed {
  readonly addr: string;
  readonly transport: string;
  /** The PeerId that answered here last (null before the first answer). */
  peerId: string | null;
  failures: number;
  nextDialAt: number;
}

export interface DialPlan {
  /** The PeerId expected there: known when the address names it (/p2p/...). */
  peerId: string | null;
  addr: string;
  /** True when the address is a configured seed (whoever answers is welcome). */
  seed: boolean;
}

export interface PeerEntry {
  peerId: string;
  addrs: string[];
  lastSeen: number | null;
  replicaId: string | null;
  clock: Clock | null;
}

/** The PeerId a multiaddr ends with, if any. */
export function peerIdOf(addr: string): string | null {
  const m = /\/p2p\/([^/]+)$/.exec(addr);
  return m ? m[1]! : null;
}

/** The address without its /p2p/PEERID suffix: where a dial goes. */
export function transportOf(addr: string): string {
  return addr.replace(/\/p2p\/[^/]+$/, '');
}

export class Membership {
  private readonly peers = new Map<string, Peer>();
  private readonly seeds = new Map<string, Seed>();
  private readonly inFlight = new Set<string>();
  private readonly gone = new Map<string, number>();
  private readonly forgotten = new Map<string, number>();
  private readonly downAfter: number;
  private readonly goneAfter: number;
  private readonly maxBackoff: number;
  private readonly random: () => number;
  /** Since when no peer has been connected; null while one is. */
  private alone: number | null;

  constructor(
    readonly self: string,
    private readonly opts: MembershipOptions,
    now = 0,
  ) {
    this.downAfter = opts.downAfterMs ?? 10 * opts.intervalMs;
    this.goneAfter = opts.goneAfterMs ?? DEFAULT_GONE_AFTER_MS;
    this.maxBackoff = opts.maxBackoffMs ?? 30_000;
    this.random = opts.random ?? Math.random;
    this.alone = now;
  }

  /** A configured bootstrap address: a seed for the life of the daemon. */
  addSeed(addr: string, now = 0): void {
    if (this.seeds.has(addr)) return;
    const pinned = peerIdOf(addr);
    this.seeds.set(addr, { addr, transport: transportOf(addr), peerId: pinned, failures: 0, nextDialAt: 0 });
    if (pinned !== null) this.learn(pinned, [addr], now);
  }

  /**
   * Records addresses of a peer (from identify, a dial or peer exchange). Forgotten peers, and
   * peers dropped as gone, are not learned this way. True if the peer is new.
   */
  learn(peerId: string, addrs: Iterable<string>, now = 0, connecting = false, vouched = false): boolean {
    if (peerId === this.self || this.forgotten.has(peerId) || this.gone.has(peerId)) return false;
    let p = this.peers.get(peerId);
    const isNew = p === undefined;
    if (p === undefined) {
      if (this.peers.size >= (this.opts.maxPeers ?? MAX_KNOWN_PEERS) && !this.evictOne() && !connecting) return false;
      p = { peerId, addrs: new Set(), vouched: new Set(), connected: false, lastSeen: null, learnedAt: now, connectedAt: 0, replicaId: null, clock: null, failures: 0, nextDialAt: 0, dialCursor: 0, dialing: false };
      this.peers.set(peerId, p);
    }
    for (const a of addrs) {
      const full = peerIdOf(a) === null ? `${a}/p2p/${peerId}` : a;
      if (peerIdOf(full) !== peerId) continue;
      if (!p.addrs.has(full)) {
        if (p.addrs.size >= (this.opts.maxAddrsPerPeer ?? MAX_ADDRS_PER_PEER) && !(vouched && this.dropUnvouched(p))) break;
        p.addrs.add(full);
      }
      if (vouched) p.vouched.add(full);
    }
    return isNew;
  }

  /**
   * A peer's own listen addresses, told by it over its authenticated connection (identify): believed
   * for it, and remembered across a restart.
   */
  announced(peerId: string, addrs: Iterable<string>, now: number): void {
    this.learn(peerId, addrs, now, false, true);
  }

  /** Frees a place in a full address list for a vouched address: the newest one only others told of goes. */
  private dropUnvouched(p: Peer): boolean {
    const other = [...p.addrs].reverse().find((a) => !p.vouched.has(a));
    if (other === undefined) return false;
    p.addrs.delete(other);
    return true;
  }

  /**
   * Peers that have been connected, with their vouched addresses and when they were last seen (now
   * for a connected one): what known-peers.ts selects from to remember across a restart.
   */
  rememberable(now: number): KnownPeer[] {
    const out: KnownPeer[] = [];
    for (const p of this.peers.values()) {
      if (p.lastSeen === null) continue;
      const addrs = [...p.addrs].filter((a) => p.vouched.has(a));
      if (addrs.length > 0) out.push({ peerId: p.peerId, lastSeen: p.connected ? now : p.lastSeen, addrs });
    }
    return out;
  }

  /**
   * Peers remembered from before a restart, learned as if just told of them and dialled like learned
   * peers (same backoff, same bound on dials in flight, behind peers learned since); their last-seen time is kept, so one that never answers is dropped as gone
   * goneAfterMs after it was last seen, as before the restart. Forgotten peers are not restored.
   * Returns how many were restored.
   */
  restoreKnown(peers: Iterable<KnownPeer>, now: number): number {
    let n = 0;
    for (const k of peers) {
      const lastSeen = Math.min(k.lastSeen, now); // a clock stepped back must not keep a peer longer
      if (now - lastSeen > this.goneAfter || this.peers.has(k.peerId)) continue;
      if (!this.learn(k.peerId, k.addrs, now, false, true)) continue; // itself, forgotten, gone, or no room
      const p = this.peers.get(k.peerId)!;
      p.lastSeen = lastSeen;
      p.nextDialAt = now; // at once, but after a peer learned since (due at 0) if dial slots are short
      n++;
    }
    return n;
  }

  /**
   * Makes room for a new peer: drops the oldest-learned peer that never connected and is not being
   * dialled (one an address list made up). False when every known peer has connected at some time.
   */
  private evictOne(): boolean {
    let oldest: Peer | undefined;
    for (const p of this.peers.values()) {
      if (p.connected || p.lastSeen !== null || p.dialing || this.isSeedPeer(p.peerId)) continue;
      if (oldest === undefined || p.learnedAt < oldest.learnedAt) oldest = p;
    }
    if (oldest === undefined) return false;
    this.peers.delete(oldest.peerId);
    return true;
  }

  private isSeedPeer(peerId: string): boolean {
    for (const s of this.seeds.values()) if (s.peerId === peerId) return true;
    return false;
  }

  /** A connection is up. False when the peer is forgotten: the caller hangs up. */
  connected(peerId: string, now: number): boolean {
    if (peerId === this.self) return true;
    if (this.forgotten.has(peerId)) return false;
    this.gone.delete(peerId); // it is back: direct evidence beats the timeout
    this.learn(peerId, [], now, true); // a peer that is connected is always known, whatever the bound
    const p = this.peers.get(peerId)!;
    p.connected = true;
    p.connectedAt = now;
    p.lastSeen = now;
    this.alone = null;
    return true;
  }

  disconnected(peerId: string, now: number): void {
    const p = this.peers.get(peerId);
    if (p === undefined || !p.connected) return;
    p.connected = false;
    p.lastSeen = now;
    if (now - p.connectedAt >= this.stableAfter()) {
      // It was up for a while: redial soon, but not in lockstep with every node that saw it go.
      p.failures = 0;
      p.nextDialAt = now + Math.floor(this.random() * this.opts.intervalMs);
    } else {
      // Dropped right after connecting (it refuses us, or it flaps): a failure, with backoff.
      this.backOff(p, now);
    }
    for (const s of this.seeds.values()) {
      if (s.peerId !== peerId) continue;
      if (now - p.connectedAt >= this.stableAfter()) s.failures = 0;
      else this.backOff(s, now);
    }
    if (this.alone === null && this.connectedPeers().length === 0) this.alone = now;
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

  /**
   * A dial reached `peerId`. For a seed, returns the PeerId that answered there before when it
   * differs (the machine behind the address has a new identity), else null.
   */
  dialSucceeded(plan: DialPlan, peerId: string, now: number): string | null {
    this.dialDone(plan);
    this.learn(peerId, [plan.addr], now, false, true);
    const seed = plan.seed ? this.seeds.get(plan.addr) : undefined;
    if (seed === undefined) return null;
    const before = seed.peerId;
    seed.peerId = peerId;
    return before !== null && before !== peerId ? before : null;
  }

  dialFailed(plan: DialPlan, now: number): void {
    this.dialDone(plan);
    const target = plan.seed ? this.seeds.get(plan.addr) : plan.peerId === null ? undefined : this.peers.get(plan.peerId);
    if (target !== undefined) this.backOff(target, now);
  }

  private backOff(target: { failures: number; nextDialAt: number }, now: number): void {
    target.failures++;
    const backoff = Math.min(this.maxBackoff, this.opts.intervalMs * 2 ** Math.min(target.failures, 16));
    target.nextDialAt = now + Math.round(backoff * (0.5 + this.random())); // jitter: 0.5x to 1.5x
  }

  /** A connection that lasted this long was a success: the backoff starts over. */
  private stableAfter(): number {
    return 2 * this.opts.intervalMs;
  }

  private dialDone(plan: DialPlan): void {
    this.inFlight.delete(transportOf(plan.addr));
    const p = plan.seed || plan.peerId === null ? undefined : this.peers.get(plan.peerId);
    if (p !== undefined) p.dialing = false;
  }

  /**
   * Dials due now: seeds nobody is connected at, then unconnected peers with an address, each at
   * most once per backoff and never two at a time to one address or one peer. The caller reports each plan's
   * outcome with dialSucceeded or dialFailed. `seedsOnly`: the overlay topology, where only seeds
   * are dialled this way (HyParView decides whom else to connect to).
   */
  dueDials(now: number, seedsOnly = false): DialPlan[] {
    const plans: DialPlan[] = [];
    const seedTransports = new Set<string>();
    for (const s of this.seeds.values()) {
      seedTransports.add(s.transport);
      if (s.nextDialAt > now || this.inFlight.has(s.transport)) continue;
      if (s.peerId !== null && this.peers.get(s.peerId)?.connected === true) continue;
      if (s.peerId !== null && this.forgotten.has(s.peerId) && peerIdOf(s.addr) !== null) continue; // pinned to a forgotten peer
      plans.push({ peerId: peerIdOf(s.addr), addr: s.addr, seed: true });
      this.inFlight.add(s.transport);
      s.nextDialAt = now + this.opts.intervalMs;
    }
    if (seedsOnly) return plans;
    const maxInFlight = this.opts.maxDialsInFlight ?? MAX_DIALS_IN_FLIGHT;
    let learnedInFlight = [...this.peers.values()].filter((p) => p.dialing).length;
    // The longest overdue first: peers that never answer cannot keep the slots from the others.
    const due = [...this.peers.values()].filter((p) => !p.connected && !p.dialing && p.nextDialAt <= now).sort((a, b) => a.nextDialAt - b.nextDialAt);
    for (const p of due) {
      if (learnedInFlight >= maxInFlight) break; // the rest wait for a later tick
      // A seed's address is dialled as the seed, whoever answers there now.
      const addrs = [...p.addrs].filter((a) => !seedTransports.has(transportOf(a)));
      if (addrs.length === 0) continue;
      const addr = addrs[p.dialCursor++ % addrs.length]!;
      if (this.inFlight.has(transportOf(addr))) continue;
      plans.push({ peerId: p.peerId, addr, seed: false });
      this.inFlight.add(transportOf(addr));
      p.dialing = true;
      learnedInFlight++;
      p.nextDialAt = now + this.opts.intervalMs;
    }
    return plans;
  }

  /** Drops peers down for longer than goneAfterMs, and old gone/forgotten records. Returns the dropped. */
  expire(now: number): string[] {
    const dropped: string[] = [];
    for (const p of this.peers.values()) {
      if (p.connected || now - (p.lastSeen ?? p.learnedAt) <= this.goneAfter) continue;
      this.peers.delete(p.peerId);
      this.gone.set(p.peerId, now);
      dropped.push(p.peerId);
    }
    for (const [id, at] of this.gone) if (now - at > this.goneAfter) this.gone.delete(id);
    for (const [id, at] of this.forgotten) if (now - at > FORGET_RETENTION_MS) this.forgotten.delete(id);
    return dropped;
  }

  /** Drops a peer at once and for good (FORGET_RETENTION_MS). False if it was forgotten already. */
  forget(peerId: string, now: number): boolean {
    if (peerId === this.self || this.forgotten.has(peerId)) return false;
    const p = this.peers.get(peerId);
    this.peers.delete(peerId);
    this.gone.delete(peerId);
    this.forgotten.set(peerId, now);
    if (p?.connected === true && this.alone === null && this.connectedPeers().length === 0) this.alone = now;
    return true;
  }

  isForgotten(peerId: string): boolean {
    return this.forgotten.has(peerId);
  }

  /** Forgotten PeerIds and when they were forgotten (to persist and to tell other nodes). */
  forgottenPeers(): [string, number][] {
    return [...this.forgotten];
  }

  /** Restores forgotten records (from disk at start). */
  restoreForgotten(entries: Iterable<[string, number]>): void {
    for (const [id, at] of entries) if (id !== this.self) this.forgotten.set(id, at);
  }

  /** Since when no peer has been connected (ms), or null while one is. */
  aloneSince(): number | null {
    return this.alone;
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

  /** Addresses to share in peer exchange (ours are added by the caller): peers not down only. */
  exchangeAddrs(now: number, limit = 1000): string[] {
    const out: string[] = [];
    for (const p of this.peers.values()) {
      if (this.state(p.peerId, now) === 'down') continue;
      for (const a of p.addrs) if (out.length < limit) out.push(a);
    }
    return out;
  }

  /** Peers this node has been connected to (or heard from): when it first knew them, and whether connected now. */
  met(): { peer: string; since: number; connected: boolean }[] {
    return [...this.peers.values()].filter((p) => p.lastSeen !== null).map((p) => ({ peer: p.peerId, since: p.learnedAt, connected: p.connected }));
  }

  list(): PeerEntry[] {
    return [...this.peers.values()]
      .map((p) => ({ peerId: p.peerId, addrs: [...p.addrs], lastSeen: p.lastSeen, replicaId: p.replicaId, clock: p.clock }))
      .sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
  }
}
