// The LMDB backend (lmdb-js). One environment with four named databases, binary keys and values.
// Group commit: lmdb-js runs every transaction() callback queued in one event turn inside one
// write transaction and commits it on its writer thread; with overlappingSync (the Linux default)
// the commit is visible first and flushed right after, so `durable` writes wait for `flushed`.
//
// Durability `relaxed` is in fact as durable as `strict` here: lmdb-js 3.5 resolves transaction()
// only after the writer thread's mdb_txn_commit returned, and with overlappingSync that call
// syncs the data and the meta page before it returns (separateFlushed does not change this; it
// only adds a promise). The next transaction commits while the previous one syncs, never two
// ahead, so writers that each await their own write get one commit per sync. Acknowledging
// earlier would need `noSync`, which is not used: under MDB_NOSYNC LMDB reuses pages the last
// synced state still points to, so a power loss between syncs can corrupt the environment, not
// only lose the last second (README, "Durability").
//
// Reads go through further handles on the same tables whose codecs hand out either views of
// lmdb-js's shared read buffer (for scans, which use each entry at once) or copies in an arena
// (one buffer per 64 KiB of results). With `encoding: 'binary'` lmdb-js copies every key and value
// it reads with Uint8Array#slice, a fresh ArrayBuffer each; at a million keys that allocation and
// its garbage cost more than LMDB's own work.

import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { Writer } from '../core/bytes.js';
import { dotKey, dotKeyCounter, replicaToBytes } from '../core/codec.js';
import type { ReplicaId } from '../core/replica.js';
import { StoreError } from '../errors.js';
import { comparedKeys, SequentialReads } from './lmdb-sequential.js';
import { TableTail } from './lmdb-tail.js';
import { type Backend, type DotEntry, type Snapshot, type StateEntry, type StateVisitor, type WriteView } from './backend.js';

type Bin = Database<Buffer, Buffer>;
/** A table read through views: keys and values are only valid until lmdb-js's next read. */
type ViewDb = Database<Uint8Array, Uint8Array>;
/** The dot index read with counters as keys and copied values. */
type DotsDb = Database<Uint8Array, number>;

const MAX_DOT_KEY = Buffer.alloc(8, 0xff);

/**
 * A plain Uint8Array view of bytes[start, end). lmdb-js's buffers are Buffers, whose subarray()
 * goes through the species constructor (a JS class) and cost several times more than this.
 */
function view(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
}

/**
 * Copies of what lmdb-js read, taken from one append-only arena shared by every snapshot: a view
 * it hands out is never written again, so copies of any snapshot may sit side by side in it.
 */
const copies = new Writer(1 << 16);
function copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
  copies.range(bytes, start, end);
  return copies.take();
}

const writeKey = (key: Uint8Array, target: Uint8Array, start: number) => {
  target.set(key, start);
  return start + key.length;
};
// lmdb-js hands a decoder that copies (the default when it does not ask for a stable buffer) its
// shared read buffer itself, with `length` set to the value's size.
const passValue = (value: Uint8Array) => value;
const views = {
  keyEncoder: { writeKey, readKey: view },
  encoder: { encode: passValue, decode: (bytes: Uint8Array) => view(bytes, 0, bytes.length) },
};
const copied = {
  keyEncoder: { writeKey, readKey: copy },
  encoder: { encode: passValue, decode: (bytes: Uint8Array) => copy(bytes, 0, bytes.length) },
};
/** Values copied, keys only compared: for point reads (SequentialReads). */
const copiedValues = { keyEncoder: comparedKeys, encoder: copied.encoder };
const dotCounters = {
  keyEncoder: { writeKey, readKey: (target: Uint8Array, start: number) => dotKeyCounter(target, start) },
  encoder: copied.encoder,
};

export class LmdbBackend implements Backend {
  private readonly root: RootDatabase;
  private readonly statesDb: Bin;
  private readonly dotsDb: Bin;
  private readonly statesView: ViewDb;
  private readonly statesCopy: ViewDb;
  private readonly statesValues: ViewDb;
  private readonly dotsCopy: DotsDb;
  private readonly gcDb: Bin;
  private readonly gcCopy: ViewDb;
  private readonly metaDb: Database<Buffer, string>;
  private lastTxnId = -1;
  commits = 0;
  private closed = false;

