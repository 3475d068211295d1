// Point reads that follow the table's key order, served from a cursor. Delta selection reads the
// key of each dot in a replica's counter order; a replica that wrote its keys in order (an import,
// a bootstrap, any sequential workload) then asks for one key after the other. A B-tree search
// per key cost about three times a cursor step at a million keys, and was most of selection.

import type { Database, Transaction } from 'lmdb';
import { compareBytes } from '../core/bytes.js';

/** The table as SequentialReads reads it: through the keyEncoder below, values as its codec gives them. */
type SeqDb = Database<Uint8Array, Uint8Array | number>;
type Range = Iterator<{ key: number; value: Uint8Array }>;

/**
 * lmdb-js key codec for SequentialReads' handle: it only compares the cursor's key with the one
 * asked for, so the key is copied into one scratch buffer and readKey returns its length, instead
 * of a view per key (the young-generation GC's work grows with every object a bulk read makes).
 */
const scratch = new Uint8Array(4096); // above LMDB's largest key
export const comparedKeys = {
  writeKey(key: Uint8Array, target: Uint8Array, start: number): number {
    target.set(key, start);
    return start + key.length;
  },
  readKey(target: Uint8Array, start: number, end: number): number {
    for (let i = start; i < end; i++) scratch[i - start] = target[i]!;
    return end - start;
  },
};

/** Ascending lookups in a row before a cursor is tried, and after one failed. */
const TRY_AFTER = 2;
const RETRY_AFTER = 16;

export class SequentialReads {
  private range: Range | undefined;
  private ascending = 0;
  private threshold = TRY_AFTER;
  private last = new Uint8Array(64);
  private lastLength = 0;

  constructor(
    private readonly db: SeqDb,
    private readonly transaction: Transaction,
  ) {}

  /** The value of the key, as the handle's codec gives it, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    if (this.range !== undefined) {
      const next = this.range.next();
      if (!next.done && scratchEquals(next.value.key, key)) {
        this.remember(key);
        return next.value.value;
      }
      this.stop();
      this.threshold = RETRY_AFTER;
    }
    this.ascending = this.lastLength > 0 && compareBytes(key, this.last, this.lastLength) > 0 ? this.ascending + 1 : 0;
    this.remember(key);
    const value = this.db.get(key, { transaction: this.transaction }) as Uint8Array | undefined;
    if (value !== undefined && this.ascending >= this.threshold) {
      // positioned lazily, on the next get: a search only if the pattern goes on
      const after = this.db.getRange({ start: key, exclusiveStart: true, transaction: this.transaction });
      this.range = after[Symbol.iterator]() as unknown as Range;
      this.threshold = TRY_AFTER;
    }
    return value;
  }

  /** Releases the cursor; call before the transaction ends. */
  stop(): void {
    this.range?.return?.();
    this.range = undefined;
  }

  private remember(key: Uint8Array): void {
    if (key.length > this.last.length) this.last = new Uint8Array(key.length * 2);
    this.last.set(key);
    this.lastLength = key.length;
  }
}

/** Is the key readKey just copied (of this length) equal to `key`? */
function scratchEquals(length: number, key: Uint8Array): boolean {
  if (length !== key.length) return false;
  for (let i = length - 1; i >= 0; i--) if (scratch[i] !== key[i]) return false; // keys differ most at the end
  return true;
}
