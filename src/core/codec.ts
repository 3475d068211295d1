// Binary encodings of key states, node clocks and version vectors. Canonical: equal values give
// equal bytes, which the state digest relies on. Decoders validate everything, because these bytes
// come from disk, from peers and from backup files; bad bytes raise DecodeError, never a crash.
//
// Key state (version 1):
//   u8 1 | varint nCtx | nCtx × (replica:16 | counter:varint)          replicas strictly ascending
//        | varint nSibs | nSibs × (ctxIndex:varint | counter:varint | hlc:varint | kind:u8 [| len:varint | value])
//   kind 0 = value, 1 = tombstone. A sibling names its replica by index into the context, whose
//   counter for that replica must cover it. Siblings strictly ascending by dot; at least one.
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
    } else {
      w.u8(0);
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
export function encodeFirstWrite(replica: Uint8Array, c: number, hlc: number, value: Uint8Array | null): Uint8Array {
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
  } else {
    w.u8(0);
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
  onSib: (idx: number, c: number, hlc: number, value: Uint8Array | null) => void,
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
    if (kind === 0) value = rd.chunk(maxValueBytes);
    else if (kind !== 1) rd.fail(`unknown sibling kind ${kind}`);
    onSib(idx, c, hlc, value);
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
    (idx, c, hlc, value) => sibs.push({ r: ctx[idx]![0], c, hlc, value }),
  );
  return { ctx, sibs };
}

/** What the store needs to know about a state to index it, without building it. */
export interface KeyStateFacts {
  /** Dot-index keys (16-byte replica id, 8-byte counter) of the siblings. */
  readonly dots: Uint8Array[];
  /** Does a plain read find a value (the resolved sibling is not a tombstone)? */
  readonly live: boolean;
  readonly maxHlc: number;
}

/**
 * Validates an encoded state in one pass and picks the sibling a plain read returns: the same choice
 * as resolve() in key-state.ts. Context entries are sorted by replica id, so comparing a sibling's
 * context index is comparing its replica id. `onDot` sees each sibling's replica position and counter.
 */
function resolveWalk(
  buf: Uint8Array,
  maxValueBytes: number,
  onDot?: (replicaPos: number, c: number) => void,
): { value: Uint8Array | null; maxHlc: number } {
  const rd = new Reader(buf, 'key state');
  const positions: number[] = [];
  let value: Uint8Array | null = null;
  let bestHlc = -1;
  let bestIdx = -1;
  let bestC = -1;
  walkKeyState(
    rd,
    maxValueBytes,
    (pos) => positions.push(pos),
    (idx, c, hlc, v) => {
      onDot?.(positions[idx]!, c);
      if (hlc > bestHlc || (hlc === bestHlc && (idx > bestIdx || (idx === bestIdx && c > bestC)))) {
        value = v;
        bestHlc = hlc;
        bestIdx = idx;
        bestC = c;
      }
    },
  );
  rd.end();
  return { value, maxHlc: bestHlc };
}

/** Validates an encoded state and returns its facts, building no state objects. */
export function inspectKeyState(buf: Uint8Array, maxValueBytes = Number.MAX_SAFE_INTEGER): KeyStateFacts {
  return inspectKeyStateInto(buf, maxValueBytes, { dots: [], live: false, maxHlc: 0 });
}

/** Facts that a caller fills again and again (it must not keep them). */
export interface ScratchFacts extends KeyStateFacts {
  dots: Uint8Array[];
  live: boolean;
  maxHlc: number;
}

/** inspectKeyState into `out` (its dots replaced), for bulk paths that would only drop the object. */
export function inspectKeyStateInto(buf: Uint8Array, maxValueBytes: number, out: ScratchFacts): ScratchFacts {
  if (parseSingle(buf, maxValueBytes)) {
    out.dots.length = 1; // from 1 to 1 (the usual case) keeps the array's storage
    out.dots[0] = dotKeyAt(buf, 2, single.c);
    out.live = single.valueAt >= 0;
    out.maxHlc = single.hlc;
    return out;
  }
  out.dots.length = 0;
  const { value, maxHlc } = resolveWalk(buf, maxValueBytes, (pos, c) => out.dots.push(dotKeyAt(buf, pos, c)));
  out.live = value !== null;
  out.maxHlc = maxHlc;
  return out;
}

/** The value a plain read returns (null for a tombstone), validating as it goes. */
export function resolveEncoded(buf: Uint8Array, maxValueBytes = Number.MAX_SAFE_INTEGER): Uint8Array | null {
  if (parseSingle(buf, maxValueBytes)) {
    // a plain view even when buf is a Buffer (whose subarray() goes through its species constructor)
    return single.valueAt < 0 ? null : new Uint8Array(buf.buffer, buf.byteOffset + single.valueAt, buf.length - single.valueAt);
  }
  return resolveWalk(buf, maxValueBytes).value;
}

/** What parseSingle found (module state, so the fast path allocates nothing); the value ends the state. */
const single = { c: 0, hlc: 0, /** where the value starts; -1 for a tombstone */ valueAt: -1 };
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
  let hi = 0;
  let lo = 0;
  for (let i = at + 16; i < at + 20; i++) hi = hi * 256 + k[i]!;
  for (let i = at + 20; i < at + 24; i++) lo = lo * 256 + k[i]!;
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
    const runs = clock.runs(r);
    w.bytes(replicaToBytes(r));
    w.varint(runs.length);
    let prevTo = -1;
    for (const [from, to] of runs) {
      w.varint(prevTo < 0 ? from - 1 : from - prevTo - 2);
      w.varint(to - from);
      prevTo = to;
    }
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
    let prevTo = -1;
    for (let j = 0; j < nRuns; j++) {
      const gap = rd.varint();
      const len = rd.varint();
      const from = prevTo < 0 ? gap + 1 : prevTo + 2 + gap;
      const to = from + len;
      if (!Number.isSafeInteger(to)) rd.fail('counter too large');
      clock.addRange(r, from, to);
      prevTo = to;
    }
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
