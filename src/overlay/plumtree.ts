// Plumtree broadcast (Leitão, Pereira, Rodrigues 2007), modelled on iroh-gossip's proto/plumtree.rs:
// a write is pushed eagerly along a spanning tree of the active views and announced lazily (ids
// only, batched) to the other active peers. A node that hears of an id it lacks and does not get
// the payload within a timeout GRAFTs the announcing link into the tree; a duplicate payload PRUNEs
// the link it came over. The tree is the union of eager links, shaped by the first arrivals, so it
// tends towards the fastest paths; a lazy link whose announcement beats the eager path by more than
// `optimizeThreshold` hops replaces it.
//
// One tree per origin (the writing replica, the dot's r) for the `maxTrees` most recent origins, each
// started as a copy of a shared tree that every write shapes. With one shared tree only (the paper's
// base case, iroh's choice), concurrent writers keep re-shaping the same links: each origin wants
// its own fastest tree, and a PRUNE from one write cut paths another write in flight needed. In the
// simulator that cost 1.35 payloads per delivery with 10 writers; per-origin trees: see
// docs/simulation.md. PRUNE and GRAFT therefore name the origin whose tree they change.
//
// The message id is the write's dot: "already seen" is the host's has(dot) (covered by its clock),
// so no seen-cache is kept, only the ids delivered but not yet applied by the host.
//
// How a host drives it (sans-I/O):
//   const pt = new Plumtree({ has, get }, config);
//   pt.neighborUp(peer) / pt.neighborDown(peer)   from HyParView's up/down actions
//   pt.broadcast(dot, payload, now)               for a local write (after it is stored)
//   pt.message(from, msg, now)                    for every decoded overlay frame 46-49
//   pt.tick(now)                                  at pt.nextDeadline()
//   for (const a of pt.drain()) …                 send {to, msg}; deliver {id, payload, from, round}:
//                                                 apply the write; then has(id) must be true.
// Large payloads (over `announceAboveBytes`) are only announced, with IHAVE's fetch flag: each
// receiver grafts at once from one announcer, so the payload crosses each node's link once.
// Trust: the core believes no payload. The host checks that a delivered payload is the write its
// id names (heads, claims) before applying it, and calls refused(id) when it is not: the id then
// counts as unseen again, so another peer's copy (or the anti-entropy) can bring the real one.
// A GRAFT answers with at most one payload; the host rate-limits a peer that grafts too often.

import type { Dot, ReplicaId } from '../core/replica.js';
import type { IHaveEntry, OverlayMessage, PeerId } from './messages.js';
import { MAX_IHAVE, OVERLAY_MSG } from './messages.js';

export interface PlumtreeConfig {
  /** Wait this long after the first IHAVE of a missing id before grafting. */
  graftTimeoutMs: number;
  /** Then wait this long per further announcer before grafting the next. */
  graftRetryMs: number;
  /** IHAVEs are batched per peer and sent this long after the first one queued. */
  ihaveDelayMs: number;
  /** Swap an eager link for a lazy one that was this many hops shorter. */
  optimizeThreshold: number;
  /** Payloads larger than this are announced (fetched by GRAFT), never pushed. */
  announceAboveBytes: number;
  /** Delivered ids the host has not applied yet are kept at most this long (as "seen"). */
  inflightMs: number;
  /** Origins with a tree of their own (the most recent ones); the others use the shared tree. */
  maxTrees: number;
}

export const DEFAULT_PLUMTREE: PlumtreeConfig = {
  graftTimeoutMs: 120,
  graftRetryMs: 60,
  ihaveDelayMs: 20,
  optimizeThreshold: 4,
  announceAboveBytes: 64 * 1024,
  inflightMs: 30_000,
  maxTrees: 64,
};

export interface PlumtreeHost {
  /** Is this write already applied here (covered by the clock)? */
  has(id: Dot): boolean;
  /** The payload of a write this node holds, to answer a GRAFT (undefined: no longer or never held). */
  get(id: Dot): Uint8Array | undefined;
}

export type PlumtreeAction =
  | { type: 'send'; to: PeerId; msg: OverlayMessage }
  /** round: hops from the origin (1 for a neighbour of the writer). */
  | { type: 'deliver'; id: Dot; payload: Uint8Array; from: PeerId; round: number };

interface Missing {
  id: Dot;
  /** Announcers not grafted yet, in arrival order. */
  sources: { peer: PeerId; round: number }[];
  deadline: number;
  /** The smallest announced round (for the tree optimisation). */
  bestRound: number;
  bestPeer: PeerId;
}

/** A tree: the links a write is pushed over (eager) and the links it is only announced over (lazy). */
interface Tree {
  eager: Set<PeerId>;
  lazy: Set<PeerId>;
}

export function dotKey(id: Dot): string {
  return `${id.r}:${id.c}`;
}

