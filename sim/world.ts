// The simulated world: N nodes, each running the real HyParView and Plumtree cores and a replica
// model, over a network with a virtual clock. Latency is uniform in [latencyMinMs, latencyMaxMs]
// per frame, links are FIFO (as TCP streams are), a crashed or partitioned peer shows up as a
// closed connection (the failure detector HyParView expects), and every frame is really encoded
// and decoded, so byte counts are the codec's.

import { Writer } from '../src/core/bytes.js';
import { Clock } from '../src/core/clock.js';
import type { Dot } from '../src/core/replica.js';
import { HyParView, type HyParViewConfig } from '../src/overlay/hyparview.js';
import { decodeOverlay, encodeOverlay, isOverlayType, OVERLAY_MSG, type OverlayMessage, type PeerId } from '../src/overlay/messages.js';
import { Plumtree, type PlumtreeConfig } from '../src/overlay/plumtree.js';
import { EventQueue } from './event-queue.js';
import { BY_PULL, BY_PUSH, Metrics } from './metrics.js';
import { prng } from './prng.js';
import { AE, clockHash, decodeAe, encodeAe, PayloadStore, ReplicaModel, type AeEntry, type AeMessage } from './replica-model.js';

export interface WorldOptions {
  nodes: number;
  seed: number;
  /** Room for nodes added later (replacements). */
  capacity: number;
  latencyMinMs: number;
  latencyMaxMs: number;
  /** Probability that an overlay frame is lost (anti-entropy frames, on their own stream, are not). */
  loss: number;
  valueBytes: number;
  pullMs: number;
  /** A pull goes to a random passive peer instead of an active one with this probability (heals split overlays). */
  passiveProbe: number;
  /** A pull does not send writes that arrived within this long: the push is likely still delivering them. */
  aeGraceMs: number;
  /** How long a connection across a new partition takes to be seen closed (keepalive), and a dial to time out. */
  detectMs: number;
  hyparview: Partial<HyParViewConfig>;
  plumtree: Partial<PlumtreeConfig>;
}

export const DEFAULT_WORLD: Omit<WorldOptions, 'nodes' | 'seed' | 'capacity'> = {
  latencyMinMs: 10,
  latencyMaxMs: 50,
  loss: 0,
  valueBytes: 100,
  pullMs: 5_000,
  passiveProbe: 0.1,
  aeGraceMs: 1_000,
  detectMs: 5_000,
  hyparview: {},
  plumtree: {},
};

/** Per frame, on top of its encoding: the length prefix of the sync stream's framing. */
const FRAME_OVERHEAD = 4;

export class SimNode {
  hv!: HyParView;
  pt!: Plumtree;
  up = true;
  upSince = 0;
  incarnation = 0;
  part = 0;
  /** Per active peer: our version when we last sent it our clock, and the peer's clock as last heard. */
  readonly sentTo = new Map<PeerId, number>();
  readonly heard = new Map<PeerId, Clock>();
  /** Per active peer: our version when its heard clock last covered ours (nothing to send while both stay). */
  readonly coveredAt = new Map<PeerId, number>();
  nextPull = 0;
  tickAt = Infinity;
  tickGen = 0;

  constructor(
    readonly index: number,
    readonly peerId: PeerId,
    public replica: ReplicaModel,
  ) {}
}

export class World {
  readonly q = new EventQueue();
  readonly random: () => number;
  readonly nodes: SimNode[] = [];
  readonly metrics: Metrics;
  readonly opts: WorldOptions;
  bytes = 0;
  frames = 0;
  /** Bytes sent per frame type (overlay 40-49, anti-entropy 60-63). */
  readonly bytesByType = new Float64Array(256);
  private readonly byId = new Map<PeerId, SimNode>();
  private readonly payloads = new PayloadStore();
  private readonly lastArrival = new Map<number, number>();
  private readonly w = new Writer(1 << 16);
  private h1 = 0x811c9dc5;
  private h2 = 0x01000193;

