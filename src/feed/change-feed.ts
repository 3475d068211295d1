// The daemon's change feed: every committed change to a key, local or replicated, numbered from
// a random epoch per daemon start, kept in a bounded ring for watchers that resume, and passed to
// each watcher through its own bounded queue (feed-log.ts). A write never waits for a watcher.
//
// While nobody watches nothing is recorded, only counted: a node nobody watches (a bootstrap of
// millions of keys, say) pays one addition per transaction, and the keyspace builds nothing per
// key for it (ChangeBatch reads states on demand). From the first watcher on the ring holds copies
// of the recent changes, bounded by count and bytes, and goes on holding them for resumeGraceMs
// after the last watcher leaves, so a watcher whose connection dropped resumes without a gap. A
// change passed unrecorded empties the ring: a resume from before it is told it missed changes.

import { randomBytes } from 'node:crypto';
import type { ChangeBatch, ChangeOrigin } from '../store/keyspace.js';
import { FeedRing, hasPrefix, resumeFrom, WatchQueue, type FeedEntry, type FeedPosition, type MissedReason } from './feed-log.js';

export interface ChangeEntry extends FeedEntry {
  /** The key's state as committed (codec.ts), or null when the key is gone from the store. */
  state: Uint8Array | null;
  origin: ChangeOrigin;
}

/** What a watcher is sent: its starting position, a change, or that it missed changes before `seq`. */
export type FeedMessage =
  | { type: 'hello'; seq: number }
  | { type: 'change'; entry: ChangeEntry }
  | { type: 'missed'; seq: number; reason: MissedReason };

/** Where a watcher's events go (the control server's response). */
export interface WatchSink {
  /** Sends one event; false when the reader is behind: send no more until drained() is called. */
  send(ev: FeedMessage): boolean;
  /** Ends the stream (the daemon stops). */
  end(): void;
}

export interface FeedLimits {
  ringEntries: number;
  ringBytes: number;
  queueEntries: number;
  queueBytes: number;
  watchers: number;
  /** How long after the last watcher leaves changes are still recorded, for it to resume (ms). */
  resumeGraceMs: number;
}

export const DEFAULT_FEED_LIMITS: FeedLimits = {
  ringEntries: 10_000,
  ringBytes: 32 * 1024 * 1024,
  queueEntries: 10_000,
  // Queues share their entries with the ring, but a stalled watcher keeps the ones the ring let go:
  // at most 64 x 8 MiB beyond the ring, however many large values are written.
  queueBytes: 8 * 1024 * 1024,
  watchers: 64,
  resumeGraceMs: 60_000,
};

// What an entry costs beyond its bytes (objects, arrays), for the byte bounds.
const ENTRY_OVERHEAD = 96;

export class ChangeFeed {
  readonly epoch = randomBytes(8).toString('hex');
  private readonly ring: FeedRing<ChangeEntry>;
  private readonly watchers = new Set<Watcher>();
  /** With no watcher, changes are recorded until this time (ms); -Infinity: not recording. */
  private recordUntil = -Infinity;

  constructor(
    readonly limits: FeedLimits = DEFAULT_FEED_LIMITS,
    /** The clock the grace period is measured on (ms). */
    private readonly now: () => number = Date.now,
  ) {
    this.ring = new FeedRing(limits.ringEntries, limits.ringBytes);
  }

  get head(): FeedPosition {
    return { epoch: this.epoch, seq: this.ring.head };
  }

  get watching(): number {
    return this.watchers.size;
  }

  /** Changes held for resuming watchers. */
  get held(): number {
    return this.ring.size;
  }

  /** Takes in one committed transaction's changes (Keyspace.onChange). */
  record(batch: ChangeBatch): void {
    if (!this.recording()) return this.ring.passUnrecorded(batch.keys.length);
    for (let i = 0; i < batch.keys.length; i++) {
      const key = Buffer.from(batch.keys[i]!); // copies: the batch's bytes may be views of a peer's frame
      const s = batch.stateAt(i);
      const state = s === null ? null : Buffer.from(s);
      const entry: ChangeEntry = { seq: this.ring.head + 1, key, state, origin: batch.origin, size: key.length + (state?.length ?? 0) + ENTRY_OVERHEAD };
      this.ring.push(entry);
      for (const w of this.watchers) w.offer(entry);
    }
  }

  /**
   * A new watcher of the keys starting with `prefix`, resuming after `since` when given. It is
   * sent hello (the head now), then "missed" if it cannot resume, then the held changes after
   * `since`, then live changes. The caller keeps to limits.watchers.
   */
  watch(prefix: Uint8Array, since: FeedPosition | undefined, sink: WatchSink): Watcher {
    const w = new Watcher(prefix, sink, new WatchQueue(this.limits.queueEntries, this.limits.queueBytes), () => this.left(w));
    const { missed, replay } = resumeFrom(since, this.epoch, this.ring);
    w.start(this.ring.head, missed, replay);
    this.watchers.add(w);
    return w;
  }

  /** Whether a commit now is recorded: someone watches, or the last watcher left within the grace period. */
  private recording(): boolean {
    if (this.watchers.size > 0) return true;
    if (this.recordUntil === -Infinity) return false;
    if (this.now() < this.recordUntil) return true;
    this.recordUntil = -Infinity; // from now on a commit costs no clock read either
    return false;
  }

  private left(w: Watcher): void {
    this.watchers.delete(w);
    if (this.watchers.size === 0) this.recordUntil = this.now() + this.limits.resumeGraceMs;
  }

  /** Ends every watcher's stream (the daemon stops). */
  close(): void {
    for (const w of [...this.watchers]) w.end();
  }
}

export class Watcher {
  private paused = false;
  private overflowAt = 0;
  private closed = false;

  constructor(
    private readonly prefix: Uint8Array,
    private readonly sink: WatchSink,
    private readonly queue: WatchQueue<ChangeEntry>,
    private readonly onClose: () => void,
  ) {}

  start(head: number, missed: MissedReason | null, replay: ChangeEntry[]): void {
    this.emit({ type: 'hello', seq: head });
    if (missed !== null) this.emit({ type: 'missed', seq: head, reason: missed });
    for (const e of replay) this.offer(e);
  }

  offer(e: ChangeEntry): void {
    if (this.closed || !hasPrefix(e.key, this.prefix)) return;
    if (!this.paused && this.queue.length === 0 && !this.queue.overflowed) return this.emit({ type: 'change', entry: e });
    if (!this.queue.push(e)) this.overflowAt = e.seq;
  }

  /** The reader caught up: send what waited (first "missed" if the queue overflowed meanwhile). */
  drained(): void {
    if (this.closed) return;
    this.paused = false;
    if (this.queue.overflowed) {
      this.queue.overflowed = false;
      this.emit({ type: 'missed', seq: this.overflowAt, reason: 'overflow' });
    }
    let e: ChangeEntry | undefined;
    while (!this.paused && (e = this.queue.shift()) !== undefined) this.emit({ type: 'change', entry: e });
  }

  /** Stops watching (the reader went away). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    while (this.queue.shift() !== undefined);
    this.onClose();
  }

  /** Ends the stream and stops watching. */
  end(): void {
    this.close();
    this.sink.end();
  }

  private emit(ev: FeedMessage): void {
    if (!this.sink.send(ev)) this.paused = true;
  }
}
