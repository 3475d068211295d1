// The simulated node's replica: the project's real Clock (dots, merge, difference) over an
// in-memory map of writes, and the anti-entropy frames two nodes exchange in a pull. The real
// daemon reconciles key ranges (another part of issue 18); this model exchanges dots, which is
// what the overlay's figures depend on.

import { createHash } from 'node:crypto';
import { Reader, Writer } from '../src/core/bytes.js';
import { Clock } from '../src/core/clock.js';
import { readClock, writeClock } from '../src/core/codec.js';
import type { Dot, ReplicaId } from '../src/core/replica.js';

/**
 * Every payload once per world, not once per node: a write's payload is the same bytes on every
 * replica, and a copy per node cost a million buffers when a thousand nodes each wrote once.
 */
export class PayloadStore {
  private readonly m = new Map<ReplicaId, Uint8Array[]>();

  get(d: Dot): Uint8Array | undefined {
    return this.m.get(d.r)?.[d.c];
  }

  put(d: Dot, payload: Uint8Array): void {
    let a = this.m.get(d.r);
    if (a === undefined) this.m.set(d.r, (a = []));
    // A copy: a decoded payload is a view into the frame, which shares a writer's 64 KiB arena.
    a[d.c] ??= payload.slice();
  }
}

export class ReplicaModel {
  readonly clock = Clock.empty();
  /** Per replica, per counter: the virtual time the write was made or applied here. */
  private readonly arrived = new Map<ReplicaId, number[]>();
  /** The dots in the order they were applied (version v = the first v of them). */
  private readonly logR: ReplicaId[] = [];
  private readonly logC: number[] = [];
  private counter = 0;

  constructor(
    readonly id: ReplicaId,
    private readonly payloads: PayloadStore,
  ) {}

  /** Dots applied so far: lets the anti-entropy skip comparing clocks that cannot have changed. */
  get version(): number {
    return this.logC.length;
  }

  write(payload: Uint8Array, now: number): Dot {
    const dot = { r: this.id, c: ++this.counter };
    this.apply(dot, payload, now);
    return dot;
  }

  has(d: Dot): boolean {
    return this.clock.covers(d.r, d.c);
  }

  get(d: Dot): Uint8Array | undefined {
    return this.has(d) ? this.payloads.get(d) : undefined;
  }

  /** Stores a write; false if it was already here. */
  apply(d: Dot, payload: Uint8Array, now: number): boolean {
    if (this.has(d)) return false;
    this.clock.add(d.r, d.c);
    this.logR.push(d.r);
    this.logC.push(d.c);
    let a = this.arrived.get(d.r);
    if (a === undefined) this.arrived.set(d.r, (a = []));
    a[d.c] = now;
    this.payloads.put(d, payload);
    return true;
  }

  /** The dots applied since `version` (what a clock sent then lacks): no copy of the clock is kept per peer. */
  since(version: number): Clock {
    const c = Clock.empty();
    for (let i = version; i < this.logC.length; i++) c.add(this.logR[i]!, this.logC[i]!);
    return c;
  }

  /**
   * The writes `theirs` lacks, leaving out those that arrived here after `before` (likely still
   * being pushed); none: `theirs` covers this clock.
   */
  missingFrom(theirs: Clock, before: number): AeEntry[] | 'none' {
    const out: AeEntry[] = [];
    const lack = this.clock.difference(theirs);
    if (lack.isEmpty()) return 'none';
    lack.forEachRun((r, from, to) => {
      const a = this.arrived.get(r);
      for (let c = from; c <= to; c++) {
        const at = a?.[c];
        if (at !== undefined && at <= before) out.push({ id: { r, c }, payload: this.payloads.get({ r, c })! });
      }
    });
    return out;
  }

  /** A copy, as a backup taken now would hold. */
  snapshot(): ReplicaModel {
    const copy = new ReplicaModel(this.id, this.payloads);
    copy.counter = this.counter;
    copy.clock.merge(this.clock);
    copy.logR.push(...this.logR);
    copy.logC.push(...this.logC);
    for (const [r, a] of this.arrived) copy.arrived.set(r, a.slice());
    return copy;
  }
}

export interface AeEntry {
  id: Dot;
  payload: Uint8Array;
}

/** Anti-entropy frame types: simulator-only, outside the overlay's 40-59. */
export const AE = { pull: 60, reply: 61, pushBack: 62, probe: 63 } as const;

/** 8 bytes naming a clock, so a probe of an equal peer costs a few bytes whatever the clock's size. */
export function clockHash(c: Clock): Uint8Array {
  const w = new Writer(256);
  writeClock(w, c);
  return createHash('sha256').update(w.peek()).digest().subarray(0, 8);
}

export type AeMessage =
  /** A pull to a passive peer: only the clock's hash; a peer whose clock differs answers with a pull of its own. */
  | { type: typeof AE.probe; hash: Uint8Array }
  /** full: `clock` is the whole clock; otherwise only the dots added since the last one sent on this link. */
  | { type: typeof AE.pull; full: boolean; clock: Clock }
  | { type: typeof AE.reply; full: boolean; clock: Clock; entries: AeEntry[] }
  | { type: typeof AE.pushBack; entries: AeEntry[] };

export function encodeAe(m: AeMessage, w: Writer): Uint8Array {
  w.u8(m.type);
  if (m.type === AE.probe) {
    w.bytes(m.hash);
    return w.take();
  }
  if (m.type !== AE.pushBack) {
    w.u8(m.full ? 1 : 0);
    writeClock(w, m.clock);
  }
  if (m.type !== AE.pull) {
    w.varint(m.entries.length);
    for (const e of m.entries) {
      w.bytes(Buffer.from(e.id.r, 'hex'));
      w.varint(e.id.c);
      w.chunk(e.payload);
    }
  }
  return w.take();
}

export function decodeAe(buf: Uint8Array): AeMessage {
  const r = new Reader(buf, 'anti-entropy frame');
  const type = r.u8();
  if (type === AE.probe) {
    const hash = r.bytes(8);
    r.end();
    return { type, hash };
  }
  let full = false;
  let clock = Clock.empty();
  if (type !== AE.pushBack) {
    full = r.u8() === 1;
    clock = readClock(r);
  }
  const entries: AeEntry[] = [];
  if (type !== AE.pull) {
    const n = r.varint();
    for (let i = 0; i < n; i++) {
      const id = { r: r.hex16(), c: r.varint() };
      entries.push({ id, payload: r.chunk() });
    }
  }
  r.end();
  if (type === AE.pull) return { type, full, clock };
  if (type === AE.reply) return { type, full, clock, entries };
  if (type === AE.pushBack) return { type, entries };
  return r.fail(`unknown anti-entropy type ${type}`);
}
