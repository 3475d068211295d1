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

export function replicaFromBytes(buf: Uint8Array, offset: number): ReplicaId {
  return Buffer.from(buf.buffer, buf.byteOffset + offset, 16).toString('hex');
}

function readReplica(rd: Reader): ReplicaId {
  const b = rd.bytes(16);
  return replicaFromBytes(b, 0);
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

export function encodeKeyState(s: KeyState): Uint8Array {
  const w = new Writer(64 + s.sibs.reduce((n, x) => n + (x.value?.length ?? 0), 0));
  writeKeyState(w, s);
  return w.finish();
}

/** Decodes and validates a key state; values are views into `buf` (no copy). */
export function readKeyState(rd: Reader, maxValueBytes = Number.MAX_SAFE_INTEGER): KeyState {
  const version = rd.u8();
  if (version !== KEY_STATE_VERSION) rd.fail(`unknown key-state version ${version}`);
  const nCtx = rd.varint();
  if (nCtx < 1 || nCtx > 65536) rd.fail(`context size ${nCtx} out of range`);
  const ctx: [ReplicaId, number][] = [];
  for (let i = 0; i < nCtx; i++) {
    const r = readReplica(rd);
    const c = rd.varint();
    if (c < 1) rd.fail('context counter 0');
    if (i > 0 && ctx[i - 1]![0] >= r) rd.fail('context replicas not ascending');
    ctx.push([r, c]);
  }
  const nSibs = rd.varint();
  if (nSibs < 1 || nSibs > nCtx * 1024) rd.fail(`sibling count ${nSibs} out of range`);
  const sibs: Sibling[] = [];
  for (let i = 0; i < nSibs; i++) {
    const idx = rd.varint();
    const entry = ctx[idx];
    if (entry === undefined) rd.fail(`sibling replica index ${idx} out of range`);
    const c = rd.varint();
    if (c < 1 || c > entry[1]) rd.fail('sibling dot not covered by the context');
    const hlc = rd.varint();
    const kind = rd.u8();
    let value: Uint8Array | null = null;
    if (kind === 0) value = rd.chunk(maxValueBytes);
    else if (kind !== 1) rd.fail(`unknown sibling kind ${kind}`);
    const prev = sibs[i - 1];
    if (prev !== undefined && (prev.r > entry[0] || (prev.r === entry[0] && prev.c >= c))) {
      rd.fail('siblings not ascending');
    }
    sibs.push({ r: entry[0], c, hlc, value });
  }
  return { ctx, sibs };
}

export function decodeKeyState(buf: Uint8Array, maxValueBytes?: number): KeyState {
  const rd = new Reader(buf, 'key state');
  const s = readKeyState(rd, maxValueBytes);
  rd.end();
  return s;
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
