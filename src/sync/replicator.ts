// The replication shell: connects the keyspace to peers over /replikv/sync/1.0.0
// (docs/protocol.md). It dials and redials peers as membership says, runs a push-pull sync
// exchange with random peers every gossip interval, and pushes local writes at once. Decisions
// (what a peer lacks, whom to dial or gossip with) are made by pure code in core/ and membership.ts;
// this file only moves frames and turns peer misbehaviour into a closed stream and a log line.

import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import type { Logger } from 'pino';
import type { Mode, PeerInfo } from './peer-info.js';
import { DEFAULT_DELTA_LIMITS, type DeltaChunk, type DeltaLimits } from '../core/delta.js';
import { Clock } from '../core/clock.js';
import type { Head } from '../core/head.js';
import { DecodeError, WriteConcernError } from '../errors.js';
import type { FrameWriter } from '../net/frames.js';
import type { Keyspace, Summary } from '../store/keyspace.js';
import { MAX_INBOUND_STREAMS_PER_CONNECTION, pexAddrs, StreamCounter } from './limits.js';
import { LogLimiter } from '../log-limiter.js';
import { Membership, transportOf, type DialPlan } from './membership.js';
import { Forgets } from './forgetting.js';
import { PeerForgetting } from './peer-forgetting.js';
import { HeadChecks } from './head-checks.js';
import { SnapshotStreams, type SnapshotStream } from './snapshot-streams.js';
import type { ForgetRecord } from '../core/forget-record.js';
import { KnownPeersSaver } from './known-peers-store.js';
import {
  decodeMessage,
  encodeAck,
  encodeBusy,
  encodeDigest,
  encodeEntries,
  encodePeers,
  END_MESSAGE,
  EXCHANGE_ACK_MESSAGE,
  MAX_FORGOTTEN,
  MSG,
  NEED_FULL_MESSAGE,
  SYNC_PROTOCOL,
  VERIFY_MESSAGE,
  type BusyMessage,
  type DigestDeltaMessage,
  type DigestMessage,
  type Message,
} from './messages.js';
import { DigestBases, type OutgoingDigest } from './digest-bases.js';
import { PexSchedule } from './peer-exchange.js';
import { ExchangeLedger } from './exchange-ledger.js';
import { Pusher } from './pusher.js';
import { PeerStreams, ProtocolError, TRANSFER_IDLE_MS, type Transfer } from './peer-streams.js';
import { WriteConcern } from './write-concern.js';
import { NO_SYNC_EVENTS, type SyncEvents } from './events.js';
import { behindFrontier, withholdFrom } from '../core/gc.js';
import { MemberClocks, type HorizonGap } from './member-clocks.js';
import { Retirement } from './retirement.js';
import { atTheirs } from './healer.js';
import { isReconType } from './recon-messages.js';
import { pullRecon, reconIo, serveRecon, type PullOptions, type PullResult } from './reconciler.js';
import { OverlayHost } from './overlay-host.js';
import { isOverlayType } from '../overlay/index.js';

export interface ReplicatorOptions {
  mode: Mode;
  gossipIntervalMs: number;
  /** Peers to run a sync exchange with every interval. */
  fanout: number;
  maxFrameBytes: number;
  bootstrap: string[];
  /** A peer down this long is dropped (membership.ts); default 24 h. */
  peerGoneAfterMs?: number;
  deltaLimits?: DeltaLimits;
  /** Source of randomness for gossip targets (tests may fix it). */
  random?: () => number;
  /**
   * A stream that owes bytes and moved none for this long is aborted; an inbound stream that sends
   * no first message for this long is closed. Default TRANSFER_IDLE_MS.
   */
  transferIdleMs?: number;
  /** The last clock of each member, for garbage collection (kept by the collector); a new table if absent. */
  members?: MemberClocks;
  /** A member silent this long is gone (member-clocks.ts); for the log line that refuses it. */
  gcGraceMs?: number;
  /** Told of pushes, exchanges, snapshots served, refusals and write-concern waits (for metrics). */
  events?: SyncEvents;
  /** Operator public keys (raw): a forget signed by one of them spreads; peers' other forgets are refused. */
  operatorKeys?: readonly Uint8Array[];
  /** How far ahead of this node's clock a signed forget's time may be; default 10 minutes. */
  maxClockSkewMs?: number;
  /** mesh (default): dial every known peer, push to all; overlay: HyParView + Plumtree (overlay-host.ts). */
  topology?: 'mesh' | 'overlay';
  activeView?: number;
  passiveView?: number;
  /** When not empty, only these PeerIds may connect (the gater refuses the rest; the overlay never takes them). */
  allowList?: readonly string[];
}


/** Connecting (TCP, pnet, Noise, yamux) may be slow on a loaded machine: only a dead address fails it. */
const CONNECT_TIMEOUT_MS = 30_000;