export class Plumtree {
  readonly config: PlumtreeConfig;
  /** The shared tree: shaped by every write, the starting point of each origin's own tree. */
  private readonly shared: Tree = { eager: new Set(), lazy: new Set() };
  /** Per origin, in least-recently-used order. */
  private readonly trees = new Map<ReplicaId, Tree>();
  private readonly missing = new Map<string, Missing>();
  /** Delivered to the host, maybe not applied yet: key -> expiry. */
  private readonly inflight = new Map<string, number>();
  private readonly lazyQueue = new Map<PeerId, IHaveEntry[]>();
  private flushAt: number | undefined;
  /**
   * No graft deadline is earlier than this (it may be earlier than any left, when an id arrived
   * meanwhile: a tick then finds nothing to do and recomputes it). Keeps nextDeadline O(1) while
   * thousands of ids are missing.
   */
  private earliest: number | undefined;
  private out: PlumtreeAction[] = [];

  constructor(
    private readonly host: PlumtreeHost,
    config: Partial<PlumtreeConfig> = {},
  ) {
    this.config = { ...DEFAULT_PLUMTREE, ...config };
  }

  /** Eager links of the tree of `origin` (the shared tree when omitted). */
  eagerPeers(origin?: ReplicaId): ReadonlySet<PeerId> {
    return (origin === undefined ? this.shared : this.tree(origin)).eager;
  }

  lazyPeers(origin?: ReplicaId): ReadonlySet<PeerId> {
    return (origin === undefined ? this.shared : this.tree(origin)).lazy;
  }

  /** Ids announced to us that we lack and are waiting for. */
  missingCount(): number {
    return this.missing.size;
  }

  nextDeadline(): number | undefined {
    if (this.missing.size === 0) this.earliest = undefined;
    const t = this.flushAt;
    return t === undefined || (this.earliest !== undefined && this.earliest < t) ? this.earliest : t;
  }

