// The garbage collector's shell: every gcIntervalMs it asks the member table for the stable clock
// (member-clocks.ts) and lets the keyspace collect what is stable, a bounded batch per
// transaction with a turn of the event loop between batches, so reads and writes go on. It also
// keeps the member table on disk. The decisions are pure (core/gc.ts, member-clocks.ts).

import type { Logger } from 'pino';
import { DecodeError } from '../errors.js';
import type { Keyspace } from '../store/keyspace.js';
import { MemberClocks, type HeldBack, type Unheard } from './member-clocks.js';

export const DEFAULT_GC_INTERVAL_MS = 10_000;
/** Cassandra's gc_grace_seconds default: a member silent this long is declared gone. */
export const DEFAULT_GC_GRACE_MS = 10 * 24 * 3600_000;
/**
 * Keys per GC transaction. A step holds the event loop (reads wait) for as long as it works, so its
 * size follows what the last one cost: doubled while under STEP_MS and more is waiting, halved when
 * over twice that. Large steps matter under load: a step gets one commit, and writes pipelined at
 * full speed leave only a few commits a second (the churn benchmark, at a fixed 1,000, collected
 * half its deletes; aiming at 20 ms its store still grew, at 40 ms it plateaued, and the longest
 * event-loop gap while collecting 100,000 tombstones was about the same: 48-68 and 54-61 ms).
 */
const BATCH_KEYS = 1000;
const MIN_BATCH_KEYS = 100;
const MAX_BATCH_KEYS = 16_000;
const STEP_MS = 40;
const META_MEMBERS = 'members';
/**
 * The member table's name for the last backup taken from this node: garbage collection waits for
 * it like for a member, so an incremental backup taken next can still carry every delete made since
 * (a collected one has no state left to carry). Not a PeerId, so no peer can speak for it.
 */
export const BACKUP_MEMBER = '(last backup)';

export interface CollectorOptions {
  /** 0 switches collection off (the member table is still kept). */
  intervalMs: number;
  graceMs: number;
  /** Collection waits while this says so (a bootstrap or repair is filling the store). */
  paused?: () => boolean;
  /** Peers connected to but not heard yet: counted as members holding nothing (member-clocks.ts). */
  unheard?: () => Unheard[];
}

export interface GcStatus {
  enabled: boolean;
  /** Since the daemon started: keys removed, and siblings (tombstones, expired values) removed. */
  collected: { keys: number; siblings: number };
  /** When the last collection ran (ms since the epoch), null before the first. */
  lastRunAt: number | null;
  /** Members whose clocks the stable clock is built from. */
  members: number;
  /** How old the oldest of those clocks is (ms): the stable clock is at least this old. */
  stableAgeMs: number | null;
  /** The member whose last clock lacks the most of this node's, and since when (ms since the epoch). */
  heldBackBy: HeldBack | null;
  /** Members silent for longer than gcGraceMs: no longer waited for, refused if they return with old data. */
  gone: string[];
}

/** The member table as saved, with the time it was saved; a node that was down does not age its members. */
export function loadMembers(ks: Keyspace, log: Logger, now: number): MemberClocks {
  const raw = ks.getMeta(META_MEMBERS);
  if (raw === undefined || raw.length < 8) return new MemberClocks();
  try {
    const savedAt = Buffer.from(raw).readDoubleBE(0);
    const table = MemberClocks.decode(raw.subarray(8));
    // Silence is counted while this node runs: its own downtime is nobody's silence.
    if (Number.isFinite(savedAt) && now > savedAt) table.shift(now - savedAt);
    return table;
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    // Starting without it would let GC collect what a member that is down has not seen: it waits
    // for members to be heard again instead (a member is only counted once heard).
    log.warn({ reason: err.message }, 'the record of members\' clocks is unreadable; garbage collection starts from none');
    return new MemberClocks();
  }
}

export class Collector {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly goneLogged = new Set<string>();
  private last: { at: number; stableAgeMs: number | null; heldBackBy: HeldBack | null; members: number; gone: string[] } | null = null;
  private readonly collected = { keys: 0, siblings: 0 };

