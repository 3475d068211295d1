// HyParView membership (Leitão, Pereira, Rodrigues 2007), modelled on iroh-gossip's
// proto/hyparview.rs: a small active view of peers we hold connections to (the broadcast tree is
// built over them) and a larger passive view of addresses to replace them from. The connection is
// the failure detector; periodic shuffles with random walks keep the passive views fresh and mixed.
//
// How a host drives it (sans-I/O: no timers, no sockets, no clock of its own):
//   const hv = new HyParView({ me, addrs, allowed, random }, config);
//   hv.join(seed)                 at start, and again whenever hv.isolated() (seeds are remembered)
//   hv.message(from, msg, now)    for every decoded overlay frame 40-45 from a peer
//   hv.disconnected(peer, now)    when a connection to `peer` closed or a dial to it failed
//   hv.forget(peer, now)          when the operator forgets a peer (allowed() must refuse it too)
//   hv.tick(now)                  at hv.nextDeadline() (or on any coarser timer)
//   for (const a of hv.drain()) … after each call, carry out the actions in order:
//     send  {to, msg}   encode and send; with no connection to `to`, dial it first (addrsOf(to))
//                       and, if that fails, call hv.disconnected(to)
//     close {peer}      close the connection once queued frames are sent (unless other users need it)
//     up/down {peer}    the active view gained/lost `peer`: tell Plumtree (neighborUp/neighborDown)
// Randomness is a function returning [0, 1), so a simulator can seed it. There is no connected()
// event: an inbound connection means nothing until its first frame. A peer's claims (addresses in
// shuffles, walks) only ever fill the bounded passive view, and allowed() filters every peer.

import type { OverlayMessage, PeerId, PeerInfo } from './messages.js';
import { MAX_SHUFFLE_NODES, OVERLAY_MSG } from './messages.js';
import { pick, sample, type Random } from './random.js';

export interface HyParViewConfig {
  /** Active view capacity (5-8; the degree of the broadcast tree's graph). */
  activeSize: number;
  passiveSize: number;
  /** Active random walk length: FORWARD_JOIN hops before the joiner is taken into an active view. */
  arwl: number;
  /** Passive random walk length: the hop at which the joiner is put into a passive view. */
  prwl: number;
  /** Shuffle random walk length. */
  srwl: number;
  shuffleActive: number;
  shufflePassive: number;
  shuffleIntervalMs: number;
  /** A NEIGHBOR request unanswered this long counts as refused (the peer leaves the passive view). */
  neighborTimeoutMs: number;
  /** While isolated (no active peer, no request pending), JOIN a remembered seed this often. */
  rejoinIntervalMs: number;
}

export const DEFAULT_HYPARVIEW: HyParViewConfig = {
  activeSize: 6,
  passiveSize: 30,
  arwl: 6,
  prwl: 3,
  srwl: 6,
  shuffleActive: 3,
  shufflePassive: 4,
  shuffleIntervalMs: 60_000,
  neighborTimeoutMs: 2_000,
  rejoinIntervalMs: 5_000,
};

export type { Random };

export interface HyParViewDeps {
  me: PeerId;
  /** Our own addresses, sent in JOIN, NEIGHBOR and shuffles. */
  addrs: string[];
  /** False for peers refused by the allow-list or forgotten: they never enter a view. */
  allowed: (peer: PeerId) => boolean;
  random: Random;
}

export type HyParViewAction =
  | { type: 'send'; to: PeerId; msg: OverlayMessage }
  | { type: 'close'; peer: PeerId }
  | { type: 'up'; peer: PeerId }
  | { type: 'down'; peer: PeerId };

type Removal = 'evicted' | 'told' | 'told-alive' | 'closed' | 'forgotten';

export class HyParView {
  readonly config: HyParViewConfig;
  private readonly active: PeerId[] = [];
  private readonly passive: PeerId[] = [];
  private readonly addrs = new Map<PeerId, string[]>();
  /** NEIGHBOR requests we sent, with the time they count as refused. */
  private readonly pending = new Map<PeerId, number>();
  /** Peers that said they stay alive when they left our active view: their closed connection is no failure. */
  private readonly aliveLeft = new Set<PeerId>();
  private readonly seeds = new Map<PeerId, string[]>();
  /** Peers that refused a NEIGHBOR request since the last shuffle: not asked again until then (no livelock). */
  private readonly refusedUs = new Set<PeerId>();
  private nextShuffle: number | undefined;
  private nextRejoin = 0;
  private now = 0;
  private out: HyParViewAction[] = [];