  constructor(dir: string) {
    // Only this user reads the store: the directory is made 0700 and LMDB's files 0600 (its default
    // is 0664, less the umask). An existing store keeps its modes (the daemon warns about wide ones).
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      this.root = open({ path: dir, maxDbs: 8, noMemInit: true, permissionsMode: 0o600 } as Parameters<typeof open>[0]);
    } catch (err) {
      throw new StoreError(`cannot open the store at ${dir}: ${(err as Error).message}`, { cause: err });
    }
    const bin = { encoding: 'binary', keyEncoding: 'binary' } as const;
    this.statesDb = this.root.openDB({ name: 'states', ...bin }) as unknown as Bin;
    this.dotsDb = this.root.openDB({ name: 'dots', ...bin }) as unknown as Bin;
    const handle = <T>(name: string, codec: object) => this.root.openDB({ name, ...codec } as never) as unknown as T;
    this.statesView = handle('states', views);
    this.statesCopy = handle('states', copied);
    this.statesValues = handle('states', copiedValues);
    this.dotsCopy = handle('dots', dotCounters);
    this.gcDb = this.root.openDB({ name: 'gc', ...bin }) as unknown as Bin;
    this.gcCopy = handle('gc', copied);
    this.metaDb = this.root.openDB({ name: 'meta', encoding: 'binary' }) as unknown as Database<Buffer, string>;
  }

  getState(key: Uint8Array): Uint8Array | undefined {
    this.assertOpen();
    return this.statesDb.get(key as Buffer);
  }

  getMeta(name: string): Uint8Array | undefined {
    this.assertOpen();
    return this.metaDb.get(name);
  }

  openSnapshot(): Snapshot {
    this.assertOpen();
    const transaction = this.root.useReadTransaction();
    const { statesView, statesCopy, statesValues, dotsCopy, gcCopy } = this;
    const reads = new SequentialReads(statesValues, transaction);
    let open = true;
    return {
      getState: (key) => reads.get(key),
      getMeta: (name) => this.metaDb.get(name, { transaction }),
      *dotsAfter(r: ReplicaId, after: number): Iterable<DotEntry> {
        const rb = replicaToBytes(r);
        const end = Buffer.concat([rb, MAX_DOT_KEY]);
        for (const { key, value } of dotsCopy.getRange({ start: dotKey(rb, after + 1), end, inclusiveEnd: true, transaction })) {
          yield { c: key, key: value };
        }
      },
      *states(from?: Uint8Array, exclusive = false): Iterable<StateEntry> {
        const opts = from === undefined ? { transaction } : { start: from, exclusiveStart: exclusive, transaction };
        for (const { key, value } of statesCopy.getRange(opts)) yield { key, state: value };
      },
      visitStates(from: Uint8Array | undefined, exclusive: boolean, visit: StateVisitor): void {
        const opts = from === undefined ? { transaction } : { start: from, exclusiveStart: exclusive, transaction };
        const range = statesView.getRange(opts)[Symbol.iterator]();
        try {
          for (let e = range.next(); !e.done; e = range.next()) if (!visit(e.value.key, e.value.value)) break;
        } finally {
          range.return?.(); // releases lmdb-js's cursor, also when visit() throws
        }
      },
      *gcRange(from: Uint8Array, to: Uint8Array) {
        for (const { key, value } of gcCopy.getRange({ start: from, end: to, transaction })) yield { k: key, key: value };
      },
      close: () => {
        reads.stop();
        if (open) transaction.done();
        open = false;
      },
    };
  }

  async write<T>(fn: (w: WriteView) => T, durable: boolean): Promise<T> {
    this.assertOpen();
    const result = await this.root.transaction(() => {
      const id = this.root.getWriteTxnId();
      if (id !== this.lastTxnId) {
        this.lastTxnId = id;
        this.commits++;
      }
      return fn(this.writeView());
    });
    if (durable) await this.root.flushed;
    return result;
  }

  /** What one transaction callback writes through; only valid inside it. */
  private writeView(): WriteView {
    const states = new TableTail(this.statesDb);
    const dots = new TableTail(this.dotsDb);
    return {
      getState: (key) => (states.above(key) ? undefined : this.statesValues.get(key)),
      getMeta: (name) => this.metaDb.get(name),
      putState: (key, state) => states.put(key, state),
      delState: (key) => void this.statesDb.remove(key as Buffer), // leaves the tail an upper bound
      putDot: (dot, key) => dots.put(dot, key),
      delDot: (dot) => void this.dotsDb.remove(dot as Buffer),
      putGc: (k, key) => void this.gcDb.put(k as Buffer, key as Buffer),
      delGc: (k) => void this.gcDb.remove(k as Buffer),
      gcRange: (from, to) => [...this.gcDb.getRange({ start: from as Buffer, end: to as Buffer })].map(({ key, value }) => ({ k: key as Uint8Array, key: value as Uint8Array })),
      putMeta: (name, value) => void this.metaDb.put(name, value as Buffer),
    };
  }

  bytesInUse(): number {
    this.assertOpen();
    let bytes = 0;
    for (const db of [this.statesDb, this.dotsDb, this.gcDb, this.metaDb] as { getStats(): object }[]) {
      const s = db.getStats() as { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };
      bytes += (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages) * s.pageSize;
    }
    return bytes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.committed;
    await this.root.flushed;
    await this.root.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('the store is closed');
  }
}
