// Binary encodings of key states, node clocks and version vectors. Canonical: equal values give
// equal bytes, which the state digest relies on. Decoders validate everything, because these bytes
// come from disk, from peers and from backup files; bad bytes raise DecodeError, never a crash.
//
// Key state (version 1):
//   u8 1 | varint nCtx | nCtx × (replica:16 | counter:varint)          replicas strictly ascending
//        | varint nSibs | nSibs × (ctxIndex:varint | counter:varint | hlc:varint | kind:u8
//                                  [| expiry:varint] [| len:varint | value])
//   kind 0 = value, 1 = tombstone, 2 = value with an expiry (ms since the epoch, at least 1; the
//   value reads as absent from then on). A sibling names its replica by index into the context,
//   whose counter for that replica must cover it. Siblings strictly ascending by dot; at least one.
//   Kind 2 came with expiry; a state without it is byte-for-byte what it was before.
// Clock:
//   varint nReplicas | nReplicas × (replica:16 | varint nRuns | nRuns × (gap:varint | len:varint))
//   first run starts at 1 + gap; each later one at previous end + 2 + gap (runs never touch);
//   a run covers start..start+len.

import { Reader, Writer } from './bytes.js';
import { Clock } from './clock.js';
import type { KeyState, Sibling } from './key-state.js';
import type { ReplicaId } from './replica.js';
import type { VersionVector } from './version-vector.js';

export const KEY_STATE_VERSION = 1;

const idBytesCache = new Map<ReplicaId, Uint8Array>();

export function replicaToBytes(r: ReplicaId): Uint8Array {
  let b = idBytesCache.get(r);
  if (b === undefined) {
    b = Buffer.from(r, 'hex');
    if (idBytesCache.size < 4096) idBytesCache.set(r, b);
  }
  return b;
}

function readReplica(rd: Reader): ReplicaId {
  return rd.hex16();
}

export function writeKeyState(w: Writer, s: KeyState): void {
  w.u8(KEY_STATE_VERSION);
  w.varint(s.ctx.length);
  for (const [r, c] of s.ctx) {
    w.bytes(replicaToBytes(r));
    w.varint(c);
  }
  w.varint(s.sibs.length);
  for (const sib of s.sibs) {
    let idx = 0;
    while (s.ctx[idx]![0] !== sib.r) idx++;
    w.varint(idx);
    w.varint(sib.c);
    w.varint(sib.hlc);
    if (sib.value === null) {
      w.u8(1);
    } else if (sib.exp === undefined) {
      w.u8(0);
      w.chunk(sib.value);
    } else {
      w.u8(2);
      w.varint(sib.exp);
      w.chunk(sib.value);
    }
  }
}

// Encodings are handed out as views of one shared arena (Writer.take), not as copies: a write or a
// merge encodes one state per key, and a fresh ArrayBuffer per state cost more than the encoding
// (allocation, GC, and lmdb-js resolving each new buffer's address before it can put it).
const arena = new Writer(1 << 16);

/** The canonical encoding; the bytes are never written again (safe to keep). */
export function encodeKeyState(s: KeyState): Uint8Array {
  try {
    writeKeyState(arena, s);
  } catch (err) {
    arena.discard();
    throw err;
  }
  return arena.take();
}

/**
 * encodeKeyState of a key's first write, { ctx: [[r, c]], sibs: [{ r, c, hlc, value }] }, written
 * straight from its parts: the insert and import path then builds no state objects at all.
 */
export function encodeFirstWrite(replica: Uint8Array, c: number, hlc: number, value: Uint8Array | null, exp?: number): Uint8Array {
  const w = arena;
  w.u8(KEY_STATE_VERSION);
  w.u8(1); // one context entry
  w.bytes(replica);
  w.varint(c);
  w.u8(1); // one sibling, at context index 0
  w.u8(0);
  w.varint(c);
  w.varint(hlc);
  if (value === null) {
    w.u8(1);
  } else if (exp === undefined) {
    w.u8(0);
    w.chunk(value);
  } else {
    w.u8(2);
    w.varint(exp);
    w.chunk(value);
  }
  return w.take();
}

