// The change feed's pure parts: positions, the bounded ring of recent changes, where a watcher
// resumes, and a watcher's bounded queue. No I/O and no clock; change-feed.ts is the shell.
//
// A position is (epoch, seq): the epoch is a random id per daemon start, seq counts changes since
// that start. A watcher that resumes from a position of another epoch, or from one whose changes
// have left the ring, is told it missed changes (it must rescan) and goes on from the head.

/** A point in a daemon's change feed: after `seq` changes of the daemon run `epoch`. */
export interface FeedPosition {
  epoch: string;
  seq: number;
}

/** One committed change, as the feed keeps it. `size` is what it costs in memory (bytes). */
export interface FeedEntry {
  seq: number;
  key: Uint8Array;
  size: number;
}

const EPOCH = /^[0-9a-f]{16}$/;

export function formatPosition(p: FeedPosition): string {
  return `${p.epoch}:${p.seq}`;
}

/** "EPOCH:SEQ" (16 hex digits, a whole number), or undefined. */
export function parsePosition(text: string): FeedPosition | undefined {
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  const epoch = text.slice(0, i);
  const raw = text.slice(i + 1);
  if (!EPOCH.test(epoch) || !/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) return undefined;
  return { epoch, seq: Number(raw) };
}

/** Why a watcher missed changes: the daemon restarted, they left the ring, or it read too slowly. */
/** restarted: another epoch; evicted: no longer held; overflow: the watcher read too slowly; unknown: a position this feed never gave (ahead of its head). */
export type MissedReason = 'restarted' | 'evicted' | 'overflow' | 'unknown';

/**
 * The most recent changes, bounded by count and by bytes. `base` is the seq of the newest change
 * not held (evicted, or passed while nothing was recorded); every change after it is held.
 */
export class FeedRing<E extends FeedEntry> {
  private entries: E[] = [];
  private first = 0; // index of the oldest held entry (entries are dropped from the front lazily)
  private bytes = 0;
  private base = 0;
  private last = 0;

  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
  ) {}

  /** The seq of the newest change (held or not). */
  get head(): number {
    return this.last;
  }

  get size(): number {
    return this.entries.length - this.first;
  }

  get heldBytes(): number {
    return this.bytes;
  }

  /** Adds the next change (its seq must be head + 1), evicting the oldest beyond the bounds. */
  push(e: E): void {
    if (e.seq !== this.last + 1) throw new RangeError(`feed entry ${e.seq} after ${this.last}`);
    this.last = e.seq;
    this.entries.push(e);
    this.bytes += e.size;
    // the newest change is always held, however large: a resume from just before it still works
    while (this.size > this.maxEntries || (this.bytes > this.maxBytes && this.size > 1)) {
      const old = this.entries[this.first]!;
      this.entries[this.first++] = undefined as unknown as E;
      this.bytes -= old.size;
      this.base = old.seq;
    }
    if (this.first > 1024 && this.first * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.first);
      this.first = 0;
    }
  }

  /** Counts `n` changes that are not recorded (nobody could ask for them): they are missed by any resume. */
  passUnrecorded(n: number): void {
    this.last += n;
    if (this.size === 0) this.base = this.last; // the usual case while nobody watches: nothing to drop
    else this.clear();
  }

  /** The held changes after `seq`, or undefined when some of them are no longer held. */
  after(seq: number): E[] | undefined {
    if (seq < this.base || seq > this.last) return undefined;
    const out: E[] = [];
    for (let i = this.first + (seq - this.base); i < this.entries.length; i++) out.push(this.entries[i]!);
    return out;
  }

  private clear(): void {
    this.entries = [];
    this.first = 0;
    this.bytes = 0;
    this.base = this.last;
  }
}

/** Where a new watcher starts: the changes to send first, and whether it missed some (then it goes on from the head). */
export function resumeFrom<E extends FeedEntry>(
  since: FeedPosition | undefined,
  epoch: string,
  ring: FeedRing<E>,
): { missed: MissedReason | null; replay: E[] } {
  if (since === undefined) return { missed: null, replay: [] };
  if (since.epoch !== epoch) return { missed: 'restarted', replay: [] };
  if (since.seq > ring.head) return { missed: 'unknown', replay: [] };
  const held = ring.after(since.seq);
  return held === undefined ? { missed: 'evicted', replay: [] } : { missed: null, replay: held };
}

/** Whether `key` starts with `prefix` (bytes). */
export function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/**
 * A watcher's changes not yet written to it, bounded by count and bytes. A push past either bound
 * empties the queue and marks it overflowed: the watcher is then told it missed changes and goes
 * on with the changes after that, so a reader that stops never holds memory or writes back.
 */
export class WatchQueue<E extends FeedEntry> {
  private items: E[] = [];
  private first = 0;
  private bytes = 0;
  overflowed = false;

  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.items.length - this.first;
  }

  /** False when the bound was passed (the queue was emptied and marked overflowed). */
  push(e: E): boolean {
    // one change is always let in, however large, so a big value alone still reaches the watcher
    if (this.length + 1 > this.maxEntries || (this.length > 0 && this.bytes + e.size > this.maxBytes)) {
      this.items = [];
      this.first = 0;
      this.bytes = 0;
      this.overflowed = true;
      return false;
    }
    this.items.push(e);
    this.bytes += e.size;
    return true;
  }

  shift(): E | undefined {
    if (this.first >= this.items.length) return undefined;
    const e = this.items[this.first]!;
    this.items[this.first++] = undefined as unknown as E;
    this.bytes -= e.size;
    if (this.first === this.items.length) {
      this.items = [];
      this.first = 0;
    }
    return e;
  }
}
