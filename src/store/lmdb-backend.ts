// The LMDB backend (lmdb-js). One environment with three named databases, binary keys and values.
// Group commit: lmdb-js runs every transaction() callback queued in one event turn inside one
// write transaction and commits it on its writer thread; with overlappingSync (the Linux default)
// the commit is visible first and flushed right after, so `durable` writes wait for `flushed`.
//
// Reads go through second handles on the same tables ("view" handles) whose codecs hand out
// views of lmdb-js's shared read buffers instead of copies. With `encoding: 'binary'` lmdb-js
// copies every key and value it reads with Uint8Array#slice, a fresh ArrayBuffer each; at a
// million keys that allocation and its garbage cost more than LMDB's own work. Here the bytes are
// either used at once (visitStates) or copied into an arena (one buffer per 64 KiB of results).

import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { Writer } from '../core/bytes.js';
import { dotKey, dotKeyCounter, replicaToBytes } from '../core/codec.js';
import type { ReplicaId } from '../core/replica.js';
import { StoreError } from '../errors.js';
import { SequentialReads } from './lmdb-sequential.js';
import { TableTail } from './lmdb-tail.js';
import { type Backend, type DotEntry, type Snapshot, type StateEntry, type StateVisitor, type WriteView } from './backend.js';

type Bin = Database<Buffer, Buffer>;
/** A table read through views: keys and values are only valid until lmdb-js's next read. */
type ViewDb = Database<Uint8Array, Uint8Array>;

const MAX_DOT_KEY = Buffer.alloc(8, 0xff);
const subarray = Uint8Array.prototype.subarray;

/** Keys as views of lmdb-js's key buffer (its binary key encoding slices a copy of each). */
const viewKeys = {
  writeKey: (key: Uint8Array, target: Uint8Array, start: number) => {
    target.set(key, start);
    return start + key.length;
  },
  readKey: (target: Uint8Array, start: number, end: number) => subarray.call(target, start, end),
};

/**
 * Values as views of lmdb-js's shared read buffer. lmdb-js gives a decoder that copies (the
 * default when it does not ask for a stable buffer) that buffer itself, with `length` set to the
 * value's size; nothing is copied here.
 */
const viewValues = {
  encode: (value: Uint8Array) => value,
  decode: (bytes: Uint8Array) => subarray.call(bytes, 0, bytes.length),
};

export class LmdbBackend implements Backend {
  private readonly root: RootDatabase;
  private readonly statesDb: Bin;
  private readonly dotsDb: Bin;
  private readonly statesView: ViewDb;
  private readonly dotsView: ViewDb;
  private readonly metaDb: Database<Buffer, string>;
  private lastTxnId = -1;
  commits = 0;
  private closed = false;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    try {
      this.root = open({ path: dir, maxDbs: 4, noMemInit: true });
    } catch (err) {
      throw new StoreError(`cannot open the store at ${dir}: ${(err as Error).message}`, { cause: err });
    }
    const bin = { encoding: 'binary', keyEncoding: 'binary' } as const;
    this.statesDb = this.root.openDB({ name: 'states', ...bin }) as unknown as Bin;
    this.dotsDb = this.root.openDB({ name: 'dots', ...bin }) as unknown as Bin;
    const view = { keyEncoder: viewKeys, encoder: viewValues } as const;
    this.statesView = this.root.openDB({ name: 'states', ...view } as never) as unknown as ViewDb;
    this.dotsView = this.root.openDB({ name: 'dots', ...view } as never) as unknown as ViewDb;
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
    const { statesView, dotsView } = this;
    // Everything this snapshot hands out is copied into one arena: stable, and no buffer per entry.
    const arena = new Writer(1 << 16);
    const keep = (view: Uint8Array) => {
      arena.bytes(view);
      return arena.take();
    };
    const reads = new SequentialReads(statesView, transaction);
    let open = true;
    return {
      getState: (key) => {
        const view = reads.get(key);
        return view === undefined ? undefined : keep(view);
      },
      getMeta: (name) => this.metaDb.get(name, { transaction }),
      *dotsAfter(r: ReplicaId, after: number): Iterable<DotEntry> {
        const rb = replicaToBytes(r);
        const end = Buffer.concat([rb, MAX_DOT_KEY]);
        for (const { key, value } of dotsView.getRange({ start: dotKey(rb, after + 1), end, inclusiveEnd: true, transaction })) {
          yield { c: dotKeyCounter(key), key: keep(value) };
        }
      },
      *states(from?: Uint8Array, exclusive = false): Iterable<StateEntry> {
        const opts = from === undefined ? { transaction } : { start: from, exclusiveStart: exclusive, transaction };
        for (const { key, value } of statesView.getRange(opts)) yield { key: keep(key), state: keep(value) };
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
    const states = new TableTail(this.statesDb, this.statesView);
    const dots = new TableTail(this.dotsDb, this.dotsView);
    const arena = new Writer(1 << 12);
    return {
      getState: (key) => {
        if (states.above(key)) return undefined;
        const view = this.statesView.get(key);
        if (view === undefined) return undefined;
        arena.bytes(view);
        return arena.take();
      },
      getMeta: (name) => this.metaDb.get(name),
      putState: (key, state) => states.put(key, state),
      putDot: (dot, key) => dots.put(dot, key),
      delDot: (dot) => void this.dotsDb.remove(dot as Buffer),
      putMeta: (name, value) => void this.metaDb.put(name, value as Buffer),
    };
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