/**
 * The one parser of encoded key states: checks every rule of the format and reports the context
 * entries and siblings to the callbacks, building nothing itself. Values are views into `buf`.
 */
function walkKeyState(
  rd: Reader,
  maxValueBytes: number,
  onCtx: (pos: number, c: number) => void,
  /** `exp` is 0 for no expiry; `start` is where the sibling's counter begins in `buf` (its bytes run to rd.pos). */
  onSib: (idx: number, c: number, hlc: number, value: Uint8Array | null, exp: number, start: number) => void,
): void {
  const buf = rd.buf;
  const version = rd.u8();
  if (version !== KEY_STATE_VERSION) rd.fail(`unknown key-state version ${version}`);
  const nCtx = rd.varint();
  if (nCtx < 1 || nCtx > 65536) rd.fail(`context size ${nCtx} out of range`);
  const counters: number[] = [];
  let prevPos = -1;
  for (let i = 0; i < nCtx; i++) {
    const pos = rd.pos;
    rd.bytes(16);
    const c = rd.varint();
    if (c < 1) rd.fail('context counter 0');
    if (prevPos >= 0 && compare16(buf, prevPos, pos) >= 0) rd.fail('context replicas not ascending');
    prevPos = pos;
    counters.push(c);
    onCtx(pos, c);
  }
  const nSibs = rd.varint();
  if (nSibs < 1 || nSibs > nCtx * 1024) rd.fail(`sibling count ${nSibs} out of range`);
  let prevIdx = -1;
  let prevC = 0;
  for (let i = 0; i < nSibs; i++) {
    const idx = rd.varint();
    const start = rd.pos;
    const max = counters[idx];
    if (max === undefined) rd.fail(`sibling replica index ${idx} out of range`);
    const c = rd.varint();
    if (c < 1 || c > max) rd.fail('sibling dot not covered by the context');
    if (idx < prevIdx || (idx === prevIdx && c <= prevC)) rd.fail('siblings not ascending');
    prevIdx = idx;
    prevC = c;
    const hlc = rd.varint();
    const kind = rd.u8();
    let value: Uint8Array | null = null;
    let exp = 0;
    if (kind === 2) {
      exp = rd.varint();
      if (exp < 1) rd.fail('expiry 0');
    }
    if (kind === 0 || kind === 2) value = rd.chunk(maxValueBytes);
    else if (kind !== 1) rd.fail(`unknown sibling kind ${kind}`);
    onSib(idx, c, hlc, value, exp, start);
  }
}

function compare16(buf: Uint8Array, a: number, b: number): number {
  for (let i = 0; i < 16; i++) if (buf[a + i] !== buf[b + i]) return buf[a + i]! - buf[b + i]!;
  return 0;
}

/** Decodes and validates a key state; values are views into `buf` (no copy). */
export function readKeyState(rd: Reader, maxValueBytes = Number.MAX_SAFE_INTEGER): KeyState {
  const ctx: [ReplicaId, number][] = [];
  const sibs: Sibling[] = [];
  const hex = Buffer.from(rd.buf.buffer, rd.buf.byteOffset, rd.buf.length);
  walkKeyState(
    rd,
    maxValueBytes,
    (pos, c) => ctx.push([hex.toString('hex', pos, pos + 16), c]),
    (idx, c, hlc, value, exp) => sibs.push(exp === 0 ? { r: ctx[idx]![0], c, hlc, value } : { r: ctx[idx]![0], c, hlc, value, exp }),
  );
  return { ctx, sibs };
}