  constructor(opts: WorldOptions) {
    this.opts = opts;
    this.random = prng(opts.seed);
    this.metrics = new Metrics(opts.capacity);
  }

  get now(): number {
    return this.q.now;
  }

  /** A 64-bit hash of every frame delivered (time, ends, type, size): the same seed gives the same hash. */
  traceHash(): string {
    return (this.h1 >>> 0).toString(16).padStart(8, '0') + (this.h2 >>> 0).toString(16).padStart(8, '0');
  }

  /** A new node (it joins when start() is called). */
  addNode(replica?: ReplicaModel): SimNode {
    const index = this.nodes.length;
    // Sizes like a libp2p peer id and a TCP multiaddr, so shuffle bytes are realistic. The padding
    // is no base-36 digit's (an 'x' made node 1188's id node 0's).
    const peerId = `12D3KooW${index.toString(36).padStart(44, '0')}`;
    const n = new SimNode(index, peerId, replica ?? new ReplicaModel(index.toString(16).padStart(32, '0'), this.payloads));
    this.nodes.push(n);
    this.byId.set(peerId, n);
    this.boot(n);
    return n;
  }

  private boot(n: SimNode): void {
    const addrs = [`/ip4/10.${(n.index >> 16) & 255}.${(n.index >> 8) & 255}.${n.index & 255}/tcp/4001`];
    n.hv = new HyParView({ me: n.peerId, addrs, allowed: () => true, random: this.random }, this.opts.hyparview);
    n.pt = new Plumtree({ has: (d) => n.replica.has(d), get: (d) => n.replica.get(d) }, this.opts.plumtree);
    n.sentTo.clear();
    n.heard.clear();
    n.coveredAt.clear();
    n.up = true;
    n.upSince = this.now;
    n.incarnation++;
    n.tickAt = Infinity;
    n.tickGen++;
    n.nextPull = this.now + this.random() * this.opts.pullMs;
  }

  start(n: SimNode, seed: SimNode): void {
    n.hv.join({ id: seed.peerId, addrs: seed.hv.addrsOf(seed.peerId) }, this.now);
    this.flush(n);
  }

  write(n: SimNode, measured: boolean): Dot {
    const payload = new Uint8Array(this.opts.valueBytes).fill(n.index & 255);
    const dot = n.replica.write(payload, this.now);
    this.metrics.wrote(dot, n.index, this.now, measured);
    n.pt.broadcast(dot, payload, this.now);
    this.flush(n);
    return dot;
  }

  crash(n: SimNode): void {
    n.up = false;
    n.tickGen++;
    for (const m of this.nodes) {
      if (m.up && m.hv.isActive(n.peerId)) this.later(m, this.latency(), () => m.hv.disconnected(n.peerId, this.now));
    }
  }

  /** Starts a crashed node again with `replica` (its old state, or a backup's), joining through `seed`. */
  restart(n: SimNode, replica: ReplicaModel, seed: SimNode): void {
    n.replica = replica;
    this.boot(n);
    this.start(n, seed);
  }

  /** Splits the network by part(index); connections across are seen closed after detectMs. */
  partition(part: (index: number) => number): void {
    for (const n of this.nodes) n.part = part(n.index);
    for (const n of this.nodes) {
      if (!n.up) continue;
      for (const p of n.hv.activeView()) {
        if (this.byId.get(p)!.part !== n.part) this.later(n, this.opts.detectMs, () => n.hv.disconnected(p, this.now));
      }
    }
  }

  heal(): void {
    for (const n of this.nodes) n.part = 0;
  }

  live(): SimNode[] {
    return this.nodes.filter((n) => n.up);
  }

  allEqual(): boolean {
    const live = this.live();
    return live.every((n) => n.replica.clock.equals(live[0]!.replica.clock));
  }

  run(until: number): void {
    this.q.runUntil(until);
  }

  // ---- the node's host loop -------------------------------------------------------------------

  /** Runs fn at node n after `delay`, if n is still the same incarnation and up, then carries out its actions. */
  private later(n: SimNode, delay: number, fn: () => void): void {
    const inc = n.incarnation;
    this.q.at(this.now + delay, () => {
      if (!n.up || n.incarnation !== inc) return;
      fn();
      this.flush(n);
    });
  }