export class Replicator {
  readonly membership: Membership;
  private readonly known: KnownPeersSaver;
  private tick = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly rounds = new Set<string>();
  /** Active push of local writes (pusher.ts). */
  private readonly pusher: Pusher;
  /** The overlay topology's shell (overlay-host.ts); undefined in a mesh. */
  readonly overlay: OverlayHost | undefined;
  /** Per peer: the dots it acknowledged holding durably (pushes, sync exchanges); never its digest's word. */
  private readonly holds = new Map<string, Clock>();
  readonly concern = new WriteConcern(() => this.holds.values());
  /** Stream opening, framing, byte counts and the stall watchdog (peer-streams.ts). */
  private readonly streams: PeerStreams;
  /** Sync traffic since start: frame bytes (framing included, transport overhead not) and keys applied. */
  readonly transfer: Transfer;
  /** Peers' messages refused for what they said (each logged), claims cut to this node's evidence, and forgets refused. */
  readonly refused = { frames: 0, claimsCut: 0, forgets: 0 };
  /** Operator-signed forgets kept and passed on; peers' unsigned ones refused (forgetting.ts). */
  readonly forgets: Forgets;
  /** Snapshot streams to and from peers (snapshot-streams.ts). */
  readonly snapshots: SnapshotStreams;
  /** Forgetting a peer here: `replikv forget`, signed forgets heard, forgotten peers turned away (peer-forgetting.ts). */
  readonly forgetting: PeerForgetting;
  /** Signature checks of peers' heads: heads verified, CPU ms spent on them, frames refused for the budget. */
  readonly headChecks: HeadChecks['counts'];
  private readonly heads: HeadChecks;
  /** When each peer gets this node's peer list (PEERS): once per connection, then when it changed. */
  private readonly pex = new PexSchedule();
  /** The DIGESTs each peer and this node hold of each other: later ones go as differences (digest-bases.ts). */
  private readonly digests = new DigestBases();
  private readonly limits: DeltaLimits;
  /** While this node bootstraps it neither starts nor answers sync exchanges, nor serves snapshots. */
  bootstrapping = false;
  private readonly random: () => number;
  private readonly warnings = new LogLimiter();
  /** Open inbound sync streams per connection (limits.ts); past the bound a new one is reset. */
  private readonly inbound = new StreamCounter(MAX_INBOUND_STREAMS_PER_CONNECTION);
  private readonly events: SyncEvents;
  /** When this node last logged that it is alone (no peer connected), so it says it once per spell. */
  private aloneLogged = false;
  /**
   * Every peer DIGEST heard in an exchange or a VERIFY answer, with this node's consistent summaries
   * around it (the one it sent; before and after a VERIFY): divergence detection (healer.ts).
   */
  onPeerDigest?: (peer: string, ours: readonly Summary[], theirs: DigestMessage, via: 'exchange' | 'verify') => void;
  /** The last clock heard from each member: what garbage collection waits for (member-clocks.ts). */
  readonly members: MemberClocks;
  /** Retired replicas: clock entries left out of DIGESTs between nodes that agree on them (retirement.ts). */
  readonly retirement: Retirement;
  /** Peers behind this node's GC horizon (sent no deltas), and peers this node is behind (sends none). */
  readonly horizon = { withheldFrom: new Map<string, HorizonGap>(), behind: new Map<string, HorizonGap>() };
  /**
   * This node is behind a peer's GC horizon: it must catch up by a full snapshot, or, when `gone`
   * (the two were apart for longer than gcGraceMs, so the peer declared it gone), re-bootstrap.
   */
  onBehind?: (peer: string, gap: HorizonGap, gone: boolean) => void;
  /** This node lacks nothing of a peer's GC frontier (catch-up.ts). */
  onWithin?: (peer: string) => void;
  /** Peers this node was apart from for longer than gcGraceMs when they had collected past it. */
  private readonly goneTo = new Set<string>();
  /** When the peer whose digest is being handled was heard before it (wall time), for goneTo. */
  private lastContact: number | undefined;

  constructor(
    private readonly node: Libp2p,
    private readonly ks: Keyspace,
    private readonly log: Logger,
    private readonly opts: ReplicatorOptions,
  ) {
    this.random = opts.random ?? Math.random;
    this.membership = new Membership(
      node.peerId.toString(),
      { intervalMs: opts.gossipIntervalMs, goneAfterMs: opts.peerGoneAfterMs, random: this.random },
      Date.now(),
    );
    this.known = new KnownPeersSaver(ks, log, this.membership, opts.peerGoneAfterMs);
    this.limits = opts.deltaLimits ?? DEFAULT_DELTA_LIMITS;
    this.events = opts.events ?? NO_SYNC_EVENTS;
    this.streams = new PeerStreams(node, opts.transferIdleMs ?? TRANSFER_IDLE_MS);
    this.transfer = this.streams.transfer;
    this.pusher = new Pusher({
      ks,
      streams: this.streams,
      events: this.events,
      log,
      limits: this.limits,
      targets: (chunk) => (this.overlay === undefined ? this.membership.connectedPeers() : this.overlay.broadcast(chunk)),
      held: (peer, dots) => this.learnHeld(peer, dots),
      opened: (stream) => this.overlay?.keep(stream),
    });
    if (opts.topology === 'overlay') this.overlay = this.overlayHost(opts);
    this.members = opts.members ?? new MemberClocks();
    this.retirement = new Retirement(ks, log);
    this.forgets = new Forgets(ks, log, {
      self: this.membership.self,
      operatorKeys: opts.operatorKeys ?? [],
      maxSkewMs: opts.maxClockSkewMs ?? 10 * 60_000,
      onRefused: () => {
        this.refused.forgets++;
        this.events.refused('forget');
      },
      warn: (key, fields, msg) => this.warn(key, fields, msg),
    });
    this.heads = new HeadChecks(ks, (peer) => this.membership.replicaOf(peer), () => this.stopped);
    this.headChecks = this.heads.counts;
    this.snapshots = new SnapshotStreams({
      ks,
      streams: this.streams,
      events: this.events,
      log,
      limits: this.limits,
      maxFrameBytes: opts.maxFrameBytes,
      stopped: () => this.stopped,
    });
    this.forgetting = new PeerForgetting({
      node,
      membership: this.membership,
      forgets: this.forgets,
      streams: this.streams,
      events: this.events,
      log,
      warnings: this.warnings,
      stopped: () => this.stopped,
      dropped: (peer, replica) => {
        this.holds.delete(peer);
        this.members.forget(peer); // garbage collection no longer waits for it
        this.overlay?.forget(peer);
        if (replica !== null) this.retireReplica(replica, 'its peer was forgotten');
      },
    });
    if (ks.movedFrom !== null) this.retirement.retire(ks.movedFrom, ks.summary().clock, 'this store moved to a new replica id');
  }

