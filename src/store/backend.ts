// The storage seam: four tables (key states, dot index, GC index, meta) with consistent read snapshots and
// group-committed write transactions. The keyspace holds all the logic; a backend only stores bytes.
// Two implementations pass the same contract tests: LMDB (the real one) and memory (for fast
// property tests of whole clusters in one process).

import type { ReplicaId } from '../core/replica.js';

export interface DotEntry {
  readonly c: number;
  readonly key: Uint8Array;
}

export interface StateEntry {
  readonly key: Uint8Array;
  readonly state: Uint8Array;
}

/**
 * Sees one key state of a scan; `key` and `state` are valid only during the call (they may be
 * views of a buffer the backend reuses). Returns false to stop the scan.
 */
export type StateVisitor = (key: Uint8Array, state: Uint8Array) => boolean;

export interface ReadView {
  getState(key: Uint8Array): Uint8Array | undefined;
  getMeta(name: string): Uint8Array | undefined;
  /** Dot-index entries of replica r with counter > after, ascending. */
  dotsAfter(r: ReplicaId, after: number): Iterable<DotEntry>;
  /** Key states in key (byte) order, starting at `from` (inclusive unless `exclusive`). */
  states(from?: Uint8Array, exclusive?: boolean): Iterable<StateEntry>;
  /** The same walk as states(), without copying what the visitor does not keep. */
  visitStates(from: Uint8Array | undefined, exclusive: boolean, visit: StateVisitor): void;
  /** GC-index entries (codec.ts, gcTombKey / gcExpiryKey) with from <= k < to, ascending, with their keys. */
  gcRange(from: Uint8Array, to: Uint8Array): Iterable<{ readonly k: Uint8Array; readonly key: Uint8Array }>;
}

/** A read snapshot that must be closed; everything read through it is from one moment. */
export interface Snapshot extends ReadView {
  close(): void;
}

export interface WriteView {
  getState(key: Uint8Array): Uint8Array | undefined;
  getMeta(name: string): Uint8Array | undefined;
  putState(key: Uint8Array, state: Uint8Array): void;
  /** Removes a key's state (repair only: replication itself never forgets a key). */
  delState(key: Uint8Array): void;
  /** Dot-index entry; `dot` is the 24-byte key made by dotKey() in codec.ts. */
  putDot(dot: Uint8Array, key: Uint8Array): void;
  delDot(dot: Uint8Array): void;
  /** GC-index entry: a tombstone or an expiring value of `key`. */
  putGc(k: Uint8Array, key: Uint8Array): void;
  delGc(k: Uint8Array): void;
  /** GC-index entries with from <= k < to, as this transaction sees them (its own puts included). */
  gcRange(from: Uint8Array, to: Uint8Array): Iterable<{ readonly k: Uint8Array; readonly key: Uint8Array }>;
  putMeta(name: string, value: Uint8Array): void;
}

export interface Backend {
  /** Latest committed state of one key (a point read; no snapshot to close). */
  getState(key: Uint8Array): Uint8Array | undefined;
  /** Latest committed meta record. */
  getMeta(name: string): Uint8Array | undefined;
  openSnapshot(): Snapshot;
  /**
   * Runs `fn` inside a write transaction. Calls made in the same event turn share one commit (and
   * one sync). Resolves after the commit and, when `durable`, after it is flushed to disk.
   * `fn` must do all its reading and checking before its first put: a throw does not undo puts.
   */
  write<T>(fn: (w: WriteView) => T, durable: boolean): Promise<T>;
  /** Bytes the tables' pages hold (LMDB: branch, leaf and overflow pages); freed pages are reused, not counted. */
  bytesInUse(): number;
  /** How many transactions have committed (for group-commit statistics). */
  readonly commits: number;
  close(): Promise<void>;
}
