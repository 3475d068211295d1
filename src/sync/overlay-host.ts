// The overlay topology's shell (config `topology: "overlay"`): drives the sans-I/O HyParView
// membership and Plumtree broadcast (src/overlay/) over libp2p. HyParView decides which peers this
// node keeps connections to; Plumtree decides whom a write is pushed to (eager peers) and whom it is
// only announced to (IHAVE to lazy peers). The writes themselves still travel as PUSH frames on the
// pusher's push streams (acknowledged, so write concern counts them) and are checked on receipt
// exactly like any PUSH: a relay can delay a write (anti-entropy repairs it), never corrupt one.
//
// Overlay frames (types 40-49) travel on sync streams: one outbound stream per peer this node has
// something to tell, kept while the peer is in a view of ours and closed on HyParView's `close`.
// A connection that HyParView does not hold (an inbound one it did not take, one a bootstrap, heal
// or sync round opened) is hung up once no sync stream other than the overlay's and push streams
// uses it for a gossip interval (a peer's stale overlay or push stream does not keep it).

import type { Libp2p, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { DeltaChunk } from '../core/delta.js';
import type { Dot } from '../core/replica.js';
import type { FrameWriter } from '../net/frames.js';
import { decodeOverlay, dotKey, encodeOverlay, HyParView, OVERLAY_MSG, Plumtree, type HyParViewAction, type OverlayMessage, type PlumtreeAction, type PeerInfo } from '../overlay/index.js';
import { MAX_ADDRS } from '../overlay/messages.js';
import { SYNC_PROTOCOL } from './messages.js';
import type { PeerStreams } from './peer-streams.js';

/** Chunks kept to answer GRAFTs (a write older than these is sent by a sync round instead). */
const CHUNKS_KEPT = 1024;
const CONNECT_TIMEOUT_MS = 30_000;
const NONE = new Uint8Array(0);
/** Gossip intervals an unheld connection with only long-lived streams left is kept before it is closed. */
const LINGER_INTERVALS = 10;

export interface OverlayHostDeps {
  node: Libp2p;
  streams: PeerStreams;
  log: Logger;
  activeView: number;
  passiveView: number;
  gossipIntervalMs: number;
  maxFrameBytes: number;
  random: () => number;
  /** False for forgotten peers and peers outside the allow-list: they never enter a view. */
  allowed: (peer: string) => boolean;
  /** Addresses the address book (membership.ts) holds for a peer, to dial it. */
  addrsOf: (peer: string) => string[];
  /** This node's clock (what "already seen" means for a write's dot). */
  clock: () => Clock;
  /** Pushes a chunk to peers on the push streams (pusher.ts), under the pusher's own seq. */
  push: (peers: string[], chunk: DeltaChunk) => void;
  /** A peer grafted a write no longer cached here: a sync round with it sends what it lacks. */
  syncWith: (peer: string) => void;
  /** `peer` left the active view (its push stream can go). */
  down: (peer: string) => void;
}

/**
 * The id Plumtree knows a chunk by: the dot (r, highest counter of r in the chunk's claim) of the
 * replica with the most dots in the claim (ties: the higher counter, then the smaller replica id).
 * A chunk of local writes holds only this node's dots (a write replaces every sibling it saw), so
 * its id is the write's own newest dot; a chunk carrying a concurrent sibling of another replica
 * still has a rule every relay applies alike, since relays forward the claim unchanged. An id that
 * a receiver holds while other dots of the chunk are new to it costs only speed (it prunes instead
 * of relaying; the chunk is applied all the same, and anti-entropy carries the rest).
 */
export function chunkId(claim: Clock): Dot | undefined {
  let best: { r: string; c: number; n: number } | undefined;
  for (const r of claim.replicas()) {
    const c = claim.max(r);
    const n = claim.runs(r).reduce((sum, [from, to]) => sum + to - from + 1, 0);
    if (best === undefined || n > best.n || (n === best.n && (c > best.c || (c === best.c && r < best.r)))) best = { r, c, n };
  }
  return best === undefined ? undefined : { r: best.r, c: best.c };
}

export class OverlayHost {
  readonly hv: HyParView;
  readonly pt: Plumtree;
  /** Per peer: our outbound overlay stream's writer, as a chain every send waits its turn on. */
  private readonly out = new Map<string, Promise<FrameWriter | undefined>>();
  /** Overlay and push streams: long-lived, so they do not make a connection count as in use. */
  private readonly longLived = new WeakSet<Stream>();
  private readonly chunks = new Map<string, DeltaChunk>();
  /** When a connection stopped being held by HyParView. */
  private readonly unheldSince = new Map<string, number>();
  /** The id of the chunk being received: not "held" for Plumtree even if its dot is covered (see received). */
  private arriving: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly d: OverlayHostDeps) {
    const me = d.node.peerId.toString();
    this.hv = new HyParView(
      { me, addrs: d.node.getMultiaddrs().slice(0, MAX_ADDRS).map((a) => a.toString()), allowed: d.allowed, random: d.random },
      // A NEIGHBOR or JOIN unanswered within the timeout drops the peer from the passive view. On a
      // loaded machine a dial and handshake may take seconds (CONNECT_TIMEOUT_MS, as any dial
      // here): HyParView's 2 s default drained whole passive views under load and left a node whose
      // neighbours crashed isolated, with no address left to ask. A dead peer still fails at once
      // (the dial is refused: disconnected()).
      { activeSize: d.activeView, passiveSize: d.passiveView, neighborTimeoutMs: CONNECT_TIMEOUT_MS },
    );
    this.pt = new Plumtree(
      {
        has: (id) => dotKey(id) !== this.arriving && d.clock().covers(id.r, id.c),
        get: (id) => (this.chunks.has(dotKey(id)) ? NONE : undefined),
      },
      // Payloads are announced, never pushed, only above this size; the daemon pushes every chunk
      // (as the mesh does): the fetch-by-graft path is exercised by the simulator for now.
      { announceAboveBytes: Number.POSITIVE_INFINITY },
    );
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const w of this.out.values()) void w.then((x) => x?.close()).catch(() => {});
    this.out.clear();
  }

  // ---- events from the replicator -------------------------------------------------------------

  /** A seed address answered as `peer` (a dial by address): join the overlay through it. */
  seedReached(peer: string, addr: string): void {
    this.hv.join({ id: peer, addrs: [addr] }, Date.now());
    this.run();
  }

  /** The libp2p connection is the failure detector. */
  disconnected(peer: string): void {
    this.out.delete(peer);
    this.unheldSince.delete(peer);
    this.hv.disconnected(peer, Date.now());
    this.run();
  }

  forget(peer: string): void {
    this.hv.forget(peer, Date.now());
    this.run();
  }

  /** Remembered peers and peer exchange: candidates for the passive view. */
  offer(peers: readonly PeerInfo[]): void {
    const ok = peers.filter((p) => p.addrs.length > 0 && this.d.allowed(p.id));
    if (ok.length === 0) return;
    this.hv.offer(ok.map((p) => ({ id: p.id, addrs: p.addrs.slice(0, 8) })), Date.now());
    this.run();
  }

  isolated(): boolean {
    return this.hv.isolated();
  }

  activeView(): readonly string[] {
    return this.hv.activeView();
  }

  /** Up to `n` random active peers for sync rounds. */
  pullTargets(n: number): string[] {
    const pool = [...this.hv.activeView()];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(this.d.random() * (i + 1));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, n);
  }

  /** A push or overlay stream: long-lived, it does not keep an unheld connection in use. */
  keep(stream: Stream): void {
    this.longLived.add(stream);
  }

  /** Local writes: the eager peers to push this chunk to; lazy peers are announced it. */
  broadcast(chunk: DeltaChunk): string[] {
    const id = chunkId(chunk.claim);
    if (id === undefined) return [];
    this.cache(id, chunk);
    this.pt.broadcast(id, NONE, Date.now());
    return this.run(id);
  }

  /**
   * A PUSH from `peer`, before it is applied. Returns what to do once it is applied (stored and
   * checked as any PUSH): relay it to eager peers and announce it to lazy ones, if it brought this
   * node anything new; a duplicate prunes the link it came over at once.
   */
  received(peer: string, chunk: DeltaChunk, frame: Uint8Array): () => void {
    const id = chunkId(chunk.claim);
    if (id === undefined) return () => {};
    const novel = !this.d.clock().coversClock(chunk.claim);
    this.arriving = novel ? dotKey(id) : undefined;
    this.pt.message(peer, { type: OVERLAY_MSG.gossip, id, round: 1, payload: frame }, Date.now());
    this.arriving = undefined;
    const actions = this.pt.drain();
    this.schedule(); // the IHAVEs it queued for lazy peers go at Plumtree's next deadline
    if (!novel) {
      this.carryOut(actions, undefined);
      return () => {};
    }
    return () => {
      this.cache(id, chunk);
      this.carryOut(actions, undefined);
    };
  }

  /** An inbound stream whose first frame is an overlay frame: every frame on it is one. */
  async serve(peer: string, stream: Stream, first: Uint8Array, frames: AsyncIterable<Uint8Array>): Promise<void> {
    this.longLived.add(stream);
    this.handle(peer, decodeOverlay(first));
    for await (const frame of frames) this.handle(peer, decodeOverlay(frame));
    await stream.close();
  }

  /** Every gossip interval: hang up connections HyParView does not hold once nothing uses them. */
  reap(now: number): void {
    for (const conn of this.d.node.getConnections()) {
      const peer = conn.remotePeer.toString();
      if (this.hv.isActive(peer) || this.hv.isPending(peer)) {
        this.unheldSince.delete(peer);
        continue;
      }
      const since = this.unheldSince.get(peer) ?? now;
      this.unheldSince.set(peer, since);
      // In use: a sync round, snapshot, VERIFY or a stream that has not said what it is yet.
      const sync = conn.streams.filter((s) => s.protocol === SYNC_PROTOCOL);
      if (sync.some((s) => !this.longLived.has(s)) || now - since < this.d.gossipIntervalMs) continue;
      // Our overlay and push streams to it end first, and the peer's end when its HyParView closes
      // the link: yamux (@chainsafe/libp2p-yamux 8) sends a window update in a microtask after a
      // read, and if the connection is closing by then it throws uncaught and the daemon dies (seen
      // in the scale benchmark). So a connection is closed under a peer's stream only after LINGER.
      if (sync.length > 0 && now - since < LINGER_INTERVALS * this.d.gossipIntervalMs) {
        this.closeTo(peer);
        this.d.down(peer);
        continue;
      }
      this.unheldSince.delete(peer);
      void conn.close().catch(() => {});
    }
  }

  // ---- driving the cores ----------------------------------------------------------------------

  private handle(peer: string, msg: OverlayMessage): void {
    const now = Date.now();
    if (msg.type <= OVERLAY_MSG.shuffleReply) this.hv.message(peer, msg, now);
    else {
      // A GRAFT for a write this node no longer caches: a sync round sends the peer what it lacks.
      if (msg.type === OVERLAY_MSG.graft && msg.id !== null && !this.chunks.has(dotKey(msg.id))) this.d.syncWith(peer);
      this.pt.message(peer, msg, now);
    }
    this.run();
  }

  /** Carries out both cores' actions; returns the peers a GOSSIP of `id` was meant for (the caller pushes it). */
  private run(id?: Dot): string[] {
    if (this.stopped) return [];
    // HyParView first: its up/down change Plumtree's peers before Plumtree's actions go out.
    for (let actions = this.hv.drain(); actions.length > 0; actions = this.hv.drain()) {
      for (const a of actions) this.membershipAction(a);
    }
    const eager = this.carryOut(this.pt.drain(), id);
    this.schedule();
    return eager;
  }

  private membershipAction(a: HyParViewAction): void {
    switch (a.type) {
      case 'send':
        return this.send(a.to, a.msg);
      case 'close':
        return this.closeTo(a.peer);
      case 'up':
        this.d.log.debug({ peer: a.peer }, 'overlay: active peer up');
        return this.pt.neighborUp(a.peer);
      case 'down':
        this.d.log.debug({ peer: a.peer }, 'overlay: active peer down');
        this.pt.neighborDown(a.peer);
        return this.d.down(a.peer);
    }
  }

  /**
   * Plumtree's actions. A GOSSIP goes as a PUSH of the cached chunk (grouped per id, one encoding);
   * those for `own` are returned instead (the pusher sends a local write itself). Deliveries are
   * the replicator's: it applies every PUSH.
   */
  private carryOut(actions: PlumtreeAction[], own: Dot | undefined): string[] {
    const ownKey = own === undefined ? undefined : dotKey(own);
    const gossip = new Map<string, string[]>();
    for (const a of actions) {
      if (a.type === 'deliver') continue;
      if (a.msg.type !== OVERLAY_MSG.gossip) {
        this.send(a.to, a.msg);
        continue;
      }
      const k = dotKey(a.msg.id);
      gossip.set(k, [...(gossip.get(k) ?? []), a.to]);
    }
    let mine: string[] = [];
    for (const [k, peers] of gossip) {
      if (k === ownKey) mine = peers;
      else {
        const chunk = this.chunks.get(k);
        if (chunk !== undefined) this.d.push(peers, chunk);
      }
    }
    return mine;
  }

  private cache(id: Dot, chunk: DeltaChunk): void {
    const k = dotKey(id);
    this.chunks.delete(k);
    this.chunks.set(k, chunk);
    if (this.chunks.size > CHUNKS_KEPT) this.chunks.delete(this.chunks.keys().next().value!);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const deadlines = [this.hv.nextDeadline(), this.pt.nextDeadline()].filter((t): t is number => t !== undefined);
    if (deadlines.length === 0 || this.stopped) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(1, Math.min(...deadlines) - Date.now()));
    this.timer.unref();
  }

  private onTimer(): void {
    const now = Date.now();
    this.hv.tick(now);
    this.pt.tick(now);
    this.run();
  }

  // ---- moving overlay frames ------------------------------------------------------------------

  private send(to: string, msg: OverlayMessage): void {
    const frame = encodeOverlay(msg);
    const prev = this.out.get(to) ?? this.open(to);
    const next: Promise<FrameWriter | undefined> = prev.then(async (w): Promise<FrameWriter | undefined> => {
      if (w === undefined) return undefined;
      try {
        await w.write(frame);
        await w.flush();
        // To a peer in no view of ours (a shuffle's reply, a refused request) the stream is one-shot:
        // closed once nothing more is queued on it, so the idle connection can be hung up.
        if (this.out.get(to) === next && !this.hv.isActive(to) && !this.hv.isPending(to)) {
          this.out.delete(to);
          await w.close();
          return undefined;
        }
        return w;
      } catch {
        return this.failed(to, next);
      }
    });
    this.out.set(to, next);
  }

  /** HyParView is done with `peer` for now: our stream to it ends once queued frames are sent. */
  private closeTo(peer: string): void {
    const w = this.out.get(peer);
    if (w === undefined) return;
    this.out.delete(peer);
    void w.then((x) => x?.close()).catch(() => {});
  }

  /** Opens our overlay stream to `peer`, dialling its known addresses first if not connected. */
  private async open(peer: string): Promise<FrameWriter | undefined> {
    const self = this.out.get(peer);
    try {
      const id = peerIdFromString(peer);
      if (this.d.node.getConnections(id).length === 0) {
        const addrs = [...new Set([...this.hv.addrsOf(peer), ...this.d.addrsOf(peer)])];
        if (addrs.length === 0) throw new Error('no address known');
        await this.d.node.dial(addrs.map((a) => multiaddr(a)), { signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) });
      }
      const stream = await this.d.streams.open(peer);
      this.longLived.add(stream);
      const { frames, writer } = this.d.streams.channel(stream, this.d.maxFrameBytes);
      // The peer may answer on this stream too (nothing requires it): every frame is an overlay frame.
      void (async () => {
        for await (const f of frames) this.handle(peer, decodeOverlay(f));
      })().catch((err: unknown) => {
        stream.abort(err as Error);
      });
      return writer;
    } catch (err) {
      if (!this.stopped) this.d.log.debug({ peer, reason: (err as Error).message }, 'overlay: cannot reach peer');
      return this.failed(peer, self);
    }
  }

  /** A send or dial to `peer` failed: to HyParView that is a lost connection. */
  private failed(peer: string, chain: Promise<FrameWriter | undefined> | undefined): undefined {
    if (this.stopped) return undefined;
    if (chain === undefined || this.out.get(peer) === chain) this.out.delete(peer);
    queueMicrotask(() => this.disconnected(peer));
    return undefined;
  }
}