  constructor(
    private readonly ks: Keyspace,
    readonly members: MemberClocks,
    private readonly log: Logger,
    private readonly opts: CollectorOptions,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    const every = this.opts.intervalMs > 0 ? this.opts.intervalMs : DEFAULT_GC_INTERVAL_MS; // off: the table is still saved
    this.timer = setInterval(() => void this.run(), every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** One collection now (or the one under way). */
  run(): Promise<void> {
    this.running ??= this.collect()
      .catch((err: unknown) => {
        if (!this.stopped) this.log.warn({ reason: (err as Error).message }, 'garbage collection failed; it runs again at the next interval');
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  status(): GcStatus {
    const l = this.last;
    return {
      enabled: this.opts.intervalMs > 0,
      collected: { ...this.collected },
      lastRunAt: l?.at ?? null,
      members: l?.members ?? 0,
      stableAgeMs: l?.stableAgeMs ?? null,
      heldBackBy: l?.heldBackBy ?? null,
      gone: l?.gone ?? [],
    };
  }

  private async collect(): Promise<void> {
    const now = this.now();
    await this.save(now);
    if (this.opts.paused?.() === true) return;
    // Also with collection off: a cutoff left behind makes every digest read all that expired since.
    await this.ks.advanceDigestCutoff(now);
    if (this.opts.intervalMs <= 0) return;
    const own = this.ks.summary().clock;
    const st = this.members.stability(own, now, this.opts.graceMs, this.opts.unheard?.() ?? []);
    for (const peer of st.gone) {
      if (this.goneLogged.has(peer)) continue;
      this.goneLogged.add(peer);
      if (peer === BACKUP_MEMBER) {
        this.log.info({ graceMs: this.opts.graceMs }, 'the last backup is older than gcGraceMs: garbage collection no longer waits for it (a partial backup taken next may be taken as full)');
        continue;
      }
      this.log.warn({ peer, graceMs: this.opts.graceMs }, 'member silent for longer than gcGraceMs is declared gone: garbage collection no longer waits for it, and if it comes back with its old data it is refused until it re-bootstraps with a fresh data directory');
    }
    this.last = { at: now, stableAgeMs: this.members.oldestHeard(now, this.opts.graceMs), heldBackBy: st.heldBackBy, members: st.members, gone: st.gone };
    if (st.stable.isEmpty()) return;
    const started = this.now();
    let keys = 0;
    let siblings = 0;
    let batch = BATCH_KEYS;
    for (;;) {
      if (this.stopped || this.opts.paused?.() === true) break;
      const step = await this.ks.collectGarbage(st.stable, batch);
      keys += step.keys;
      siblings += step.siblings;
      // Counted batch by batch, so status keeps up with the tombstones it shows gone (a long run takes seconds).
      this.collected.keys += step.keys;
      this.collected.siblings += step.siblings;
      if (!step.more) break;
      batch = nextBatch(batch, step.busyMs);
      await new Promise((r) => setImmediate(r)); // a turn for reads, writes and sync between batches
    }
    // routine at debug; a large collection (a mass delete, a backlog) at info
    if (siblings > 0) (siblings >= 10_000 ? this.log.info.bind(this.log) : this.log.debug.bind(this.log))({ keys, siblings, ms: this.now() - started }, 'garbage collected');
  }

  private async save(now: number): Promise<void> {
    const head = Buffer.alloc(8);
    head.writeDoubleBE(now, 0);
    await this.ks.putMeta(META_MEMBERS, Buffer.concat([head, this.members.encode()]));
  }
}

/** The next step's size from what the last one cost (see BATCH_KEYS). */
export function nextBatch(batch: number, busyMs: number): number {
  if (busyMs < STEP_MS) return Math.min(MAX_BATCH_KEYS, batch * 2);
  if (busyMs > 2 * STEP_MS) return Math.max(MIN_BATCH_KEYS, Math.floor(batch / 2));
  return batch;
}