  private flush(n: SimNode): void {
    for (;;) {
      const hvOut = n.hv.drain();
      const ptOut = n.pt.drain();
      if (hvOut.length === 0 && ptOut.length === 0) break;
      for (const a of hvOut) {
        if (a.type === 'send') this.sendOverlay(n, a.to, a.msg);
        else if (a.type === 'up') n.pt.neighborUp(a.peer);
        else if (a.type === 'down') {
          n.pt.neighborDown(a.peer);
          n.sentTo.delete(a.peer);
          n.heard.delete(a.peer);
          n.coveredAt.delete(a.peer);
        }
      }
      for (const a of ptOut) {
        if (a.type === 'send') this.sendOverlay(n, a.to, a.msg);
        else if (n.replica.apply(a.id, a.payload, this.now)) this.metrics.delivered(a.id, n.index, this.now, BY_PUSH, a.round, n.upSince);
      }
    }
    this.schedule(n);
  }

  private schedule(n: SimNode): void {
    let d = n.nextPull;
    const h = n.hv.nextDeadline();
    if (h !== undefined && h < d) d = h;
    const p = n.pt.nextDeadline();
    if (p !== undefined && p < d) d = p;
    if (d >= n.tickAt && n.tickAt > this.now) return;
    n.tickAt = d;
    const gen = ++n.tickGen;
    this.q.at(d, () => {
      if (n.tickGen !== gen || !n.up) return;
      n.tickAt = Infinity;
      n.hv.tick(this.now);
      n.pt.tick(this.now);
      if (this.now >= n.nextPull) {
        n.nextPull = this.now + this.opts.pullMs;
        this.pull(n);
      }
      this.flush(n);
    });
  }

  // ---- anti-entropy ---------------------------------------------------------------------------

  private pull(n: SimNode): void {
    const active = n.hv.activeView();
    const passive = n.hv.passiveView();
    const usePassive = active.length === 0 || (passive.length > 0 && this.random() < this.opts.passiveProbe);
    const from = usePassive ? passive : active;
    if (from.length === 0) return;
    const peer = from[Math.floor(this.random() * from.length)]!;
    if (usePassive) {
      this.sendAe(n, peer, { type: AE.probe, hash: clockHash(n.replica.clock) });
      return;
    }
    const { full, clock } = this.clockFor(n, peer);
    this.sendAe(n, peer, { type: AE.pull, full, clock });
  }

  /** The clock to send `peer`: only what changed since the last one on an active link, else all of it. */
  private clockFor(n: SimNode, peer: PeerId): { full: boolean; clock: Clock } {
    const mine = n.replica.clock;
    if (!n.hv.isActive(peer)) return { full: true, clock: mine };
    const last = n.sentTo.get(peer);
    n.sentTo.set(peer, n.replica.version);
    return last === undefined ? { full: true, clock: mine } : { full: false, clock: n.replica.since(last) };
  }

  /** The peer's clock as it told us (a delta is added to what we heard before on this link). */
  private heardFrom(n: SimNode, peer: PeerId, full: boolean, clock: Clock): Clock {
    const before = n.heard.get(peer);
    if (!full && clock.isEmpty() && before !== undefined) return before;
    n.coveredAt.delete(peer);
    const view = full ? clock : (before?.clone() ?? Clock.empty()).merge(clock);
    if (n.hv.isActive(peer)) n.heard.set(peer, view);
    return view;
  }

  /** What the peer lacks of ours, skipping the comparison when neither clock changed since it last covered ours. */
  private missingFor(n: SimNode, peer: PeerId, theirs: Clock): AeEntry[] {
    if (n.coveredAt.get(peer) === n.replica.version) return [];
    const entries = n.replica.missingFrom(theirs, this.now - this.opts.aeGraceMs);
    if (entries !== 'none') return entries;
    if (n.hv.isActive(peer)) n.coveredAt.set(peer, n.replica.version);
    return [];
  }