/** What the store needs to know about a state to index it, without building it. */
export interface KeyStateFacts {
  /** Dot-index keys (16-byte replica id, 8-byte counter) of the siblings. */
  readonly dots: Uint8Array[];
  /**
   * Holds a value without an expiry: counted as a live key. Independent of the time and of which
   * tombstones were collected, so every replica with the same writes counts the same.
   */
  readonly live: boolean;
  readonly maxHlc: number;
  /** GC-index keys (gcTombKey, gcExpiryKey) of its tombstones and of its values with an expiry. */
  readonly gc: Uint8Array[];
  /** How many of its siblings are tombstones. */
  readonly tombs: number;
}

/**
 * Validates an encoded state in one pass and picks the sibling a plain read at `now` returns: the
 * same choice as resolve() in key-state.ts. Context entries are sorted by replica id, so comparing
 * a sibling's context index is comparing its replica id.
 */
function resolveWalk(buf: Uint8Array, maxValueBytes: number, now: number): Uint8Array | null {
  const rd = new Reader(buf, 'key state');
  let value: Uint8Array | null = null;
  let bestHlc = -1;
  let bestIdx = -1;
  let bestC = -1;
  walkKeyState(
    rd,
    maxValueBytes,
    () => undefined,
    (idx, c, hlc, v, exp) => {
      if (v === null || (exp !== 0 && exp <= now)) return; // a delete removes only what it saw: values win
      if (hlc > bestHlc || (hlc === bestHlc && (idx > bestIdx || (idx === bestIdx && c > bestC)))) {
        value = v;
        bestHlc = hlc;
        bestIdx = idx;
        bestC = c;
      }
    },
  );
  rd.end();
  return value;
}

/** Validates an encoded state and returns its facts, building no state objects. */
export function inspectKeyState(buf: Uint8Array, maxValueBytes = Number.MAX_SAFE_INTEGER): KeyStateFacts {
  return inspectKeyStateInto(buf, maxValueBytes, { dots: [], live: false, maxHlc: 0, gc: [], tombs: 0 });
}

/** Facts that a caller fills again and again (it must not keep them). */
export interface ScratchFacts extends KeyStateFacts {
  dots: Uint8Array[];
  live: boolean;
  maxHlc: number;
  gc: Uint8Array[];
  tombs: number;
}

/** inspectKeyState into `out` (its dots replaced), for bulk paths that would only drop the object. */
export function inspectKeyStateInto(buf: Uint8Array, maxValueBytes: number, out: ScratchFacts): ScratchFacts {
  if (parseSingle(buf, maxValueBytes)) {
    out.dots.length = 1; // from 1 to 1 (the usual case) keeps the array's storage
    out.dots[0] = dotKeyAt(buf, 2, single.c);
    out.live = single.valueAt >= 0;
    out.maxHlc = single.hlc;
    if (out.live) {
      out.gc.length = 0;
      out.tombs = 0;
    } else {
      out.gc.length = 1;
      out.gc[0] = gcKeyAt(GC_TOMB, 0, buf, 2, single.c);
      out.tombs = 1;
    }
    return out;
  }
  out.dots.length = 0;
  out.gc.length = 0;
  out.live = false;
  out.maxHlc = -1;
  out.tombs = 0;
  const rd = new Reader(buf, 'key state');
  const positions: number[] = [];
  walkKeyState(
    rd,
    maxValueBytes,
    (pos) => positions.push(pos),
    (idx, c, hlc, v, exp) => {
      const pos = positions[idx]!;
      out.dots.push(dotKeyAt(buf, pos, c));
      if (hlc > out.maxHlc) out.maxHlc = hlc;
      if (v === null) {
        out.tombs++;
        out.gc.push(gcKeyAt(GC_TOMB, 0, buf, pos, c));
      } else if (exp !== 0) {
        out.gc.push(gcKeyAt(GC_EXPIRY, exp, buf, pos, c));
      } else {
        out.live = true;
      }
    },
  );
  rd.end();
  return out;
}

