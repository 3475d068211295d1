// Writes from every connection in one event turn go to the store as one NodeApi.write: a pipeline
// of SETs then costs one change set and one state record, not one per SET (the store's cost per
// call, not per key, was most of a pipelined SET). Order is kept: ops apply in the order issued.
// Every op is checked before it is queued (keys, value sizes, expiries), so a batch fails only when
// the store does, and then every write in it fails.

import type { WriteOp, WriteResult } from '../store/keyspace.js';

type Write = (ops: WriteOp[]) => Promise<WriteResult[]>;

interface Waiter {
  from: number;
  to: number;
  resolve(r: WriteResult[]): void;
  reject(err: unknown): void;
}

/** Most ops in one batch; more go in the next one. */
export const MAX_BATCH_OPS = 10_000;

export class WriteBatcher {
  private ops: WriteOp[] = [];
  private waiters: Waiter[] = [];
  private scheduled = false;

  constructor(private readonly write: Write) {}

  /** Queues `ops` for the batch of this turn; resolves with their results, in order. */
  add(ops: WriteOp[]): Promise<WriteResult[]> {
    if (this.ops.length + ops.length > MAX_BATCH_OPS) this.flush();
    return new Promise((resolve, reject) => {
      const from = this.ops.length;
      for (const op of ops) this.ops.push(op);
      this.waiters.push({ from, to: this.ops.length, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.ops.length === 0) return;
    const ops = this.ops;
    const waiters = this.waiters;
    this.ops = [];
    this.waiters = [];
    this.write(ops).then(
      (results) => {
        for (const w of waiters) w.resolve(results.slice(w.from, w.to));
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
      },
    );
  }
}
