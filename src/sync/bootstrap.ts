// Bootstrap of an empty node (a new machine, or a failed disk replaced) from its peers' snapshots
// (design note, "Bootstrap / rebuild"). A peer streams one consistent snapshot in key order; every
// chunk is merged together with the progress record (last key, keys and bytes so far, the claim),
// in one transaction, so a node killed half-way resumes after the last key it stored, from the
// same peer or another. Nothing is claimed until the end: then the claim is the intersection of
// the clocks of every snapshot that contributed keys (each of them reflects at least that), and
// ordinary delta sync finishes the job with whatever was written meanwhile.
//
// Which peer to stream from is decided by bootstrap-source.ts from probes of the connected peers:
// only a peer with data is waited for, and when no peer has any (a new cluster started all at
// once) the bootstrap completes with nothing fetched.

import type { Libp2p } from '@libp2p/interface';
import type { Logger } from 'pino';
import { Reader, Writer } from '../core/bytes.js';
import { Clock } from '../core/clock.js';
import { readClock, writeClock } from '../core/codec.js';
import type { Keyspace } from '../store/keyspace.js';
import { shownKeysTotal } from './bootstrap-check.js';
import { chooseSource, type Supply } from './bootstrap-source.js';
import { MSG } from './messages.js';
import type { Replicator } from './replicator.js';

export const META_BOOTSTRAP = 'bootstrap';

export interface BootstrapRecord {
  done: boolean;
  /** The last key stored (empty before the first chunk). */
  after: Uint8Array;
  /** Intersection of the clocks of the snapshots used so far; null before the first. */
  claim: Clock | null;
  keys: number;
  bytes: number;
}

export function encodeBootstrapRecord(r: BootstrapRecord): Uint8Array {
  const w = new Writer(64 + r.after.length);
  w.u8(1);
  w.u8(r.done ? 1 : 0);
  w.chunk(r.after);
  w.u8(r.claim === null ? 0 : 1);
  if (r.claim !== null) writeClock(w, r.claim);
  w.varint(r.keys);
  w.varint(r.bytes);
  return w.finish();
}

export function decodeBootstrapRecord(buf: Uint8Array): BootstrapRecord {
  const rd = new Reader(buf, 'bootstrap record');
  if (rd.u8() !== 1) rd.fail('unknown bootstrap record version');
  const done = rd.u8() === 1;
  const after = rd.chunk().slice();
  const claim = rd.u8() === 1 ? readClock(rd) : null;
  const keys = rd.varint();
  const bytes = rd.varint();
  rd.end();
  return { done, after, claim, keys, bytes };
}

export interface BootstrapProgress {
  keysReceived: number;
  bytesReceived: number;
  /** Live keys in the snapshot being streamed (an estimate of the total). */
  keysTotal: number | null;
  /** Keys per second over the last few seconds. */
  rate: number;
  etaSeconds: number | null;
  /** The peer streaming to us now. */
  peer: string | null;
}

const RETRY_WAIT_MS = 200;
/** A probe that gets no answer in this time counts as 'unknown' for this round. */
const PROBE_TIMEOUT_MS = 10_000;

export interface BootstrapperOptions {
  /** Probes of the peers are repeated at this interval while there is no peer to stream from. */
  gossipIntervalMs: number;
}

/** When every peer is empty, how long to wait for one with data to show up before giving up on it. */
export function emptyGraceMs(gossipIntervalMs: number): number {
  return Math.max(2_000, 3 * gossipIntervalMs);
}

export class Bootstrapper {
  private record: BootstrapRecord;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly failedAt = new Map<string, number>();
  private readonly samples: [number, number][] = [];
  readonly progress: BootstrapProgress;
  /** The peer whose snapshot completed the bootstrap (null until then, or when no peer had data). */
  source: string | null = null;

  constructor(
    private readonly node: Libp2p,
    private readonly ks: Keyspace,
    private readonly replicator: Replicator,
    private readonly log: Logger,
    private readonly opts: BootstrapperOptions = { gossipIntervalMs: 1000 },
  ) {
    const raw = ks.getMeta(META_BOOTSTRAP);
    this.record = raw === undefined ? { done: false, after: new Uint8Array(0), claim: null, keys: 0, bytes: 0 } : decodeBootstrapRecord(raw);
    this.progress = { keysReceived: this.record.keys, bytesReceived: this.record.bytes, keysTotal: null, rate: 0, etaSeconds: null, peer: null };
  }

  /** A store needs a bootstrap when one is under way, or when it is empty and has peers to ask. */
  static needed(ks: Keyspace, haveBootstrapPeers: boolean): boolean {
    const raw = ks.getMeta(META_BOOTSTRAP);
    if (raw !== undefined) return !decodeBootstrapRecord(raw).done;
    const s = ks.summary();
    return haveBootstrapPeers && s.keys === 0 && s.clock.isEmpty();
  }

