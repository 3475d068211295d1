// Automatic healing of divergence at equal clocks (divergence.ts decides, this file does the I/O).
//
// A heal is merge-only: first the peer's keys holding each replica's newest writes, then a range
// reconciliation (reconciler.ts) moves only the keys whose states differ (not a whole snapshot),
// and every state is merged with the same pure merge sync uses, with an empty claim. A merge can only add what the peer knows (and honest merge
// semantics allow); it never removes a key, and the node clock takes in nothing, so a member that
// copies this node's clock into its DIGEST beside a false digest gets a bounded exchange, not the
// power to delete or hide data. Both sides detect a divergence, so each pulls what it lacks.
//
// If the digests still differ at equal clocks after the merge, this node recounts its own store.
// Only a recount that proves local damage (totals that do not match the states, or unreadable
// states) lets the peer's states win, through the ordinary repair; otherwise the divergence is
// logged as persisting and counted, and this node keeps its data.

import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { Clock } from '../core/clock.js';
import type { DeltaChunk } from '../core/delta.js';
import { DecodeError } from '../errors.js';
import type { Keyspace, Summary } from '../store/keyspace.js';
import type { RepairReply } from './integrity.js';
import { compareDigests, narrowHealClock, sameMoment, divergenceDecision, DivergenceTracker, healEveryMs, type AfterMerge, type DigestView, type DivergenceStats, type Verdict } from './divergence.js';
import { LogLimiter } from '../log-limiter.js';
import { MSG, type DigestMessage } from './messages.js';
import type { Replicator } from './replicator.js';

export type HealOutcome = AfterMerge | 'busy' | 'failed';

export interface HealerOptions {
  gossipIntervalMs: number;
  /** The daemon's repair (peer wins, own writes kept), used only when a recount proves damage. */
  repair: (peer: string) => Promise<RepairReply>;
}

/** Re-checks after a merge: the peer may still be merging from us, so a few tries, a gossip interval apart. */
const RECHECK_ATTEMPTS = 5;
/**
 * A snapshot at an equal clock holds about as many keys as this node: a stream far longer than that
 * is cut, so a member cannot hold the one heal slot forever with an endless stream.
 */
const SLACK_ENTRIES = 100_000;

