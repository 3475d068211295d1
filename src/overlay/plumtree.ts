// Plumtree broadcast (Leitão, Pereira, Rodrigues 2007), modelled on iroh-gossip's proto/plumtree.rs:
// a write is pushed eagerly along a spanning tree of the active views and announced lazily (ids
// only, batched) to the other active peers. A node that hears of an id it lacks and does not get
// the payload within a timeout GRAFTs the announcing link into the tree; a duplicate payload PRUNEs
// the link it came over. The tree is the union of eager links, shaped by the first arrivals, so it
// tends towards the fastest paths; a lazy link whose announcement beats the eager path by more than
// `optimizeThreshold` hops replaces it.
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

import type { Dot } from '../core/replica.js';
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
}

export const DEFAULT_PLUMTREE: PlumtreeConfig = {
  graftTimeoutMs: 120,
  graftRetryMs: 60,
  ihaveDelayMs: 20,
  optimizeThreshold: 4,
  announceAboveBytes: 64 * 1024,
  inflightMs: 30_000,
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

export function dotKey(id: Dot): string {
  return `${id.r}:${id.c}`;
}

export class Plumtree {
  readonly config: PlumtreeConfig;
  private readonly eager = new Set<PeerId>();
  private readonly lazy = new Set<PeerId>();
  private readonly missing = new Map<string, Missing>();
  /** Delivered to the host, maybe not applied yet: key -> expiry. */
  private readonly inflight = new Map<string, number>();
  private readonly lazyQueue = new Map<PeerId, IHaveEntry[]>();
  private flushAt: number | undefined;
  private out: PlumtreeAction[] = [];

  constructor(
    private readonly host: PlumtreeHost,
    config: Partial<PlumtreeConfig> = {},
  ) {
    this.config = { ...DEFAULT_PLUMTREE, ...config };
  }

  eagerPeers(): ReadonlySet<PeerId> {
    return this.eager;
  }

  lazyPeers(): ReadonlySet<PeerId> {
    return this.lazy;
  }

  /** Ids announced to us that we lack and are waiting for. */
  missingCount(): number {
    return this.missing.size;
  }

  nextDeadline(): number | undefined {
    let t = this.flushAt;
    for (const m of this.missing.values()) if (t === undefined || m.deadline < t) t = m.deadline;
    return t;
  }

  drain(): PlumtreeAction[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  /** A new active neighbour starts eager: the tree then spans it at once. */
  neighborUp(peer: PeerId): void {
    this.lazy.delete(peer);
    this.eager.add(peer);
  }

  neighborDown(peer: PeerId): void {
    this.eager.delete(peer);
    this.lazy.delete(peer);
    this.lazyQueue.delete(peer);
    for (const [k, m] of this.missing) {
      m.sources = m.sources.filter((s) => s.peer !== peer);
      if (m.sources.length === 0 && m.bestPeer === peer) this.missing.delete(k);
    }
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
        this.onGraft(from, msg.id, msg.round);
        break;
      case OVERLAY_MSG.prune:
        if (this.eager.delete(from)) this.lazy.add(from);
        break;
      default:
        return; // HyParView's messages are not ours
    }
  }

  tick(now: number): void {
    if (this.flushAt !== undefined && this.flushAt <= now) this.flush();
    for (const [k, m] of this.missing) {
      if (m.deadline > now) continue;
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
      if (this.eager.delete(from)) this.lazy.add(from);
      this.send(from, { type: OVERLAY_MSG.prune });
      return;
    }
    const k = dotKey(id);
    this.inflight.set(k, now + this.config.inflightMs);
    const m = this.missing.get(k);
    this.missing.delete(k);
    this.out.push({ type: 'deliver', id, payload, from, round });
    if (this.lazy.has(from) || this.eager.has(from)) {
      this.lazy.delete(from);
      this.eager.add(from);
    }
    // An announcement came over a path much shorter than this one: make that link the tree's.
    if (m !== undefined && m.bestPeer !== from && m.bestRound + this.config.optimizeThreshold < round) {
      this.graftLink(m.bestPeer, m.bestRound);
      if (this.eager.delete(from)) this.lazy.add(from);
      this.send(from, { type: OVERLAY_MSG.prune });
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

  private onGraft(from: PeerId, id: Dot | null, round: number): void {
    this.lazy.delete(from);
    this.eager.add(from);
    if (id === null) return;
    const payload = this.host.get(id);
    if (payload !== undefined) this.send(from, { type: OVERLAY_MSG.gossip, id, round, payload });
  }

  private graft(peer: PeerId, id: Dot, round: number): void {
    if (this.lazy.delete(peer)) this.eager.add(peer);
    this.send(peer, { type: OVERLAY_MSG.graft, id, round });
  }

  private graftLink(peer: PeerId, round: number): void {
    if (!this.lazy.has(peer) && !this.eager.has(peer)) return;
    this.lazy.delete(peer);
    this.eager.add(peer);
    this.send(peer, { type: OVERLAY_MSG.graft, id: null, round });
  }

  /** Sends to eager peers (payload, or an announcement if it is large) and queues IHAVEs for lazy ones. */
  private push(id: Dot, payload: Uint8Array, round: number, from: PeerId | undefined, now: number): void {
    const announce = payload.length > this.config.announceAboveBytes;
    for (const p of this.eager) {
      if (p === from) continue;
      if (announce) this.send(p, { type: OVERLAY_MSG.ihave, entries: [{ id, round, fetch: true }] });
      else this.send(p, { type: OVERLAY_MSG.gossip, id, round, payload });
    }
    for (const p of this.lazy) {
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