  /** Streams snapshots from connected peers until one completes; resumes after every failure. */
  async run(): Promise<void> {
    if (this.record.after.length > 0) {
      this.log.info({ after: Buffer.from(this.record.after).toString(), keys: this.record.keys }, 'resuming bootstrap after the last key stored');
    }
    let emptySince: number | null = null;
    while (!this.stopped) {
      const peers = this.replicator.membership.connectedPeers();
      if (peers.length === 0) {
        emptySince = null;
        await this.connectOrWait();
        continue;
      }
      const decision = chooseSource({
        supply: await this.probe(peers),
        failedAt: this.failedAt,
        now: Date.now(),
        emptySince,
        graceMs: emptyGraceMs(this.opts.gossipIntervalMs),
        partial: this.record.keys > 0,
      });
      if (this.stopped) return;
      if (decision.action === 'none') return this.finishEmpty(peers.length);
      if (decision.action === 'wait') {
        emptySince = decision.emptySince;
        await this.connectOrWait(Math.max(RETRY_WAIT_MS, this.opts.gossipIntervalMs));
        continue;
      }
      const peer = decision.peer;
      try {
        if (await this.streamFrom(peer)) return;
      } catch (err) {
        if (this.stopped) return;
        this.failedAt.set(peer, Date.now());
        this.log.warn({ peer, reason: (err as Error).message, after: Buffer.from(this.record.after).toString() }, 'bootstrap stream failed; going on from another peer');
      } finally {
        this.progress.peer = null;
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  /** What each connected peer has to give, from its answer to a VERIFY query (in parallel). */
  private async probe(peers: string[]): Promise<Map<string, Supply>> {
    const answers = await Promise.all(
      peers.map(async (peer): Promise<[string, Supply]> => {
        const query = this.replicator.queryDigest(peer);
        query.catch(() => {}); // a late failure after the timeout below is not an unhandled rejection
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'unknown'>((ok) => (timer = setTimeout(() => ok('unknown'), PROBE_TIMEOUT_MS)));
        try {
          const m = await Promise.race([query, timeout]);
          if (m === 'unknown') return [peer, 'unknown'];
          if (m.type === MSG.busy) return [peer, m.hasData ? 'partial' : 'empty'];
          return [peer, m.clock.isEmpty() ? 'empty' : 'data'];
        } catch {
          return [peer, 'unknown'];
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return new Map(answers);
  }

  /** No connected peer has any data: the bootstrap is complete with nothing fetched. */
  private async finishEmpty(peers: number): Promise<void> {
    const done: BootstrapRecord = { ...this.record, done: true, claim: Clock.empty() };
    await this.ks.applyDelta({ entries: [], claim: Clock.empty() }, { meta: { name: META_BOOTSTRAP, value: encodeBootstrapRecord(done) } });
    this.record = done;
    this.log.info({ peers }, 'bootstrap complete: no peer has any data yet (a new cluster); starting empty');
  }

  /**
   * Waits until a peer connects, or `ms`. At start the bootstrap peers are being dialled:
   * the stream begins as soon as the first one is up instead of at the next poll.
   */
  private connectOrWait(ms = RETRY_WAIT_MS): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.node.removeEventListener('peer:connect', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.node.addEventListener('peer:connect', done);
    });
  }

  /** One snapshot stream. True when it completed the bootstrap; false when the peer was busy. */
  private async streamFrom(peer: string): Promise<boolean> {
    const snap = await this.replicator.snapshotFrom(peer, this.record.after, this.abort.signal);
    if (snap === 'busy') {
      this.failedAt.set(peer, Date.now());
      await new Promise((r) => setTimeout(r, RETRY_WAIT_MS));
      return false;
    }
    this.progress.peer = peer;
    const claim = this.record.claim === null ? snap.clock : this.record.claim.intersect(snap.clock);
    // The announced count is the peer's word: progress only, bounded (bootstrap-check.ts).
    this.progress.keysTotal = shownKeysTotal(snap.keys, this.record.keys);
    this.log.info({ peer, keys: snap.keys, after: Buffer.from(this.record.after).toString() }, 'streaming a snapshot from peer');
    for await (const entries of snap.chunks) {
      if (entries.length === 0) continue;
      const bytes = entries.reduce((n, e) => n + e.key.length + e.state.length, 0);
      const next: BootstrapRecord = {
        done: false,
        after: entries[entries.length - 1]!.key.slice(),
        claim,
        keys: this.record.keys + entries.length,
        bytes: this.record.bytes + bytes,
      };
      const chunk = { entries, claim: Clock.empty(), heads: snap.heads };
      const checked = await this.replicator.checkHeads(peer, chunk, 'wait'); // the heads its states need, a batch a turn
      await this.ks.applyDelta(chunk, { checked, meta: { name: META_BOOTSTRAP, value: encodeBootstrapRecord(next) } });
      this.record = next;
      this.noteProgress();
    }
    // the chunks ended at SNAP_END: everything of this snapshot is stored
    const done: BootstrapRecord = { ...this.record, done: true, claim };
    const meta = { name: META_BOOTSTRAP, value: encodeBootstrapRecord(done) };
    const last = { entries: [], claim, heads: snap.heads };
    const checked = await this.replicator.checkHeads(peer, last, 'wait', this.ks.claimHeadsToCheck(claim, snap.heads));
    const applied = await this.ks.applyDelta(last, { checked, meta, collected: snap.frontier });
    this.replicator.noteCut(peer, applied); // a snapshot clock beyond what its states show: the rest comes by sync
    await this.ks.adoptFrontier(snap.frontier.intersect(claim)); // what the peer collected stays collected here
    this.record = done;
    this.source = peer;
    this.log.info({ peer, keys: this.record.keys, bytes: this.record.bytes }, 'bootstrap complete');
    return true;
  }

  private noteProgress(): void {
    const p = this.progress;
    p.keysReceived = this.record.keys;
    p.bytesReceived = this.record.bytes;
    const now = Date.now();
    this.samples.push([now, p.keysReceived]);
    while (this.samples.length > 1 && now - this.samples[0]![0] > 5000) this.samples.shift();
    const [t0, k0] = this.samples[0]!;
    p.rate = now > t0 ? ((p.keysReceived - k0) * 1000) / (now - t0) : 0;
    if (p.keysTotal !== null) p.keysTotal = shownKeysTotal(p.keysTotal, p.keysReceived);
    p.etaSeconds = p.keysTotal !== null && p.rate > 0 ? Math.max(0, (p.keysTotal - p.keysReceived) / p.rate) : null;
  }
}
