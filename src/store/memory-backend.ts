// An in-memory backend with the same contract as LMDB: snapshots are copies, and writes queued in
// one event turn run together as one "transaction". For property tests of whole clusters in one
// process, where opening hundreds of LMDB environments would only add time.

import { dotKeyCounter } from '../core/codec.js';
import type { ReplicaId } from '../core/replica.js';
import { StoreError } from '../errors.js';
import type { Backend, DotEntry, Snapshot, StateEntry, StateVisitor, WriteView } from './backend.js';

interface Tables {
  states: Map<string, Uint8Array>;
  dots: Map<ReplicaId, Map<number, Uint8Array>>;
  gc: Map<string, Uint8Array>;
  meta: Map<string, Uint8Array>;
}

// Keys are held as latin1 strings of their UTF-8 bytes: string order is then byte order.
const id = (key: Uint8Array) => Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
const bytes = (s: string) => Buffer.from(s, 'latin1');

/** A copy of the tables (values are never changed in place, so they are shared). */
const copyTables = (t: Tables): Tables => ({
  states: new Map(t.states),
  dots: new Map([...t.dots].map(([r, m]) => [r, new Map(m)])),
  gc: new Map(t.gc),
  meta: new Map(t.meta),
});

export class MemoryBackend implements Backend {
  private t: Tables = { states: new Map(), dots: new Map(), gc: new Map(), meta: new Map() };
  private queue: { fn: (w: WriteView) => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private closed = false;
  commits = 0;

  getState(key: Uint8Array): Uint8Array | undefined {
    this.assertOpen();
    return this.t.states.get(id(key));
  }

  getMeta(name: string): Uint8Array | undefined {
    this.assertOpen();
    return this.t.meta.get(name);
  }

  /** An independent backend holding what this one has committed (backup verify branches a replay with it). */
  clone(): MemoryBackend {
    this.assertOpen();
    const b = new MemoryBackend();
    b.t = copyTables(this.t);
    return b;
  }

  openSnapshot(): Snapshot {
    this.assertOpen();
    const t = copyTables(this.t);
    return {
      getState: (key) => t.states.get(id(key)),
      getMeta: (name) => t.meta.get(name),
      *dotsAfter(r: ReplicaId, after: number): Iterable<DotEntry> {
        const m = t.dots.get(r);
        if (m === undefined) return;
        const counters = [...m.keys()].filter((c) => c > after).sort((a, b) => a - b);
        for (const c of counters) yield { c, key: m.get(c)! };
      },
      *states(from?: Uint8Array, exclusive = false): Iterable<StateEntry> {
        const start = from === undefined ? undefined : id(from);
        const keys = [...t.states.keys()].sort();
        for (const k of keys) {
          if (start !== undefined && (k < start || (exclusive && k === start))) continue;
          yield { key: bytes(k), state: t.states.get(k)! };
        }
      },
      visitStates(from: Uint8Array | undefined, exclusive: boolean, visit: StateVisitor): void {
        for (const { key, state } of this.states(from, exclusive)) if (!visit(key, state)) return;
      },
      *gcRange(from: Uint8Array, to: Uint8Array) {
        const lo = id(from);
        const hi = id(to);
        for (const k of [...t.gc.keys()].sort()) if (k >= lo && k < hi) yield { k: bytes(k), key: t.gc.get(k)! };
      },
      close() {},
    };
  }

  write<T>(fn: (w: WriteView) => T, _durable: boolean): Promise<T> {
    this.assertOpen();
    return new Promise<T>((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  private flush(): void {
    const queue = this.queue;
    this.queue = [];
    this.commits++;
    const t = this.t;
    const view: WriteView = {
      getState: (key) => t.states.get(id(key)),
      getMeta: (name) => t.meta.get(name),
      putState: (key, state) => void t.states.set(id(key), state.slice()),
      delState: (key) => void t.states.delete(id(key)),
      putDot: (dot, key) => {
        const r = Buffer.from(dot.subarray(0, 16)).toString('hex');
        let m = t.dots.get(r);
        if (m === undefined) t.dots.set(r, (m = new Map()));
        m.set(dotKeyCounter(dot), key.slice());
      },
      delDot: (dot) => void t.dots.get(Buffer.from(dot.subarray(0, 16)).toString('hex'))?.delete(dotKeyCounter(dot)),
      putGc: (k, key) => void t.gc.set(id(k), key.slice()),
      delGc: (k) => void t.gc.delete(id(k)),
      gcRange: (from, to) => {
        const lo = id(from);
        const hi = id(to);
        return [...t.gc.keys()].sort().filter((k) => k >= lo && k < hi).map((k) => ({ k: bytes(k), key: t.gc.get(k)! }));
      },
      putMeta: (name, value) => void t.meta.set(name, value.slice()),
    };
    for (const item of queue) {
      try {
        item.resolve(item.fn(view));
      } catch (err) {
        item.reject(err);
      }
    }
  }

  bytesInUse(): number {
    let n = 0;
    for (const [k, v] of this.t.states) n += k.length + v.length;
    for (const m of this.t.dots.values()) n += m.size * 24;
    for (const [k, v] of this.t.gc) n += k.length + v.length;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('the store is closed');
  }
}