export class Healer {
  private readonly tracker: DivergenceTracker;
  private readonly notes = new LogLimiter();
  private current: Promise<HealOutcome> | null = null;
  /** While the store is not a consistent whole (bootstrap under way, repair), nothing is compared. */
  paused = false;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly ks: Keyspace,
    private readonly replicator: Pick<Replicator, 'snapshotFrom' | 'queryDigest' | 'checkHeads' | 'reconcileWith'>,
    private readonly log: Logger,
    private readonly opts: HealerOptions,
  ) {
    this.tracker = new DivergenceTracker(healEveryMs(opts.gossipIntervalMs));
  }

  /** Frame bytes received for heals: snapshot streams merged, and the peer's digests asked for after them. */
  private healBytes = 0;

  stats(): DivergenceStats & { healBytes: number } {
    return { ...this.tracker.stats(), healBytes: this.healBytes };
  }

  /** A peer's digest from an exchange or a VERIFY answer, beside this node's pairs around it. */
  observe(peer: string, ours: readonly DigestView[], theirs: DigestMessage, via: 'exchange' | 'verify'): Verdict {
    if (this.paused || this.stopped) return 'incomparable';
    const theirView = { clock: theirs.clock, digest: hex(theirs.digest), digestAt: theirs.digestAt };
    const verdict = compareDigests(ours, theirView);
    const now = Date.now();
    const noted = this.tracker.note(peer, verdict, now);
    if (noted.detected || (verdict === 'diverged' && noted.heal)) {
      const mine = sameMoment(ours, theirView)!;
      const held = this.notes.take(`diverged|${peer}`, now);
      if (held !== null) {
        this.log.warn(
          { peer, via, ours: mine.digest, theirs: theirView.digest, ...(held > 0 ? { suppressed: held } : {}) },
          'divergence: same clock as the peer, different state digest (damage or a lie)',
        );
      }
    }
    if (noted.healed) this.log.info({ peer, via }, 'divergence over: same digest as the peer at the same clock');
    if (noted.heal) void this.heal(peer);
    return verdict;
  }

  /** Heals from `peer` now, unless another heal runs (then: that one's outcome, or 'busy'). */
  heal(peer: string): Promise<HealOutcome> {
    if (this.current !== null) return this.current;
    this.tracker.healStarted(peer, Date.now());
    this.current = this.run(peer)
      .catch((err: unknown): HealOutcome => {
        if (!this.stopped) this.log.warn({ peer, reason: (err as Error).message }, 'divergence: heal from peer failed');
        return 'failed';
      })
      .finally(() => {
        this.tracker.healEnded();
        this.current = null;
      });
    return this.current;
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  private async run(peer: string): Promise<HealOutcome> {
    this.log.info({ peer }, 'divergence: merging the peer\'s snapshot (merge only: nothing here is removed or overwritten)');
    // First only the keys holding each replica's newest writes: a forged or equivocated write is
    // most often there, and a few keys then cost what a whole snapshot would not.
    let merged = await this.mergeFrom(peer, narrowHealClock(this.ks.summary().clock));
    if (merged === 'busy') return 'busy';
    let verdict = await this.recheck(peer);
    if (verdict.verdict === 'diverged') {
      const whole = await this.mergeByRanges(peer);
      if (whole === 'busy') return 'busy';
      merged = { received: merged.received + whole.received, changed: merged.changed + whole.changed, refused: merged.refused + whole.refused };
      verdict = await this.recheck(peer);
    }
    let localDamaged: boolean | null = null;
    if (verdict.verdict === 'diverged') {
      const r = this.ks.recompute();
      localDamaged = r.unreadable > 0 || r.digest !== r.stored.digest || r.keys !== r.stored.keys;
    }
    const decision = divergenceDecision({ verdict: verdict.verdict, localDamaged });
    const fields = { peer, ...merged };
    switch (decision) {
      case 'healed':
        this.log.info({ ...fields, digest: verdict.ours }, 'divergence healed by a merge');
        break;
      case 'unknown':
        this.log.info(fields, 'divergence: merged; the clocks moved meanwhile, the next exchanges compare again');
        break;
      case 'persists':
        this.log.warn(
          { ...fields, ours: verdict.ours, theirs: verdict.theirs },
          `divergence: peer ${peer} disagrees after a merge; not overwriting (this node's store is intact by its recount; run replikv verify on that peer)`,
        );
        break;
      case 'repair': {
        this.log.warn(fields, 'divergence: the recount proves this node\'s store damaged; repairing from the peer');
        const report = await this.opts.repair(peer);
        this.log.info({ ...report }, 'divergence: repair complete');
        verdict = await this.recheck(peer);
        return verdict.verdict === 'agree' ? 'healed' : 'repair';
      }
    }
    return decision;
  }

  /**
   * Streams the peer's snapshot (only the keys holding a dot `since` lacks, when given) and merges
   * every chunk; chunks the store refuses are skipped.
   */
  private async mergeFrom(peer: string, since?: Clock): Promise<{ received: number; changed: number; refused: number } | 'busy'> {
    const cut = new AbortController();
    const signal = AbortSignal.any([cut.signal, this.abort.signal]);
    const snap = await this.replicator.snapshotFrom(peer, new Uint8Array(0), signal, since);
    if (snap === 'busy') {
      this.log.info({ peer }, 'divergence: the peer is busy (bootstrapping or repairing); healing later');
      return 'busy';
    }
    const bound = 2 * this.ks.summary().keys + SLACK_ENTRIES;
    const out = { received: 0, changed: 0, refused: 0 };
    let counted = 0;
    const count = (): void => {
      this.healBytes += snap.received.bytes - counted;
      counted = snap.received.bytes;
    };
    for await (const entries of snap.chunks) {
      count();
      out.received += entries.length;
      await this.mergeChunk(peer, { entries, claim: Clock.empty(), heads: snap.heads }, out);
      if (out.received > bound) {
        cut.abort(new Error('snapshot too long'));
        throw new Error(`the peer's snapshot passed ${bound} keys at a clock equal to ours (this node holds ${this.ks.summary().keys}); cut`);
      }
    }
    count();
    return out;
  }

  /**
   * Merges the states a range reconciliation finds different (reconciler.ts): the ranges that
   * differ are narrowed down and only their differing keys move. Merge only, as mergeFrom; the
   * keys the peer did not list are left alone.
   */
  private async mergeByRanges(peer: string): Promise<{ received: number; changed: number; refused: number } | 'busy'> {
    const out = { received: 0, changed: 0, refused: 0 };
    const r = await this.replicator.reconcileWith(
      peer,
      {
        at: Date.now(),
        word: randomInt(4),
        apply: async (entries, heads) => {
          out.received += entries.length;
          await this.mergeChunk(peer, { entries, claim: Clock.empty(), heads }, out);
        },
      },
      this.abort.signal,
    );
    if (r === 'busy') {
      this.log.info({ peer }, 'divergence: the peer is busy (bootstrapping or repairing); healing later');
      return 'busy';
    }
    this.healBytes += r.bytes;
    return out;
  }

  /** Merges one chunk of a peer's states; a chunk the store refuses is counted and skipped. */
  private async mergeChunk(peer: string, chunk: DeltaChunk, out: { changed: number; refused: number }): Promise<void> {
    try {
      // only the heads this chunk's states need, paced by the peer's budget: a snapshot of
      // 20,000 fresh heads must neither stall this node nor be checked for nothing
      const checked = await this.replicator.checkHeads(peer, chunk, 'wait');
      out.changed += (await this.ks.applyDelta(chunk, { checked })).changed;
    } catch (err) {
      // A state from the peer that the store refuses, or a local state damaged beyond reading
      // (the recount after the merge finds that one). The chunk is refused whole; go on.
      if (!(err instanceof DecodeError)) throw err;
      if (out.refused === 0) this.log.warn({ peer, reason: err.message }, 'divergence: a chunk of the peer\'s states was refused');
      out.refused += chunk.entries.length;
    }
  }

  /** Asks the peer for its digest until it agrees, or a few times; the last comparison. */
  private async recheck(peer: string): Promise<Comparison> {
    let last: Comparison = { verdict: 'incomparable', ours: this.ks.summary().digest, theirs: null };
    for (let i = 0; i < RECHECK_ATTEMPTS && !this.stopped; i++) {
      if (i > 0) await new Promise((ok) => setTimeout(ok, Math.max(200, this.opts.gossipIntervalMs)));
      const c = await comparePeer(this.ks, this.replicator, peer);
      this.healBytes += c?.bytes ?? 0;
      last = c ?? last;
      if (last.verdict === 'agree') break;
    }
    return last;
  }
}

