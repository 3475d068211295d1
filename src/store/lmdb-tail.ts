// Bulk loads in key order (a bootstrap, a delta into an empty replica, an import of sorted keys,
// each replica's own dots) put keys above everything a table holds. LMDB can take such a key with
// MDB_APPEND: no search from the root, and full pages instead of half-full ones after splits. And
// a key above the table's last key is known to be absent, so reading it first can be skipped.
// Together these took bulk loads from about twice the cost of a bare get + 2 puts to below it.

import type { Database } from 'lmdb';
import { compareBytes } from '../core/bytes.js';

const APPEND = { append: true } as const;

/** lmdb-js's result of a put inside a write transaction: `result` false when LMDB refused it. */
interface SyncResult {
  result?: boolean;
}

/**
 * The last key of one table, as seen by one write transaction: an upper bound of every key the
 * table holds (removals only make it looser, never wrong), read once and then kept up by put().
 */
export class TableTail {
  private last = new Uint8Array(64);
  private lastLength = -1; // -1: not read yet; 0: the table is empty

  constructor(private readonly db: Database<Uint8Array, Uint8Array>) {}

  /** Is the key above every key of the table (so certainly absent)? */
  above(key: Uint8Array): boolean {
    if (this.lastLength < 0) this.readLast();
    return this.lastLength === 0 || compareBytes(key, this.last, this.lastLength) > 0;
  }

  put(key: Uint8Array, value: Uint8Array): void {
    if (this.above(key) && (this.db.put(key, value, APPEND as never) as unknown as SyncResult).result === true) {
      this.remember(key);
      return;
    }
    this.db.put(key, value);
  }

  private readLast(): void {
    this.lastLength = 0;
    for (const key of this.db.getKeys({ reverse: true, limit: 1 })) this.remember(key);
  }

  private remember(key: Uint8Array): void {
    if (key.length > this.last.length) this.last = new Uint8Array(key.length * 2);
    this.last.set(key);
    this.lastLength = key.length;
  }
}