  async start(): Promise<void> {
    // libp2p checks maxInboundStreams only once, as a stream finishes negotiating; the replicator
    // counts the streams it is serving per connection and resets the excess (onStream).
    await this.node.handle(SYNC_PROTOCOL, (stream, connection) => void this.onStream(stream, connection), {
      maxInboundStreams: 2 * MAX_INBOUND_STREAMS_PER_CONNECTION,
    });
    this.membership.restoreForgotten(this.forgets.load());
    this.known.restore(Date.now()); // after the forgotten ones, which are never restored
    this.overlay?.offer(this.membership.list().map((p) => ({ id: p.peerId, addrs: p.addrs }))); // remembered peers: passive candidates
    this.node.addEventListener('peer:connect', (e) => {
      const peer = e.detail.toString();
      if (!this.membership.connected(peer, Date.now())) return void this.forgetting.turnAway(peer);
      this.aloneLogged = false;
      this.log.info({ peer }, 'peer connected');
      this.sendPeers(peer, this.exchangeAddrs());
    });
    this.node.addEventListener('peer:disconnect', (e) => {
      const peer = e.detail.toString();
      this.pusher.lost(peer);
      this.overlay?.disconnected(peer);
      this.retirement.forgetPeer(peer);
      this.digests.forgetPeer(peer);
      this.pex.forget(peer);
      if (this.membership.isForgotten(peer)) return;
      this.membership.disconnected(peer, Date.now());
      if (!this.stopped) this.log.info({ peer }, 'peer lost');
      this.forgetting.disconnected(peer);
    });
    this.node.addEventListener('peer:identify', (e) => {
      this.membership.announced(e.detail.peerId.toString(), e.detail.listenAddrs.map((a) => a.toString()), Date.now());
    });
    // A bootstrap address of this node itself (one config file for every machine) is no seed.
    const own = new Set(this.node.getMultiaddrs().map((a) => transportOf(a.toString())));
    for (const addr of this.opts.bootstrap) {
      if (own.has(transportOf(addr))) this.log.info({ addr }, 'bootstrap address is this node itself; not dialled');
      else this.membership.addSeed(addr, Date.now());
    }
    this.timer = setInterval(() => this.onTick(), this.opts.gossipIntervalMs);
    this.onTick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.overlay?.stop();
    await this.node.unhandle(SYNC_PROTOCOL).catch(() => {});
    await this.pusher.stop();
    await this.known.save(Date.now());
    await this.retirement.flush();
  }

  /** Local writes just committed: push their keys to every connected peer (not in pull mode). */
  pushed(keys: Iterable<string>): void {
    if (this.opts.mode === 'pull' || this.stopped) return;
    this.pusher.pushed(keys);
  }

  /** `replikv forget` (peer-forgetting.ts). */
  forget(peer: string, force = false, signed?: ForgetRecord): Promise<{ forgotten: boolean; known: boolean; spreads: boolean }> {
    return this.forgetting.forget(peer, force, signed);
  }

  /** The connection gater's question: is this peer refused? */
  refuses(peer: string): boolean {
    return this.forgetting.refuses(peer);
  }

  /**
   * Seconds this node, holding data, has had no connected peer, once that is long enough to warn
   * about (status and log); null otherwise.
   */
  aloneSeconds(now: number): number | null {
    const seconds = this.unreachedSeconds(now);
    if (seconds === null) return null;
    const s = this.ks.summary();
    return s.keys === 0 && s.clock.isEmpty() ? null : seconds;
  }

  /** Seconds without any connected peer, once that has lasted past the warning threshold; else null. */
  unreachedSeconds(now: number): number | null {
    const since = this.membership.aloneSince();
    return since === null || now - since < aloneWarnAfterMs(this.opts.gossipIntervalMs) ? null : Math.round((now - since) / 1000);
  }

  peers(): PeerInfo[] {
    const now = Date.now();
    const clock = this.ks.summary().clock;
    return this.membership.list().map((p) => ({
      peerId: p.peerId,
      state: this.membership.state(p.peerId, now),
      behind: clock.difference(p.clock ?? Clock.empty()).size(),
      addrs: p.addrs,
      lastSeen: p.lastSeen,
      replicaId: p.replicaId,
    }));
  }

  private onTick(): void {
    if (this.stopped) return;
    this.tick++;
    const now = Date.now();
    for (const peer of this.membership.expire(now)) {
      this.holds.delete(peer);
      this.log.info({ peer }, 'peer dropped as gone (down for longer than peerGoneAfterMs)');
    }
    this.noteAlone(now);
    this.known.maybeSave(now);
    this.onTickDials();
    this.overlay?.reap(now);
    const addrs = this.exchangeAddrs();
    for (const peer of this.membership.connectedPeers()) this.sendPeers(peer, addrs);
    if (this.bootstrapping) return; // the snapshot stream is bringing everything; rounds would repeat it
    if (this.overlay !== undefined && this.tick % 10 === 5) void this.syncWithPassive();
    if (this.opts.mode === 'push' && this.tick % 10 !== 1) return; // push mode: rounds only as a backstop
    const targets = this.overlay?.pullTargets(this.opts.fanout) ?? this.membership.gossipTargets(this.opts.fanout, this.random);
    for (const peer of targets) {
      if (!this.rounds.has(peer)) void this.syncRound(peer);
    }
  }

