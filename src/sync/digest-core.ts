// The part of a DIGEST that a later DIGEST on the same pair of nodes may send as a difference: the
// sender's replica id, state digest and its cutoff, clock, GC frontier and retired-table hash and
// bitmap (docs/protocol.md, "DIGEST against a base"). Pure: a core, its short hash (how a DIGEST
// names its base), the difference between two cores, and a core rebuilt from a base and a difference.
// A rebuilt core is exactly what the sender would have sent whole, and is held to the same limits.

import { createHash } from 'node:crypto';
import { Writer, type Reader } from '../core/bytes.js';
import type { Clock } from '../core/clock.js';
import { applyClockDiff, diffClock, readClockDiff, writeClockDiff, type ClockDiff } from '../core/clock-diff.js';
import { writeClock } from '../core/codec.js';
import { DIGEST_BYTES } from '../core/digest.js';

/** Bytes of a base's hash on the wire. */
export const BASE_HASH_BYTES = 8;
/** A base no DIGEST names (the wire's all-zero hash). */
export const NO_BASE = '00'.repeat(BASE_HASH_BYTES);
/** The retired-replica bitmap's bound (messages.ts, MAX_RETIRED_BITMAP_BYTES). */
const MAX_OMITTED_BYTES = 12_500;

export interface DigestCore {
  replicaId: string;
  digest: Uint8Array;
  digestAt: number;
  clock: Clock;
  frontier: Clock;
  retiredHash: Uint8Array;
  omitted: Uint8Array;
}

/** A DIGEST's core as a difference from a base core the receiver holds; absent fields are the base's. */
export interface CoreDelta {
  /** The base's hash (hex, BASE_HASH_BYTES bytes). */
  base: string;
  clock: ClockDiff;
  frontier: ClockDiff;
  digest?: Uint8Array;
  digestAt?: number;
  retiredHash?: Uint8Array;
  omitted?: Uint8Array;
}

const F_DIGEST = 1;
const F_DIGEST_AT = 2;
const F_RETIRED_HASH = 4;
const F_OMITTED = 8;

/**
 * The hash a DIGEST names its base by: SHA-256 over the core's canonical bytes, first 8 bytes (hex).
 * Keyed per peer, a match means the same core from that peer; a member that forges a collision
 * only rebuilds a clock it could have sent whole.
 */
export function coreHash(c: DigestCore): string {
  const w = new Writer(128);
  w.bytes(Buffer.from(c.replicaId, 'hex'));
  w.bytes(c.digest);
  w.varint(c.digestAt);
  writeClock(w, c.clock);
  writeClock(w, c.frontier);
  w.bytes(c.retiredHash);
  w.chunk(c.omitted);
  return createHash('sha256').update(w.finish()).digest().subarray(0, BASE_HASH_BYTES).toString('hex');
}

/** A copy that shares nothing mutable with `c` (clocks are mutable; callers may change theirs). */
export function cloneCore(c: DigestCore): DigestCore {
  return { ...c, digest: c.digest.slice(), clock: c.clock.clone(), frontier: c.frontier.clone(), retiredHash: c.retiredHash.slice(), omitted: c.omitted.slice() };
}

/** `next` as a difference from `base` (whose hash is `baseHash`); both must name the same replica. */
export function diffCore(base: DigestCore, baseHash: string, next: DigestCore): CoreDelta {
  if (base.replicaId !== next.replicaId) throw new Error('a core differs from its base only within one replica id');
  const d: CoreDelta = { base: baseHash, clock: diffClock(base.clock, next.clock), frontier: diffClock(base.frontier, next.frontier) };
  if (!sameBytes(base.digest, next.digest)) d.digest = next.digest;
  if (base.digestAt !== next.digestAt) d.digestAt = next.digestAt;
  if (!sameBytes(base.retiredHash, next.retiredHash)) d.retiredHash = next.retiredHash;
  if (!sameBytes(base.omitted, next.omitted)) d.omitted = next.omitted;
  return d;
}

/** The core `d` describes, from `base` (which `d.base` names). Throws DecodeError as a bad whole clock would. */
export function applyCore(base: DigestCore, d: CoreDelta): DigestCore {
  return {
    replicaId: base.replicaId,
    digest: (d.digest ?? base.digest).slice(),
    digestAt: d.digestAt ?? base.digestAt,
    clock: applyClockDiff(base.clock, d.clock),
    frontier: applyClockDiff(base.frontier, d.frontier),
    retiredHash: (d.retiredHash ?? base.retiredHash).slice(),
    omitted: (d.omitted ?? base.omitted).slice(),
  };
}

/** Writes `d`; `base` is the core it names (its replica order turns ids into short indices). */
export function writeCoreDelta(w: Writer, base: DigestCore, d: CoreDelta): void {
  w.bytes(Buffer.from(d.base, 'hex'));
  writeClockDiff(w, base.clock, d.clock);
  writeClockDiff(w, base.frontier, d.frontier);
  const flags = (d.digest ? F_DIGEST : 0) | (d.digestAt !== undefined ? F_DIGEST_AT : 0) | (d.retiredHash ? F_RETIRED_HASH : 0) | (d.omitted ? F_OMITTED : 0);
  w.u8(flags);
  if (d.digest) w.bytes(d.digest);
  if (d.digestAt !== undefined) w.varint(d.digestAt);
  if (d.retiredHash) w.bytes(d.retiredHash);
  if (d.omitted) w.chunk(d.omitted);
}

export function readCoreDelta(rd: Reader): CoreDelta {
  const base = Buffer.from(rd.bytes(BASE_HASH_BYTES)).toString('hex');
  const d: CoreDelta = { base, clock: readClockDiff(rd), frontier: readClockDiff(rd) };
  const flags = rd.u8();
  if (flags > (F_DIGEST | F_DIGEST_AT | F_RETIRED_HASH | F_OMITTED)) rd.fail(`unknown DIGEST flags ${flags}`);
  if (flags & F_DIGEST) d.digest = rd.bytes(DIGEST_BYTES).slice();
  if (flags & F_DIGEST_AT) d.digestAt = rd.varint();
  if (flags & F_RETIRED_HASH) d.retiredHash = rd.bytes(16).slice();
  if (flags & F_OMITTED) d.omitted = rd.chunk(MAX_OMITTED_BYTES).slice();
  return d;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