  constructor(
    private readonly deps: HyParViewDeps,
    config: Partial<HyParViewConfig> = {},
  ) {
    this.config = { ...DEFAULT_HYPARVIEW, ...config };
  }

  // ---- queries -------------------------------------------------------------------------------

  activeView(): readonly PeerId[] {
    return this.active;
  }

  passiveView(): readonly PeerId[] {
    return this.passive;
  }

  isActive(peer: PeerId): boolean {
    return this.active.includes(peer);
  }

  /** Known addresses of a peer in either view (or a seed), for dialling it. */
  addrsOf(peer: PeerId): string[] {
    return this.addrs.get(peer) ?? this.seeds.get(peer) ?? [];
  }

  /** A NEIGHBOR or JOIN request to `peer` awaits its answer (the host keeps that connection too). */
  isPending(peer: PeerId): boolean {
    return this.pending.has(peer);
  }

  /** No active peer and no request under way: the host may want to join a seed (tick does it too). */
  isolated(): boolean {
    return this.active.length === 0 && this.pending.size === 0;
  }

  /** The next time tick() has something to do. */
  nextDeadline(): number | undefined {
    let t = this.nextShuffle;
    for (const d of this.pending.values()) if (t === undefined || d < t) t = d;
    if (this.seeds.size > 0 && this.isolated() && (t === undefined || this.nextRejoin < t)) t = this.nextRejoin;
    return t;
  }