  /**
   * Overlay: one sync round in ten gossip intervals with a random passive peer, as the simulator's
   * anti-entropy does. Active views can close into separate groups (every view full within its
   * group, after crashes); the tree never crosses between them, these rounds do.
   */
  private async syncWithPassive(): Promise<void> {
    const passive = this.overlay?.hv.passiveView() ?? [];
    if (passive.length === 0) return;
    const peer = passive[Math.floor(this.random() * passive.length)]!;
    if (this.rounds.has(peer)) return;
    const addrs = this.membership.list().find((p) => p.peerId === peer)?.addrs ?? [];
    try {
      // by address: a peer this node never connected to has none in libp2p's peer store
      if (addrs.length > 0) await this.node.dial(addrs.map((a) => multiaddr(a)), { signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) });
    } catch (err) {
      return this.warn(peer, { peer, reason: (err as Error).message }, 'dial failed');
    }
    await this.syncWith(peer);
  }

  /** A node with data and no connected peer for a while says so, once per spell (status says it too). */
  private noteAlone(now: number): void {
    if (this.aloneLogged) return;
    const seconds = this.aloneSeconds(now);
    if (seconds === null) return;
    this.aloneLogged = true;
    this.log.warn({ seconds, known: this.membership.list().length }, 'no peer reachable: writes on this node are not being replicated');
  }

  private async dial(plan: DialPlan): Promise<void> {
    try {
      const conn = await this.node.dial(multiaddr(plan.addr), { signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) });
      const peer = conn.remotePeer.toString();
      const before = this.membership.dialSucceeded(plan, peer, Date.now());
      if (before !== null) this.log.info({ addr: plan.addr, peer, before }, 'a bootstrap address answers as a new peer (its machine has a new identity)');
      if (!this.membership.connected(peer, Date.now())) await this.node.hangUp(conn.remotePeer).catch(() => {});
      else if (plan.seed) this.overlay?.seedReached(peer, plan.addr);
    } catch (err) {
      if (this.stopped) return;
      this.membership.dialFailed(plan, Date.now());
      const reason = (err as Error).message;
      this.warn(plan.peerId ?? plan.addr, { addr: plan.addr, reason, ...(handshakeFailure(reason) ? { hint: SWARM_KEY_HINT } : {}) }, 'dial failed');
    }
  }

  /** Verifies the heads a peer's frame needs, on the peer's and the total check budgets (head-checks.ts). */
  checkHeads(peer: string, chunk: DeltaChunk, mode: 'refuse' | 'wait' = 'refuse', need?: Head[]): Promise<Head[]> {
    return this.heads.check(peer, chunk, mode, need);
  }

  /** A frame refused for its content (not a network fault) is counted for status. */
  private countRefusal(err: unknown): void {
    if (err instanceof DecodeError || err instanceof ProtocolError) {
      this.refused.frames++;
      this.events.refused(err instanceof DecodeError ? 'decode' : 'protocol');
    }
  }

  /** A claim beyond what this node has evidence for was cut (keyspace.ts): counted, and said once a minute per peer. */
  noteCut(peer: string, applied: { claimCut: boolean }): void {
    if (!applied.claimCut) return;
    this.refused.claimsCut++;
    this.events.refused('claim_cut');
    this.warn(`${peer}|cut`, { peer }, 'a peer claimed writes it did not carry; only the part this node has evidence for was taken (the rest is asked for again)');
  }

  /** A warning about a peer or address, at most once a minute each (with a count of the rest). */
  private warn(key: string, fields: object, msg: string): void {
    const held = this.warnings.take(`${msg}|${key}`, Date.now());
    if (held !== null) this.log.warn(held > 0 ? { ...fields, suppressed: held } : fields, msg);
  }

  /** One sync exchange with `peer` now, also while bootstrapping (the check of a bootstrap uses it). */
  async syncWith(peer: string): Promise<void> {
    if (!this.rounds.has(peer)) await this.syncRound(peer);
  }

  /** One push-pull exchange with a peer, initiated by us. */
  private async syncRound(peer: string): Promise<void> {
    this.rounds.add(peer);
    let stream: Stream | undefined;
    let unwatch: (() => void) | undefined;
    try {
      stream = await this.streams.open(peer);
      const received = { bytes: 0 };
      const frames = this.streams.framesOf(stream, this.opts.maxFrameBytes, received);
      const writer = this.streams.writerFor(stream);
      // A peer that stops answering must not hold this slot forever; a slow one may take its time.
      unwatch = this.streams.watch(stream, received, writer);
      const ours = this.ks.summary();
      const mine = this.digestFor(peer, ours);
      await writer.write(mine.frame);
      await writer.flush();
      let answer = await this.nextMessage(frames, 'the digest');
      if (answer.type === MSG.needFull && mine.delta) {
        await writer.write(mine.whole()); // the peer no longer holds the base this DIGEST named
        await writer.flush();
        answer = await this.nextMessage(frames, 'the digest');
      }
      if (answer.type === MSG.busy) {
        this.events.exchange('initiated', 'busy');
        return await writer.close(); // the peer is bootstrapping; try again next round
      }
      if (answer.type !== MSG.digest && answer.type !== MSG.digestDelta) throw new ProtocolError(`expected DIGEST, got message type ${answer.type}`);
      const whole = this.digests.incoming(peer, answer);
      // It named a base of ours this node no longer holds (evicted by concurrent rounds): the next round starts whole.
      if (whole === null) throw new Error('the peer answered against a DIGEST this node no longer holds; the next round sends it');
      const theirs = this.retirement.incoming(peer, whole, ours.clock);
      if (!theirs.partial) this.onPeerDigest?.(peer, atTheirs(this.ks, theirs, [ours]), theirs, 'exchange');
      await this.exchange(peer, ours, theirs, frames, writer);
      this.events.exchange('initiated', 'ok');
    } catch (err) {
      if (!this.stopped) {
        this.events.exchange('initiated', 'failed');
        this.countRefusal(err);
        this.warn(peer, { peer, reason: (err as Error).message }, 'sync round failed');
      }
      stream?.abort(err as Error);
    } finally {
      unwatch?.();
      this.rounds.delete(peer);
    }
  }

  /**
   * Both sides send what the other lacks, at the same time (so flow control cannot deadlock), then
   * each acknowledges what it applied; the peer counts toward write concern only by that ACK.
   */
  private async exchange(
    peer: string,
    ours: Summary,
    theirs: DigestMessage & { partial: boolean },
    frames: AsyncGenerator<Uint8Array>,
    writer: FrameWriter,
  ): Promise<void> {
    // A clock with retired entries left out that cannot be made whole (the tables changed in
    // between) understates the peer: no delta, no GC or horizon judgement on it this time.
    if (!theirs.partial) this.heardDigest(peer, theirs, ours.frontier);
    const withhold = theirs.partial || this.checkHorizon(peer, ours, theirs);
    const ledger = new ExchangeLedger();
    await Promise.all([this.sendDelta(peer, writer, theirs, ledger, withhold), this.receiveDelta(peer, frames, ledger)]);
    // Every DELTA of theirs is applied. Sent after our END: a node that predates ACK(0) no longer reads.
    await writer.write(EXCHANGE_ACK_MESSAGE);
    await writer.close();
    // Their ACK may have come before their END; a peer that closes without one gets no credit.
    while (ledger.owed) {
      const next = await frames.next();
      if (next.done === true) break;
      ledger.received(decodeMessage(next.value));
    }
    const held = ledger.credit();
    if (!held.isEmpty()) this.learnHeld(peer, held);
  }

  /**
   * The GC horizon, both ways (core/gc.ts). A peer whose clock lacks part of this node's frontier
   * gets no delta (withholdFrom): the claim would cover deletes collected here without carrying
   * them, and it would keep the values they deleted. A peer whose frontier this node lacks will
   * send none: onBehind decides whether to believe it (catch-up.ts). True: withhold deltas.
   */
  private checkHorizon(peer: string, ours: Summary, theirs: DigestMessage): boolean {
    const now = Date.now();
    const behind = behindFrontier(ours.clock, theirs.frontier);
    if (behind > 0) {
      const gap = { lacking: behind, at: now };
      this.horizon.behind.set(peer, gap);
      const grace = this.opts.gcGraceMs;
      if (grace !== undefined && this.lastContact !== undefined && now - this.lastContact > grace) this.goneTo.add(peer);
      const gone = this.goneTo.has(peer);
      if (gone) {
        this.warn(`${peer}|behind`, { peer, lacking: behind }, 'this node was out of touch with the peer for longer than gcGraceMs and lacks deletes it has collected since: it is refused; stop it, move its data directory away and start it again to re-bootstrap');
      }
      this.onBehind?.(peer, gap, gone);
    } else {
      this.goneTo.delete(peer);
      this.horizon.behind.delete(peer);
      this.onWithin?.(peer);
    }
    const lacking = withholdFrom(theirs.clock, ours.frontier);
    if (lacking === 0) {
      this.horizon.withheldFrom.delete(peer);
      return false;
    }
    this.horizon.withheldFrom.set(peer, { lacking, at: now });
    const grace = this.opts.gcGraceMs;
    if (grace !== undefined && this.members.isGone(peer, now, grace)) {
      this.warn(`${peer}|horizon`, { peer, lacking }, 'refusing deltas to a peer that was silent for longer than gcGraceMs and came back with its old data: it lacks deletes collected since; it must re-bootstrap with a fresh data directory');
    } else {
      this.warn(`${peer}|horizon`, { peer, lacking }, 'withholding deltas from a peer behind this node\'s garbage-collection horizon (it lacks deletes collected here); it must catch up by a full snapshot');
    }
    return true;
  }

  private async sendDelta(peer: string, writer: FrameWriter, theirs: DigestMessage, ledger: ExchangeLedger, withhold: boolean): Promise<void> {
    if (!withhold) {
      for (const chunk of this.ks.delta(this.deltaBase(peer, theirs.clock), this.limits)) {
        ledger.sent(chunk.claim);
        await writer.write(encodeEntries(MSG.delta, chunk));
        this.events.keysSent(chunk.entries.length);
      }
    }
    ledger.sentEnd();
    await writer.write(END_MESSAGE);
    await writer.flush();
  }

  /**
   * The clock to send a peer a delta against: its digest's, less the dots a waiting write concern
   * still needs it for. It may say it holds them (a lie, or it had them from a third node); only
   * its ACK counts, so they go again.
   */
  private deltaBase(peer: string, theirs: Clock): Clock {
    const owed = this.concern.pending().difference(this.holds.get(peer) ?? Clock.empty());
    return owed.isEmpty() ? theirs : theirs.difference(owed);
  }

  private async receiveDelta(peer: string, frames: AsyncGenerator<Uint8Array>, ledger: ExchangeLedger): Promise<void> {
    for (;;) {
      const next = await frames.next();
      if (next.done === true) throw new ProtocolError('stream ended before END');
      const m = decodeMessage(next.value);
      if (ledger.received(m) === 'end') return;
      if (m.type !== MSG.delta) continue; // their ACK, ahead of their END: the ledger holds it
      // Counted on receipt: lmdb-js shows a commit to readers before applyDelta resolves, so a
      // status read after the await could see the keys without the count.
      this.transfer.keysReceived += m.entries.length;
      const checked = await this.checkHeads(peer, m);
      this.noteCut(peer, await this.ks.applyDelta(m, { checked }));
      this.membership.heard(peer, Date.now());
    }
  }

  /** Inbound stream: a sync exchange (starts with DIGEST) or a push stream (starts with PUSH). */
  private async onStream(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    if (this.membership.isForgotten(peer)) {
      this.events.refused('forgotten_peer');
      return void stream.abort(new ProtocolError('this peer was forgotten'));
    }
    if (!this.inbound.admit(connection.id)) {
      this.events.refused('stream_limit');
      this.warn(`${peer}|streams`, { peer, limit: MAX_INBOUND_STREAMS_PER_CONNECTION }, 'too many inbound sync streams on one connection; resetting the new one');
      return void stream.abort(new ProtocolError(`more than ${MAX_INBOUND_STREAMS_PER_CONNECTION} inbound sync streams on one connection`));
    }
    let unwatch: (() => void) | undefined;
    let serving = false; // a sync exchange, for its outcome
    try {
      const received = { bytes: 0 };
      const frames = this.streams.framesOf(stream, this.opts.maxFrameBytes, received);
      const first = await frames.next().finally(this.streams.watchFirst(stream, received)); // the watch starts now, ends with the first frame
      if (first.done === true) return await stream.close();
      if (isReconType(first.value[0] ?? 0)) {
        const writer = this.streams.writerFor(stream);
        if (this.bootstrapping) return await writer.write(this.busy()).then(() => writer.close());
        unwatch = this.streams.watch(stream, received, writer);
        return await serveRecon(this.ks, reconIo(frames, writer), first.value, this.limits);
      }
      if (this.overlay !== undefined && isOverlayType(first.value[0] ?? 0)) return await this.overlay.serve(peer, stream, first.value, frames);
      const m = decodeMessage(first.value);
      if (m.type === MSG.forgotten) {
        this.forgets.refusedBy(peer, Date.now());
        return await stream.close();
      }
      if (m.type === MSG.verify) {
        // Also a bootstrapping node's probe: it finds which peers hold data (it learns the others from PEERS).
        const w = this.streams.writerFor(stream);
        await w.write(this.bootstrapping ? this.busy() : encodeDigest(this.ownDigest()));
        await w.close();
        return;
      }
      if (m.type === MSG.peers) {
        this.learnAddrs(m.addrs);
        return await stream.close();
      }
      if ((m.type === MSG.digest || m.type === MSG.digestDelta || m.type === MSG.snapRequest) && this.bootstrapping) {
        if (m.type === MSG.digest) this.learnPeers(peer, m);
        const w = this.streams.writerFor(stream);
        await w.write(this.busy());
        await w.close();
        return;
      }
      if (m.type === MSG.snapRequest) {
        const writer = this.streams.writerFor(stream);
        unwatch = this.streams.watch(stream, received, writer);
        return await this.snapshots.serve(peer, writer, m);
      }
      if (m.type === MSG.digest || m.type === MSG.digestDelta) {
        const writer = this.streams.writerFor(stream);
        unwatch = this.streams.watch(stream, received, writer);
        serving = true;
        const whole = await this.wholeDigest(peer, m, frames, writer);
        const ours = this.ks.summary();
        const theirs = this.retirement.incoming(peer, whole, ours.clock);
        await writer.write(this.digestFor(peer, ours).frame);
        if (!theirs.partial) this.onPeerDigest?.(peer, atTheirs(this.ks, theirs, [ours]), theirs, 'exchange');
        await this.exchange(peer, ours, theirs, frames, writer);
        this.events.exchange('served', 'ok');
        return;
      }
      if (m.type !== MSG.push) throw new ProtocolError(`a stream must start with DIGEST, PUSH, SNAP_REQ, VERIFY or PEERS, not message type ${m.type}`);
      // No watchdog here: a push stream rightly idles between writes; its sender watches it.
      const acks = this.streams.writerFor(stream);
      this.overlay?.keep(stream);
      let push = m;
      let raw = first.value;
      for (;;) {
        this.transfer.keysReceived += push.entries.length; // on receipt, as in receiveDelta
        const relay = this.overlay?.received(peer, push, raw); // the tree's decision, before it is applied
        const checked = await this.checkHeads(peer, push);
        this.noteCut(peer, await this.ks.applyDelta(push, { checked }));
        relay?.(); // checked and stored: only now is it passed on
        this.membership.heard(peer, Date.now());
        this.events.pushReceived();
        await acks.write(encodeAck(push.seq)); // applyDelta resolved: stored as durably as configured
        await acks.flush();
        const next = await frames.next();
        if (next.done === true) return await acks.close(); // the pusher is done with this stream
        const msg = decodeMessage(next.value);
        if (msg.type !== MSG.push) throw new ProtocolError(`expected PUSH, got message type ${msg.type}`);
        push = msg;
        raw = next.value;
      }
    } catch (err) {
      if (this.stopped) return;
      if (serving) this.events.exchange('served', 'failed');
      this.countRefusal(err);
      // One line per peer and kind of fault a minute: a peer sending different faults shows each.
      // A stream ended by a closed connection may reject with no Error at all (seen with the overlay).
      const reason = err instanceof Error ? err.message : String(err);
      this.warn(`${peer}|${reason.replace(/\d+/g, '#')}`, { peer, reason }, 'closing sync stream from peer');
      stream.abort(err as Error);
    } finally {
      unwatch?.();
      this.inbound.release(connection.id);
    }
  }

  private learnHeld(peer: string, dots: Clock): void {
    let held = this.holds.get(peer);
    if (held === undefined) this.holds.set(peer, (held = Clock.empty()));
    held.merge(dots);
    this.concern.changed();
  }

  /**
   * Waits until `w` replicas (this one included; 'all' = this one and every connected peer) hold
   * every dot in `dots`. Rejects with WriteConcernError after `timeoutMs`.
   */
  waitForReplicas(dots: Clock, w: number | 'all', timeoutMs: number): Promise<number> {
    // overlay: 'all' is this node and its active peers; lazy ones got only an announcement, so a
    // sync round (which sends the dots a waiting write concern needs, deltaBase) brings their ACK.
    const wanted = w === 'all' ? 1 + (this.overlay?.activeView().length ?? this.membership.connectedPeers().length) : w;
    for (const peer of this.overlay?.pt.lazyPeers() ?? []) void this.syncWith(peer);
    return this.concern.wait(dots, wanted, timeoutMs).then(
      (n) => {
        this.events.concernWait('met');
        return n;
      },
      (err: unknown) => {
        if (err instanceof WriteConcernError) this.events.concernWait('timeout');
        throw err;
      },
    );
  }

  /** This node's DIGEST for `peer`: against a base the peer holds when there is one (digest-bases.ts). */
  private digestFor(peer: string, s: Summary): OutgoingDigest {
    return this.digests.outgoing(peer, this.ownDigest(s, peer));
  }

  /**
   * A peer's DIGEST made whole: one against a base this node does not hold is answered with
   * NEED_FULL, and the peer sends it whole next on the stream.
   */
  private async wholeDigest(peer: string, m: DigestMessage | DigestDeltaMessage, frames: AsyncGenerator<Uint8Array>, writer: FrameWriter): Promise<DigestMessage> {
    const whole = this.digests.incoming(peer, m);
    if (whole !== null) return whole;
    await writer.write(NEED_FULL_MESSAGE);
    await writer.flush();
    const next = await this.nextMessage(frames, 'the whole digest');
    if (next.type !== MSG.digest) throw new ProtocolError(`expected the whole DIGEST after NEED_FULL, got message type ${next.type}`);
    return this.digests.incoming(peer, next)!;
  }

  private async nextMessage(frames: AsyncGenerator<Uint8Array>, what: string): Promise<Message> {
    const next = await frames.next();
    if (next.done === true) throw new ProtocolError(`stream closed before ${what}`);
    return decodeMessage(next.value);
  }

  /** Sends `peer` this node's peer list on a stream of its own when due (peer-exchange.ts). */
  private sendPeers(peer: string, addrs: string[]): void {
    if (this.stopped || !this.pex.due(peer, this.tick, addrs)) return;
    void (async () => {
      try {
        const w = this.streams.writerFor(await this.streams.open(peer));
        await w.write(encodePeers(addrs));
        await w.close();
      } catch (err) {
        this.pex.failed(peer, this.tick); // sent again some ticks later
        if (!this.stopped) this.log.debug({ peer, reason: (err as Error).message }, 'peer list not sent');
      }
    })();
  }

  private exchangeAddrs(): string[] {
    return [...this.node.getMultiaddrs().map((a) => a.toString()), ...this.membership.exchangeAddrs(Date.now())];
  }

  private ownDigest(s: Summary = this.ks.summary(), to: string | null = null): Omit<DigestMessage, 'type'> {
    const forgotten = this.forgets.outgoing(Date.now(), MAX_FORGOTTEN);
    const { clock, retired } = this.retirement.outgoing(to, s.clock);
    return { replicaId: s.replicaId, digest: hexBytes(s.digest), digestAt: s.digestAt, clock, forgotten, frontier: s.frontier, retired };
  }

  /** BUSY, saying whether this node holds any data yet (a bootstrapping node looks for one that does). */
  private busy(): Uint8Array {
    const s = this.ks.summary();
    return encodeBusy(s.keys > 0 || !s.clock.isEmpty());
  }

  /** A snapshot stream from `peer` (snapshot-streams.ts). */
  snapshotFrom(peer: string, after?: Uint8Array, signal?: AbortSignal, since?: Clock): Promise<SnapshotStream | 'busy'> {
    return this.snapshots.from(peer, after, signal, since);
  }

  /**
   * Pulls a range reconciliation from `peer` (sync/reconciler.ts): only the key states that differ
   * move. 'busy' when the peer is bootstrapping or repairing; `bytes`: frame bytes received.
   */
  async reconcileWith(peer: string, o: PullOptions, signal?: AbortSignal): Promise<(PullResult & { bytes: number }) | 'busy'> {
    const stream = await this.streams.open(peer, signal);
    const stopping = (): void => stream.abort(new Error('stopping'));
    signal?.addEventListener('abort', stopping, { once: true });
    const { frames, writer, received } = this.streams.channel(stream, this.opts.maxFrameBytes);
    const unwatch = this.streams.watch(stream, received, writer);
    try {
      const r = await pullRecon(this.ks, reconIo(frames, writer), o);
      return r === 'busy' ? r : { ...r, bytes: received.bytes };
    } catch (err) {
      stream.abort(err as Error);
      throw err;
    } finally {
      unwatch();
      signal?.removeEventListener('abort', stopping);
    }
  }

  /**
   * A peer's current clock and digest (a VERIFY query: no data moves), or BUSY while it
   * bootstraps; `frameBytes`: what the answer cost.
   */
  async queryDigest(peer: string): Promise<(DigestMessage & { frameBytes?: number }) | BusyMessage> {
    const before = this.ks.summary();
    const stream = await this.streams.open(peer);
    const writer = this.streams.writerFor(stream);
    const received = { bytes: 0 };
    const unwatch = this.streams.watch(stream, received, writer);
    try {
      await writer.write(VERIFY_MESSAGE);
      await writer.flush();
      const first = await this.streams.framesOf(stream, this.opts.maxFrameBytes, received).next();
      if (first.done === true) throw new ProtocolError('stream closed before the digest');
      const m = decodeMessage(first.value);
      await writer.close();
      if (m.type === MSG.busy) return m;
      if (m.type !== MSG.digest) throw new ProtocolError(`expected DIGEST, got message type ${m.type}`);
      this.learnPeers(peer, m);
      const d = this.retirement.incoming(peer, m, before.clock); // a VERIFY answer carries the whole clock; teaching is taken
      if (!d.partial) this.onPeerDigest?.(peer, atTheirs(this.ks, d, [before, this.ks.summary()]), d, 'verify');
      return { ...d, frameBytes: received.bytes };
    } catch (err) {
      stream.abort(err as Error);
      throw err;
    } finally {
      unwatch();
    }
  }

  private heardDigest(peer: string, d: DigestMessage, frontier: Clock): void {
    const previous = this.membership.replicaOf(peer);
    if (previous !== null && previous !== d.replicaId) {
      // Same PeerId, new data directory: what the old replica held is gone with it.
      this.holds.delete(peer);
      this.log.info({ peer, replicaId: d.replicaId, previous }, 'peer came back as a new replica');
      this.retireReplica(previous, 'its node came back as a new replica');
    }
    const wasGone = this.opts.gcGraceMs !== undefined && this.members.isGone(peer, Date.now(), this.opts.gcGraceMs);
    this.lastContact = this.members.contactAt(peer);
    this.forgets.heardFrom(peer);
    this.membership.heard(peer, Date.now(), { replicaId: d.replicaId, clock: d.clock });
    // A member declared gone that still lacks what was collected stays out until it re-bootstraps.
    if (!wasGone || behindFrontier(d.clock, frontier) === 0) {
      const own = this.ks.summary().clock;
      this.members.heard(peer, d.replicaId, d.clock, Date.now(), (r) => own.max(r) > 0);
    }
    this.learnPeers(peer, d);
  }

  /** A replica that writes no more, retired if this node holds exactly its writes 1..c (retirement.ts). */
  private retireReplica(r: string, why: string): void {
    this.retirement.retire(r, this.ks.summary().clock, why);
  }

  /** Peer exchange (PEERS): new peers are dialled now rather than at the next tick. */
  private learnAddrs(addrs: readonly string[]): void {
    const now = Date.now();
    let learned = false;
    // Bounded and validated: a member must not make this node dial addresses of its choosing by the thousand.
    for (const { peerId, addr } of pexAddrs(addrs, this.membership.self)) {
      if (this.membership.learn(peerId, [addr], now)) learned = true;
    }
    if (learned) this.overlay?.offer(pexAddrs(addrs, this.membership.self).map(({ peerId, addr }) => ({ id: peerId, addrs: [addr] })));
    if (learned) this.onTickDials();
  }

  /** Forgotten peers from a digest. */
  private learnPeers(from: string, d: DigestMessage): void {
    this.forgetting.heard(from, d.forgotten);
  }

  /** Dials due (new peers learned: now rather than at the next tick). Overlay: only seeds, while isolated. */
  private onTickDials(): void {
    if (this.overlay !== undefined && !this.overlay.isolated()) return;
    // An isolated overlay node whose seeds are gone (crashed, or it had one) asks every peer its
    // address book knows, not only the few its passive view held: HyParView's views start small.
    if (this.overlay !== undefined) this.overlay.offer(this.membership.list().map((p) => ({ id: p.peerId, addrs: p.addrs })));
    for (const plan of this.membership.dueDials(Date.now(), this.overlay !== undefined)) void this.dial(plan);
  }

  private overlayHost(opts: ReplicatorOptions): OverlayHost {
    const allow = new Set(opts.allowList ?? []);
    return new OverlayHost({
      node: this.node,
      streams: this.streams,
      log: this.log,
      activeView: opts.activeView ?? 6,
      passiveView: opts.passiveView ?? 30,
      gossipIntervalMs: opts.gossipIntervalMs,
      maxFrameBytes: opts.maxFrameBytes,
      random: this.random,
      allowed: (p) => !this.membership.isForgotten(p) && (allow.size === 0 || allow.has(p)),
      addrsOf: (p) => this.membership.list().find((e) => e.peerId === p)?.addrs ?? [],
      clock: () => this.ks.summary().clock,
      push: (peers, chunk) => void this.pusher.pushChunk(peers, chunk),
      syncWith: (peer) => void this.syncWith(peer),
      down: (peer) => this.pusher.close(peer),
    });
  }
}

/**
 * A private network's handshake with a node holding another swarm key fails without saying so: the
 * other side resets the connection, or the handshake times out. A refused or unreachable address
 * fails otherwise (ECONNREFUSED, EHOSTUNREACH).
 */
const SWARM_KEY_HINT = 'a reset or timed-out handshake often means the two nodes hold different swarm keys (--swarm-key)';
function handshakeFailure(reason: string): boolean {
  return /ECONNRESET|EPIPE|aborted|timed? ?out|encrypt|handshake|unexpected end/i.test(reason);
}

/** How long a node may have no connected peer before it warns (status and log). */
function aloneWarnAfterMs(gossipIntervalMs: number): number {
  return Math.max(5_000, 10 * gossipIntervalMs);
}

function hexBytes(hex: string): Uint8Array {
  return Buffer.from(hex, 'hex');
}
