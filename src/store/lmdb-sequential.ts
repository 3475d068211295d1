// Point reads that follow the table's key order, served from a cursor. Delta selection reads the
// key of each dot in a replica's counter order; a replica that wrote its keys in order (an import,
// a bootstrap, any sequential workload) then asks for one key after the other. A B-tree search
// per key cost about three times a cursor step at a million keys, and was most of selection.

import type { Database, Transaction } from 'lmdb';
import { compareBytes } from '../core/bytes.js';

type ViewDb = Database<Uint8Array, Uint8Array>;
type Range = Iterator<{ key: Uint8Array; value: Uint8Array }>;

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
    private readonly db: ViewDb,
    private readonly transaction: Transaction,
  ) {}

  /** The value of the key, as the handle's codec gives it, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    if (this.range !== undefined) {
      const next = this.range.next();
      if (!next.done && equalBytes(next.value.key, key)) {
        this.remember(key);
        return next.value.value;
      }
      this.stop();
      this.threshold = RETRY_AFTER;
    }
    this.ascending = this.lastLength > 0 && compareBytes(key, this.last, this.lastLength) > 0 ? this.ascending + 1 : 0;
    this.remember(key);
    const value = this.db.get(key, { transaction: this.transaction });
    if (value !== undefined && this.ascending >= this.threshold) {
      // positioned lazily, on the next get: a search only if the pattern goes on
      this.range = this.db.getRange({ start: key, exclusiveStart: true, transaction: this.transaction })[Symbol.iterator]();
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

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false; // keys differ most at the end
  return true;
}