  /** The actions queued since the last drain, in order. */
  drain(): HyParViewAction[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  // ---- events --------------------------------------------------------------------------------

  /** Joins through `seed` and remembers it, so an isolated node joins again later. */
  join(seed: PeerInfo, now: number): void {
    if (seed.id === this.deps.me || !this.deps.allowed(seed.id)) return;
    this.seeds.set(seed.id, seed.addrs);
    this.nextRejoin = now + this.config.rejoinIntervalMs;
    this.at(now);
    this.sendJoin(seed.id);
  }

  /** A connection to `peer` closed, or a dial to it failed. */
  disconnected(peer: PeerId, now: number): void {
    this.at(now);
    const wasPending = this.pending.delete(peer);
    if (this.active.includes(peer)) {
      this.removeActive(peer, 'closed');
      this.refill([peer]);
    } else if (wasPending) {
      // A dial that failed: the address is stale or the node is gone.
      if (!this.aliveLeft.delete(peer)) this.removePassive(peer);
      this.refill([peer]);
    } else {
      this.aliveLeft.delete(peer);
    }
  }

  /**
   * Addresses the host learned elsewhere (peers remembered across a restart, peer exchange): taken
   * into the passive view, and a free active slot asks one of them.
   */
  offer(peers: readonly PeerInfo[], now: number): void {
    this.at(now);
    for (const p of peers) this.addPassive(p);
    this.refill([]);
  }

  /** The operator forgot `peer` (the host's allowed() refuses it from now on). */
  forget(peer: PeerId, now: number): void {
    this.at(now);
    this.pending.delete(peer);
    this.seeds.delete(peer);
    this.removePassive(peer);
    if (this.active.includes(peer)) {
      this.removeActive(peer, 'forgotten');
      this.refill([peer]);
    }
  }

  message(from: PeerId, msg: OverlayMessage, now: number): void {
    if (from === this.deps.me) return;
    this.at(now);
    if (!this.deps.allowed(from)) {
      this.out.push({ type: 'close', peer: from });
      return;
    }
    switch (msg.type) {
      case OVERLAY_MSG.join:
        this.onJoin(from, msg.addrs);
        break;
      case OVERLAY_MSG.forwardJoin:
        this.onForwardJoin(from, msg.peer, msg.ttl);
        break;
      case OVERLAY_MSG.neighbor:
        this.onNeighbor(from, msg.high, msg.reply, msg.addrs);
        break;
      case OVERLAY_MSG.disconnect:
        this.onDisconnect(from, msg.alive);
        break;
      case OVERLAY_MSG.shuffle:
        this.onShuffle(from, msg.origin, msg.nodes, msg.ttl);
        break;
      case OVERLAY_MSG.shuffleReply:
        for (const p of msg.nodes) this.addPassive(p);
        this.refill([]);
        break;
      default:
        return; // Plumtree's messages are not ours
    }
    // A peer outside the active view reached us only for this message (a reply, a walk's end).
    if (msg.type !== OVERLAY_MSG.disconnect && !this.active.includes(from) && !this.pending.has(from)) {
      this.out.push({ type: 'close', peer: from });
    }
  }

  tick(now: number): void {
    this.at(now);
    for (const [peer, deadline] of [...this.pending]) {
      if (deadline > now) continue;
      this.pending.delete(peer);
      this.removePassive(peer);
      this.refill([peer]);
    }
    if (this.nextShuffle !== undefined && this.nextShuffle <= now) {
      this.nextShuffle = now + this.config.shuffleIntervalMs;
      this.refusedUs.clear();
      this.shuffle();
      this.refill([]);
    }
    if (this.seeds.size > 0 && this.isolated() && this.nextRejoin <= now) {
      this.nextRejoin = now + this.config.rejoinIntervalMs;
      const seeds = [...this.seeds.keys()];
      this.sendJoin(seeds[Math.floor(this.deps.random() * seeds.length)]!);
    }
  }

  // ---- protocol ------------------------------------------------------------------------------

  private onJoin(from: PeerId, addrs: string[]): void {
    this.learn({ id: from, addrs });
    if (!this.addActive(from, true, true)) return;
    for (const p of this.active) {
      if (p !== from) this.send(p, { type: OVERLAY_MSG.forwardJoin, peer: { id: from, addrs }, ttl: this.config.arwl });
    }
  }

  private onForwardJoin(from: PeerId, peer: PeerInfo, ttl: number): void {
    if (peer.id === this.deps.me || !this.deps.allowed(peer.id)) return;
    this.learn(peer);
    if (ttl === 0 || this.active.length <= 1 || this.active.includes(peer.id)) {
      this.requestNeighbor(peer.id, true);
      return;
    }
    if (ttl === this.config.prwl) this.addPassive(peer);
    const next = this.pick(this.active, [from, peer.id]);
    if (next === undefined) this.requestNeighbor(peer.id, true);
    else this.send(next, { type: OVERLAY_MSG.forwardJoin, peer, ttl: ttl - 1 });
  }

  private onNeighbor(from: PeerId, high: boolean, reply: boolean, addrs: string[]): void {
    this.learn({ id: from, addrs });
    const asked = this.pending.delete(from);
    // A reply we no longer wait for (we dropped the peer since asking): the peer took us, so say no.
    const stale = reply && !asked && !this.active.includes(from);
    if (stale || !this.addActive(from, high, !reply)) {
      this.send(from, { type: OVERLAY_MSG.disconnect, alive: true });
      this.out.push({ type: 'close', peer: from });
    }
  }

  private onDisconnect(from: PeerId, alive: boolean): void {
    const wasPending = this.pending.delete(from);
    if (this.active.includes(from)) {
      this.removeActive(from, alive ? 'told-alive' : 'told');
      this.refill([from]);
    } else {
      if (alive) this.aliveLeft.add(from);
      else this.removePassive(from);
      if (wasPending) {
        this.refusedUs.add(from);
        this.refill([]);
      }
    }
  }

  private onShuffle(from: PeerId, origin: PeerInfo, nodes: PeerInfo[], ttl: number): void {
    if (origin.id === this.deps.me) return;
    const next = ttl > 0 && this.active.length > 1 ? this.pick(this.active, [from, origin.id]) : undefined;
    if (next !== undefined) {
      this.send(next, { type: OVERLAY_MSG.shuffle, origin, nodes, ttl: ttl - 1 });
      return;
    }
    // The walk ends here: answer the origin with as many of ours, then take theirs.
    this.learn(origin);
    const reply = this.sample(this.passive, nodes.length, [origin.id]);
    if (reply.length < nodes.length) reply.push(...this.sample(this.active, nodes.length - reply.length, [origin.id]));
    this.send(origin.id, { type: OVERLAY_MSG.shuffleReply, nodes: reply.map((id) => this.info(id)) });
    this.addPassive(origin);
    for (const p of nodes) this.addPassive(p);
  }

  private shuffle(): void {
    const target = this.pick(this.active, []);
    if (target === undefined) return;
    const nodes = [
      ...this.sample(this.active, this.config.shuffleActive, [target]),
      ...this.sample(this.passive, this.config.shufflePassive, [target]),
    ].map((id) => this.info(id));
    const origin = { id: this.deps.me, addrs: this.deps.addrs };
    this.send(target, { type: OVERLAY_MSG.shuffle, origin, nodes: nodes.slice(0, MAX_SHUFFLE_NODES), ttl: this.config.srwl });
  }

  /** Takes `peer` into the active view; a high-priority request evicts a random peer when full. */
  private addActive(peer: PeerId, high: boolean, reply: boolean): boolean {
    if (peer === this.deps.me || !this.deps.allowed(peer)) return false;
    if (this.active.includes(peer)) {
      if (reply) this.sendNeighbor(peer, high, true);
      return true;
    }
    if (this.active.length >= this.config.activeSize) {
      if (!high) return false;
      const victim = this.pick(this.active, [])!;
      this.removeActive(victim, 'evicted');
    }
    this.removePassive(peer, true);
    this.aliveLeft.delete(peer);
    this.active.push(peer);
    this.out.push({ type: 'up', peer });
    if (reply) this.sendNeighbor(peer, high, true);
    return true;
  }

  private removeActive(peer: PeerId, why: Removal): void {
    const i = this.active.indexOf(peer);
    if (i < 0) return;
    this.active.splice(i, 1);
    this.pending.delete(peer); // a reply still on its way is stale now
    this.out.push({ type: 'down', peer });
    if (why === 'evicted' || why === 'forgotten') this.send(peer, { type: OVERLAY_MSG.disconnect, alive: why === 'evicted' });
    this.out.push({ type: 'close', peer });
    // A lost connection keeps the peer as a passive candidate (a dial to it later tells whether it is
    // gone): dropping it, as the paper does, would leave no link across a healed partition.
    if (why === 'evicted' || why === 'told-alive' || why === 'closed') {
      if (why !== 'closed') this.aliveLeft.add(peer);
      this.addPassive(this.info(peer));
    } else {
      this.addrs.delete(peer);
    }
  }

  /** Asks a passive peer to fill a free active slot (one request at a time per free slot). */
  private refill(skip: PeerId[]): void {
    if (this.active.length + this.pending.size >= this.config.activeSize) return;
    const candidate = this.pick(this.passive, [...skip, ...this.pending.keys(), ...this.refusedUs]);
    if (candidate === undefined) return;
    this.requestNeighbor(candidate, this.active.length === 0);
  }

  private requestNeighbor(peer: PeerId, high: boolean): void {
    if (this.pending.has(peer)) return;
    this.pending.set(peer, this.now + this.config.neighborTimeoutMs);
    this.sendNeighbor(peer, high, false);
  }

  /** The seed answers a JOIN with a NEIGHBOR reply, so the JOIN counts as a pending request. */
  private sendJoin(seed: PeerId): void {
    this.pending.set(seed, this.now + this.config.neighborTimeoutMs);
    this.send(seed, { type: OVERLAY_MSG.join, addrs: this.deps.addrs });
  }

  private sendNeighbor(peer: PeerId, high: boolean, reply: boolean): void {
    this.send(peer, { type: OVERLAY_MSG.neighbor, high, reply, addrs: this.deps.addrs });
  }

  private addPassive(p: PeerInfo): void {
    if (p.id === this.deps.me || !this.deps.allowed(p.id) || this.active.includes(p.id)) return;
    this.learn(p);
    if (this.passive.includes(p.id)) return;
    if (this.passive.length >= this.config.passiveSize) {
      const victim = this.pick(this.passive, [...this.pending.keys()]) ?? this.passive[0]!;
      this.removePassive(victim);
    }
    this.passive.push(p.id);
  }

  private removePassive(peer: PeerId, keepAddrs = false): void {
    const i = this.passive.indexOf(peer);
    if (i >= 0) this.passive.splice(i, 1);
    if (!keepAddrs && !this.active.includes(peer)) this.addrs.delete(peer);
  }

  private learn(p: PeerInfo): void {
    if (p.addrs.length > 0) this.addrs.set(p.id, p.addrs);
  }

  private info(id: PeerId): PeerInfo {
    return { id, addrs: this.addrsOf(id) };
  }

  /** The time of the event being handled; the first event starts the shuffle timer, at a random phase. */
  private at(now: number): void {
    this.now = now;
    this.nextShuffle ??= now + this.config.shuffleIntervalMs * (0.5 + this.deps.random());
  }

  private send(to: PeerId, msg: OverlayMessage): void {
    this.out.push({ type: 'send', to, msg });
  }

  private pick(from: readonly PeerId[], skip: readonly PeerId[]): PeerId | undefined {
    return pick(this.deps.random, from, skip);
  }

  private sample(from: readonly PeerId[], n: number, skip: readonly PeerId[]): PeerId[] {
    return sample(this.deps.random, from, n, skip);
  }
}