export interface Comparison {
  verdict: Verdict;
  /** This node's digest at the peer's clock (or its latest, when no clock matched). */
  ours: string;
  theirs: string | null;
  /** Frame bytes the peer's answer took. */
  bytes?: number;
}

/** Asks `peer` for its digest (VERIFY) and compares it with this node's around the answer; null: no answer, or busy. */
export async function comparePeer(ks: Keyspace, replicator: Pick<Replicator, 'queryDigest'>, peer: string): Promise<Comparison | null> {
  const before = ks.summary();
  const d = await replicator.queryDigest(peer).catch(() => null);
  if (d === null || d.type === MSG.busy) return null;
  const ours = atTheirs(ks, d, [before, ks.summary()]);
  const view = { clock: d.clock, digest: hex(d.digest), digestAt: d.digestAt };
  const verdict = compareDigests(ours, view);
  return { verdict, ours: (sameMoment(ours, view) ?? ours[1]!).digest, theirs: view.digest, bytes: d.frameBytes ?? 0 };
}

/** This node's pairs read around a peer's DIGEST, and one at the peer's cutoff (when this node can take one there). */
export function atTheirs(ks: Pick<Keyspace, 'summaryAt'>, theirs: { digestAt: number }, around: Summary[]): Summary[] {
  const at = ks.summaryAt(theirs.digestAt);
  return at === null ? around : [...around, at];
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