/** The value a plain read at `now` (ms) returns (null when absent: deleted or expired), validating as it goes. */
export function resolveEncoded(buf: Uint8Array, maxValueBytes = Number.MAX_SAFE_INTEGER, now = Date.now()): Uint8Array | null {
  if (parseSingle(buf, maxValueBytes)) {
    // a plain view even when buf is a Buffer (whose subarray() goes through its species constructor)
    return single.valueAt < 0 ? null : new Uint8Array(buf.buffer, buf.byteOffset + single.valueAt, buf.length - single.valueAt);
  }
  return resolveWalk(buf, maxValueBytes, now);
}

/**
 * What the state digest hashes of a state (after the key): for each value sibling that lasts or
 * expires after `after` (ms), its replica id and its encoded bytes from the counter on. Contexts,
 * tombstones and values expired by `after` are left out, so collecting tombstones and expired
 * values (which each replica does at its own moment, always after the cutoff it digests at) never
 * changes the digest. Appends to `w`; returns false when nothing was appended (the key adds
 * nothing to the digest).
 */
export function digestPart(buf: Uint8Array, maxValueBytes: number, w: Writer, after: number): boolean {
  if (parseSingle(buf, maxValueBytes)) {
    if (single.valueAt < 0) return false;
    w.range(buf, 2, 18);
    w.range(buf, single.at, buf.length);
    return true;
  }
  const rd = new Reader(buf, 'key state');
  const positions: number[] = [];
  let any = false;
  walkKeyState(
    rd,
    maxValueBytes,
    (pos) => positions.push(pos),
    (idx, _c, _hlc, v, exp, start) => {
      if (v === null || (exp !== 0 && exp <= after)) return;
      w.range(buf, positions[idx]!, positions[idx]! + 16);
      w.range(buf, start, rd.pos);
      any = true;
    },
  );
  rd.end();
  return any;
}

/** GC-index key kinds: a tombstone sibling (by dot), a value with an expiry (by expiry, then dot). */
export const GC_TOMB = 0x54;
export const GC_EXPIRY = 0x45;

// GC-index keys: 'T' | replica:16 | counter:u64, or 'E' | expiry:u64 | replica:16 | counter:u64
// (big-endian, so a range scan walks tombstones in dot order and expiries in time order).
function gcKeyAt(kind: number, exp: number, buf: Uint8Array, pos: number, c: number): Uint8Array {
  const w = dotArena;
  w.u8(kind);
  if (kind === GC_EXPIRY) {
    w.u32(Math.floor(exp / 0x100000000));
    w.u32(exp >>> 0);
  }
  w.range(buf, pos, pos + 16);
  w.u32(Math.floor(c / 0x100000000));
  w.u32(c >>> 0);
  return w.take();
}

/** A tombstone's GC-index key, and the first key of replica r's tombstones above counter `after`. */
export function gcTombKey(replica: Uint8Array, c: number): Uint8Array {
  return gcKeyAt(GC_TOMB, 0, replica, 0, c);
}

/** An expiring value's GC-index key (expiry ms, then its dot). */
export function gcExpiryKey(exp: number, replica: Uint8Array, c: number): Uint8Array {
  return gcKeyAt(GC_EXPIRY, exp, replica, 0, c);
}

/** What a GC-index key names: its kind, expiry (0 for a tombstone) and dot. */
export function parseGcKey(k: Uint8Array): { kind: number; exp: number; r: ReplicaId; c: number } {
  const kind = k[0]!;
  const at = kind === GC_EXPIRY ? 9 : 1;
  const exp = kind === GC_EXPIRY ? readU64(k, 1) : 0;
  return { kind, exp, r: Buffer.from(k.buffer, k.byteOffset + at, 16).toString('hex'), c: dotKeyCounter(k, at) };
}

/** What parseSingle found (module state, so the fast path allocates nothing); the value ends the state. */
const single = { c: 0, hlc: 0, /** where the value starts; -1 for a tombstone */ valueAt: -1, /** where the sibling's counter starts */ at: 0 };
let varintEnd = 0;