  drain(): PlumtreeAction[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  /** A new active neighbour starts eager: the tree then spans it at once. */
  neighborUp(peer: PeerId): void {
    for (const t of this.allTrees()) {
      t.lazy.delete(peer);
      t.eager.add(peer);
    }
  }

  neighborDown(peer: PeerId): void {
    for (const t of this.allTrees()) {
      t.eager.delete(peer);
      t.lazy.delete(peer);
    }
    this.lazyQueue.delete(peer);
    for (const [k, m] of this.missing) {
      m.sources = m.sources.filter((s) => s.peer !== peer);
      if (m.sources.length === 0 && m.bestPeer === peer) this.missing.delete(k);
    }
  }

  /** The host refused a delivered payload (not the write its id names): take the id again. */
  refused(id: Dot): void {
    this.inflight.delete(dotKey(id));
  }

  /** A local write (already applied: has(id) is true). */
  broadcast(id: Dot, payload: Uint8Array, now: number): void {
    this.push(id, payload, 1, undefined, now);
  }

  message(from: PeerId, msg: OverlayMessage, now: number): void {
    switch (msg.type) {
      case OVERLAY_MSG.gossip:
        this.onGossip(from, msg.id, msg.round, msg.payload, now);
        break;
      case OVERLAY_MSG.ihave:
        for (const e of msg.entries) this.onIHave(from, e, now);
        break;
      case OVERLAY_MSG.graft:
        this.onGraft(from, msg.id, msg.round, msg.want);
        break;
      case OVERLAY_MSG.prune:
        this.setLazy(msg.origin, from);
        break;
      default:
        return; // HyParView's messages are not ours
    }
  }

  tick(now: number): void {
    if (this.flushAt !== undefined && this.flushAt <= now) this.flush();
    this.earliest = undefined;
    for (const [k, m] of this.missing) {
      if (m.deadline > now) {
        this.due(m.deadline);
        continue;
      }
      if (this.seen(m.id)) {
        this.missing.delete(k);
        continue;
      }
      const next = m.sources.shift();
      if (next === undefined) {
        this.missing.delete(k); // every announcer was asked; anti-entropy finds the rest
        continue;
      }
      this.graft(next.peer, m.id, next.round);
      m.deadline = now + this.config.graftRetryMs;
      this.due(m.deadline);
    }
    for (const [k, expiry] of this.inflight) {
      if (expiry <= now || this.host.has(keyDot(k))) this.inflight.delete(k);
    }
  }

  // ---- protocol ------------------------------------------------------------------------------

  private seen(id: Dot): boolean {
    return this.inflight.has(dotKey(id)) || this.host.has(id);
  }

  private onGossip(from: PeerId, id: Dot, round: number, payload: Uint8Array, now: number): void {
    if (this.seen(id)) {
      // A duplicate: the link it came over is not needed in the tree.
      this.setLazy(id.r, from);
      this.send(from, { type: OVERLAY_MSG.prune, origin: id.r });
      return;
    }
    const k = dotKey(id);
    this.inflight.set(k, now + this.config.inflightMs);
    const m = this.missing.get(k);
    this.missing.delete(k);
    this.out.push({ type: 'deliver', id, payload, from, round });
    this.setEager(id.r, from);
    // An announcement came over a path much shorter than this one: make that link the tree's.
    if (m !== undefined && m.bestPeer !== from && m.bestRound + this.config.optimizeThreshold < round) {
      if (this.setEager(id.r, m.bestPeer)) this.send(m.bestPeer, { type: OVERLAY_MSG.graft, id, round: m.bestRound, want: false });
      this.setLazy(id.r, from);
      this.send(from, { type: OVERLAY_MSG.prune, origin: id.r });
    }
    this.push(id, payload, round + 1, from, now);
  }

  private onIHave(from: PeerId, e: IHaveEntry, now: number): void {
    if (this.seen(e.id)) return;
    const k = dotKey(e.id);
    let m = this.missing.get(k);
    if (m === undefined) {
      m = { id: e.id, sources: [], deadline: now + this.config.graftTimeoutMs, bestRound: e.round, bestPeer: from };
      this.missing.set(k, m);
      this.due(m.deadline);
      if (e.fetch) {
        // An announced large payload: fetch it now from this announcer, the next one only on timeout.
        this.graft(from, e.id, e.round);
        m.deadline = now + this.config.graftTimeoutMs;
        return;
      }
    } else if (e.round < m.bestRound) {
      m.bestRound = e.round;
      m.bestPeer = from;
    }
    if (!m.sources.some((s) => s.peer === from)) m.sources.push({ peer: from, round: e.round });
  }

  private onGraft(from: PeerId, id: Dot, round: number, want: boolean): void {
    this.setEager(id.r, from);
    if (!want) return;
    const payload = this.host.get(id);
    if (payload !== undefined) this.send(from, { type: OVERLAY_MSG.gossip, id, round, payload });
  }

  private due(deadline: number): void {
    if (this.earliest === undefined || deadline < this.earliest) this.earliest = deadline;
  }

  private graft(peer: PeerId, id: Dot, round: number): void {
    this.setEager(id.r, peer);
    this.send(peer, { type: OVERLAY_MSG.graft, id, round, want: true });
  }

  /** The tree of `origin`, made from the shared one on first use; the least recently used one goes. */
  private tree(origin: ReplicaId): Tree {
    let t = this.trees.get(origin);
    if (t !== undefined) {
      this.trees.delete(origin);
    } else {
      t = { eager: new Set(this.shared.eager), lazy: new Set(this.shared.lazy) };
      if (this.trees.size >= this.config.maxTrees) this.trees.delete(this.trees.keys().next().value!);
    }
    this.trees.set(origin, t);
    return t;
  }

  private *allTrees(): Iterable<Tree> {
    yield this.shared;
    yield* this.trees.values();
  }

  /** Makes a neighbour's link eager in origin's tree and the shared one; false if it is no neighbour. */
  private setEager(origin: ReplicaId, peer: PeerId): boolean {
    for (const t of [this.shared, this.tree(origin)]) {
      if (!t.lazy.delete(peer) && !t.eager.has(peer)) return false;
      t.eager.add(peer);
    }
    return true;
  }

  private setLazy(origin: ReplicaId, peer: PeerId): void {
    for (const t of [this.shared, this.tree(origin)]) if (t.eager.delete(peer)) t.lazy.add(peer);
  }

  /** Sends to eager peers (payload, or an announcement if it is large) and queues IHAVEs for lazy ones. */
  private push(id: Dot, payload: Uint8Array, round: number, from: PeerId | undefined, now: number): void {
    const announce = payload.length > this.config.announceAboveBytes;
    const tree = this.tree(id.r);
    for (const p of tree.eager) {
      if (p === from) continue;
      if (announce) this.send(p, { type: OVERLAY_MSG.ihave, entries: [{ id, round, fetch: true }] });
      else this.send(p, { type: OVERLAY_MSG.gossip, id, round, payload });
    }
    for (const p of tree.lazy) {
      if (p === from) continue;
      if (announce) {
        this.send(p, { type: OVERLAY_MSG.ihave, entries: [{ id, round, fetch: true }] });
        continue;
      }
      let q = this.lazyQueue.get(p);
      if (q === undefined) this.lazyQueue.set(p, (q = []));
      q.push({ id, round, fetch: false });
      if (q.length >= MAX_IHAVE) this.flushPeer(p, q);
    }
    if (this.lazyQueue.size > 0) this.flushAt ??= now + this.config.ihaveDelayMs;
  }

  private flush(): void {
    for (const [p, q] of this.lazyQueue) this.flushPeer(p, q);
    this.lazyQueue.clear();
    this.flushAt = undefined;
  }

  private flushPeer(p: PeerId, q: IHaveEntry[]): void {
    if (q.length > 0) this.send(p, { type: OVERLAY_MSG.ihave, entries: q.splice(0) });
  }

  private send(to: PeerId, msg: OverlayMessage): void {
    this.out.push({ type: 'send', to, msg });
  }
}

function keyDot(k: string): Dot {
  const i = k.indexOf(':');
  return { r: k.slice(0, i), c: Number(k.slice(i + 1)) };
}
