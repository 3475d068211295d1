// The storage seam: three tables (key states, dot index, meta) with consistent read snapshots and
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

export interface ReadView {
  getState(key: Uint8Array): Uint8Array | undefined;
  getMeta(name: string): Uint8Array | undefined;
  /** Dot-index entries of replica r with counter > after, ascending. */
  dotsAfter(r: ReplicaId, after: number): Iterable<DotEntry>;
  /** Key states in key (byte) order, starting at `from` (inclusive unless `exclusive`). */
  states(from?: Uint8Array, exclusive?: boolean): Iterable<StateEntry>;
}

/** A read snapshot that must be closed; everything read through it is from one moment. */
export interface Snapshot extends ReadView {
  close(): void;
}

export interface WriteView {
  getState(key: Uint8Array): Uint8Array | undefined;
  getMeta(name: string): Uint8Array | undefined;
  putState(key: Uint8Array, state: Uint8Array): void;
  putDot(r: ReplicaId, c: number, key: Uint8Array): void;
  delDot(r: ReplicaId, c: number): void;
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
  /** How many transactions have committed (for group-commit statistics). */
  readonly commits: number;
  close(): Promise<void>;
}

/** Dot-index key: 16-byte replica id, then the counter as 8 bytes big-endian (sorts by counter). */
export function dotKey(rBytes: Uint8Array, c: number): Buffer {
  const k = Buffer.allocUnsafe(24);
  k.set(rBytes, 0);
  k.writeUInt32BE(Math.floor(c / 0x100000000), 16);
  k.writeUInt32BE(c >>> 0, 20);
  return k;
}

export function dotKeyCounter(k: Uint8Array): number {
  const b = Buffer.from(k.buffer, k.byteOffset, k.length);
  return b.readUInt32BE(16) * 0x100000000 + b.readUInt32BE(20);
}