  private onAe(n: SimNode, from: PeerId, m: AeMessage): void {
    if (m.type === AE.probe) {
      if (Buffer.compare(m.hash, clockHash(n.replica.clock)) === 0) return;
      const { full, clock } = this.clockFor(n, from);
      this.sendAe(n, from, { type: AE.pull, full, clock });
      return;
    }
    if (m.type !== AE.pull) this.applyEntries(n, m.entries);
    if (m.type === AE.pushBack) return;
    const theirs = this.heardFrom(n, from, m.full, m.clock);
    const entries = this.missingFor(n, from, theirs);
    if (m.type === AE.pull) {
      const { full, clock } = this.clockFor(n, from);
      this.sendAe(n, from, { type: AE.reply, full, clock, entries });
    } else if (entries.length > 0) this.sendAe(n, from, { type: AE.pushBack, entries });
  }

  private applyEntries(n: SimNode, entries: AeEntry[]): void {
    for (const e of entries) {
      this.metrics.payloadIn(e.id);
      if (n.replica.apply(e.id, e.payload, this.now)) this.metrics.delivered(e.id, n.index, this.now, BY_PULL, 0, n.upSince);
    }
  }

  // ---- the network ----------------------------------------------------------------------------

  private latency(): number {
    return this.opts.latencyMinMs + this.random() * (this.opts.latencyMaxMs - this.opts.latencyMinMs);
  }

  private sendOverlay(from: SimNode, to: PeerId, msg: OverlayMessage): void {
    if (this.opts.loss > 0 && this.random() < this.opts.loss) {
      this.bytes += encodeOverlay(msg, this.w).length + FRAME_OVERHEAD;
      return;
    }
    this.transmit(from, to, encodeOverlay(msg, this.w));
  }

  private sendAe(from: SimNode, to: PeerId, m: AeMessage): void {
    this.transmit(from, to, encodeAe(m, this.w));
  }

  private transmit(from: SimNode, toId: PeerId, frame: Uint8Array): void {
    this.bytes += frame.length + FRAME_OVERHEAD;
    this.bytesByType[frame[0]!]! += frame.length + FRAME_OVERHEAD;
    this.frames++;
    const to = this.byId.get(toId);
    if (to === undefined || !to.up) {
      // Connection refused: the process is gone (its host answers at once).
      this.later(from, 2 * this.latency(), () => from.hv.disconnected(toId, this.now));
      return;
    }
    if (to.part !== from.part) {
      this.later(from, this.opts.detectMs, () => from.hv.disconnected(toId, this.now));
      return;
    }
    const link = from.index * this.opts.capacity + to.index;
    const arrival = Math.max(this.now + this.latency(), this.lastArrival.get(link) ?? 0);
    this.lastArrival.set(link, arrival);
    const inc = to.incarnation;
    const fromId = from.peerId;
    const fromIndex = from.index;
    this.q.at(arrival, () => {
      if (!to.up || to.incarnation !== inc || to.part !== from.part) return;
      this.mix(Math.round(this.now * 1000), fromIndex, to.index, frame[0]! | (frame.length << 8));
      this.receive(to, fromId, frame);
    });
  }

  private receive(to: SimNode, from: PeerId, frame: Uint8Array): void {
    const type = frame[0]!;
    if (isOverlayType(type)) {
      const msg = decodeOverlay(frame);
      if (type >= OVERLAY_MSG.gossip) {
        if (msg.type === OVERLAY_MSG.gossip) this.metrics.payloadIn(msg.id);
        to.pt.message(from, msg, this.now);
      } else to.hv.message(from, msg, this.now);
    } else this.onAe(to, from, decodeAe(frame));
    this.flush(to);
  }

  private mix(a: number, b: number, c: number, d: number): void {
    for (const x of [a, b, c, d]) {
      this.h1 = Math.imul(this.h1 ^ x, 0x01000193);
      this.h2 = Math.imul(this.h2 ^ (x + this.h1), 0x85ebca6b) ^ (this.h2 >>> 13);
    }
  }
}
