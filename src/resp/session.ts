// What one client connection carries between its commands: protocol version, name, id, whether
// it has authenticated, its last write (for WAIT) and its SCAN cursors. Also the order of its
// commands: a pipelined GET after a SET must see that SET, but the store's writes become visible
// only once committed, so a command that reads waits for the connection's writes in flight.

import { Clock } from '../core/clock.js';
import type { WriteOp, WriteResult } from '../store/keyspace.js';
import type { Proto } from './reply.js';

/** Most SCAN cursors a connection keeps; the oldest is dropped beyond (its SCAN answers an error). */
export const MAX_CURSORS = 64;

export class Session {
  proto: Proto = 2;
  name: string | null = null;
  authed: boolean;
  /** The dots of the connection's last write command: what WAIT waits for. */
  lastWrite: Clock = Clock.empty();
  /** Set by QUIT: the shell closes the connection once the reply is out. */
  closing = false;
  private readonly cursors = new Map<number, string>();
  private nextCursor = 1;
  private inFlight = 0;
  private idle: { promise: Promise<void>; resolve: () => void } | null = null;
  /** Set while commands queue: each waits for the one before it to be issued. */
  private tail: Promise<void> | null = null;

  constructor(
    readonly id: number,
    needsAuth: boolean,
    /** The client's address, HOST:PORT (CLIENT INFO, CLIENT LIST). */
    readonly addr = '?',
  ) {
    this.authed = !needsAuth;
  }

  /**
   * Whether a command must queue: one before it queues, or it reads (is not `blind`) while writes
   * of this connection are in flight. Writes that read nothing go straight on, so a pipeline of
   * SETs shares the store's group commits.
   */
  mustQueue(blind: boolean): boolean {
    return this.tail !== null || (!blind && this.inFlight > 0);
  }

  /**
   * Runs `fn` once the commands queued before it have been issued and, unless `blind`, every
   * write issued so far is committed. Later commands queue behind it until it has run.
   */
  later<T>(fn: () => T | Promise<T>, blind: boolean): Promise<T> {
    const issued = (this.tail ?? Promise.resolve()).then(() => (blind ? undefined : this.settled()));
    const reply = issued.then(fn); // registered first: runs before the next command's turn
    const tail: Promise<void> = issued.then(() => {
      if (this.tail === tail) this.tail = null;
    });
    this.tail = tail;
    return reply;
  }

  /** Resolves once every write this connection issued so far is committed (or failed). */
  settled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    if (this.idle === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.idle = { promise, resolve };
    }
    return this.idle.promise;
  }

  /** Issues a write through `write`, tracking it for ordering and WAIT. */
  write(write: (ops: WriteOp[]) => Promise<WriteResult[]>, ops: WriteOp[]): Promise<WriteResult[]> {
    this.inFlight++;
    const p = write(ops);
    p.then(
      (results) => {
        const dots = Clock.empty();
        for (const r of results) dots.add(r.dot.r, r.dot.c);
        this.lastWrite = dots;
      },
      () => undefined,
    ).finally(() => this.done());
    return p;
  }

  /** Records a write made another way (EXPIRE, PERSIST: NodeApi.expire). */
  track<T extends WriteResult | null>(p: Promise<T>): Promise<T> {
    this.inFlight++;
    p.then(
      (r) => {
        if (r !== null) this.lastWrite = Clock.fromIntervals([[r.dot.r, r.dot.c, r.dot.c]]);
      },
      () => undefined,
    ).finally(() => this.done());
    return p;
  }

  private done(): void {
    if (--this.inFlight > 0 || this.idle === null) return;
    const idle = this.idle;
    this.idle = null;
    idle.resolve();
  }

  /** A numeric SCAN cursor for "continue after `key`". */
  saveCursor(key: string): number {
    const id = this.nextCursor++;
    this.cursors.set(id, key);
    if (this.cursors.size > MAX_CURSORS) this.cursors.delete(this.cursors.keys().next().value!);
    return id;
  }

  /** The key a cursor continues after, or undefined for an unknown (or dropped) one. Kept, so a retried SCAN works. */
  cursorKey(id: number): string | undefined {
    return this.cursors.get(id);
  }
}