/**
 * The fast path for the common shape, one context entry and one sibling: a straight-line parse
 * with no Reader, callbacks or arrays, which made full scans and bulk deltas several times slower
 * than LMDB's own work. It accepts exactly what walkKeyState accepts for that shape and returns
 * false for anything else, valid or not; the general walk then decides (and names the error).
 */
function parseSingle(buf: Uint8Array, maxValueBytes: number): boolean {
  // version 1, one context entry (a one-byte varint), replica at 2..18, its counter
  if (buf.length < 23 || buf[0] !== KEY_STATE_VERSION || buf[1] !== 1) return false;
  const ctxC = fastVarint(buf, 18);
  if (ctxC < 1) return false;
  let p = varintEnd;
  // one sibling, naming context entry 0
  if (buf[p] !== 1 || buf[p + 1] !== 0) return false;
  single.at = p + 2;
  const c = fastVarint(buf, p + 2);
  if (c < 1 || c > ctxC) return false;
  const hlc = fastVarint(buf, varintEnd);
  if (hlc < 0) return false;
  p = varintEnd;
  const kind = buf[p];
  if (kind === 1) {
    if (p + 1 !== buf.length) return false;
    single.valueAt = -1;
  } else if (kind === 0) {
    const len = fastVarint(buf, p + 1);
    if (len < 0 || len > maxValueBytes || varintEnd + len !== buf.length) return false;
    single.valueAt = varintEnd;
  } else {
    return false;
  }
  single.c = c;
  single.hlc = hlc;
  return true;
}

/** Reader.varint's rules (minimal, at most 8 bytes, safe integer) without a Reader; -1 if broken. */
function fastVarint(buf: Uint8Array, p: number): number {
  let n = 0;
  let scale = 1;
  for (let i = 0; i < 8 && p < buf.length; i++) {
    const b = buf[p++]!;
    n += (b & 0x7f) * scale;
    if (b < 0x80) {
      if ((b === 0 && i > 0) || !Number.isSafeInteger(n)) return -1;
      varintEnd = p;
      return n;
    }
    scale *= 0x80;
  }
  return -1;
}

/**
 * The context entries of a state that has already passed validation (inspectKeyState), into `out`
 * as pairs (position of the replica id in `buf`, counter): the checks of a peer's counters need them,
 * the index does not. A reused array and no callback: this runs once per key of a bulk delta.
 */
export function contextEntries(buf: Uint8Array, out: number[]): number[] {
  if (buf[1] === 1) {
    // one entry (the usual state): its replica at 2, its counter right after
    out.length = 2;
    out[0] = 2;
    out[1] = fastVarint(buf, 18);
    return out;
  }
  out.length = 0;
  const n = fastVarint(buf, 1);
  let p = varintEnd;
  for (let i = 0; i < n; i++) {
    out.push(p, fastVarint(buf, p + 16));
    p = varintEnd;
  }
  return out;
}

/** Dot-index key: 16-byte replica id, then the counter as 8 bytes big-endian (sorts by counter). */
export function dotKey(replica: Uint8Array, c: number): Uint8Array {
  return dotKeyAt(replica, 0, c);
}

// Dot keys come from an arena too: every write and every new key of a delta makes one, and a
// Buffer of its own (pool slice, subarray, checked writeUInt32BE) cost more than the rest of it.
const dotArena = new Writer(1 << 16);

function dotKeyAt(buf: Uint8Array, pos: number, c: number): Uint8Array {
  const w = dotArena;
  w.range(buf, pos, pos + 16);
  w.u32(Math.floor(c / 0x100000000));
  w.u32(c >>> 0);
  return w.take();
}

/** The counter of a dot-index key (the key at `at` in `k`). */
export function dotKeyCounter(k: Uint8Array, at = 0): number {
  return readU64(k, at + 16);
}

function readU64(k: Uint8Array, at: number): number {
  let hi = 0;
  let lo = 0;
  for (let i = at; i < at + 4; i++) hi = hi * 256 + k[i]!;
  for (let i = at + 4; i < at + 8; i++) lo = lo * 256 + k[i]!;
  return hi * 0x100000000 + lo;
}

export function decodeKeyState(buf: Uint8Array, maxValueBytes?: number): KeyState {
  const rd = new Reader(buf, 'key state');
  const s = readKeyState(rd, maxValueBytes);
  rd.end();
  return s;
}

/** How many siblings an encoded state holds (each has its own dot-index entry). */
export function siblingCount(buf: Uint8Array): number {
  if (buf[1] === 1 && fastVarint(buf, 18) >= 0 && buf[varintEnd]! < 0x80) return buf[varintEnd]!; // one context entry
  const rd = new Reader(buf, 'key state');
  rd.u8();
  const nCtx = rd.varint();
  for (let i = 0; i < nCtx; i++) {
    rd.pos += 16;
    rd.varint();
  }
  return rd.varint();
}

export function writeClock(w: Writer, clock: Clock): void {
  const replicas = clock.replicas();
  w.varint(replicas.length);
  for (const r of replicas) {
    w.bytes(replicaToBytes(r));
    writeRuns(w, clock.runs(r));
  }
}

/** One replica's runs of a clock: their count, then gap and length each (the layout above). */
export function writeRuns(w: Writer, runs: readonly (readonly [number, number])[]): void {
  w.varint(runs.length);
  let prevTo = -1;
  for (const [from, to] of runs) {
    w.varint(prevTo < 0 ? from - 1 : from - prevTo - 2);
    w.varint(to - from);
    prevTo = to;
  }
}

/** Reads `nRuns` runs written by writeRuns (after their count), handing each to `add`. */
export function readRuns(rd: Reader, nRuns: number, add: (from: number, to: number) => void): void {
  let prevTo = -1;
  for (let j = 0; j < nRuns; j++) {
    const gap = rd.varint();
    const len = rd.varint();
    const from = prevTo < 0 ? gap + 1 : prevTo + 2 + gap;
    const to = from + len;
    if (!Number.isSafeInteger(to)) rd.fail('counter too large');
    add(from, to);
    prevTo = to;
  }
}

export function encodeClock(clock: Clock): Uint8Array {
  const w = new Writer(64);
  writeClock(w, clock);
  return w.finish();
}

export function readClock(rd: Reader, maxReplicas = 65536, maxRuns = 1 << 20): Clock {
  const n = rd.varint();
  if (n > maxReplicas) rd.fail(`${n} replicas exceed the limit ${maxReplicas}`);
  const clock = Clock.empty();
  let prev = '';
  let totalRuns = 0;
  for (let i = 0; i < n; i++) {
    const r = readReplica(rd);
    if (r <= prev) rd.fail('clock replicas not ascending');
    prev = r;
    const nRuns = rd.varint();
    totalRuns += nRuns;
    if (nRuns < 1 || totalRuns > maxRuns) rd.fail(`run count ${nRuns} out of range`);
    readRuns(rd, nRuns, (from, to) => clock.addRange(r, from, to));
  }
  return clock;
}

export function decodeClock(buf: Uint8Array): Clock {
  const rd = new Reader(buf, 'clock');
  const c = readClock(rd);
  rd.end();
  return c;
}

export function writeVersionVector(w: Writer, vv: VersionVector): void {
  w.varint(vv.length);
  for (const [r, c] of vv) {
    w.bytes(replicaToBytes(r));
    w.varint(c);
  }
}

export function readVersionVector(rd: Reader): VersionVector {
  const n = rd.varint();
  if (n > 65536) rd.fail(`version vector of ${n} entries`);
  const vv: [ReplicaId, number][] = [];
  for (let i = 0; i < n; i++) {
    const r = readReplica(rd);
    const c = rd.varint();
    if (c < 1) rd.fail('counter 0');
    if (i > 0 && vv[i - 1]![0] >= r) rd.fail('replicas not ascending');
    vv.push([r, c]);
  }
  return vv;
}
