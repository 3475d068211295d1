// Messages of a range reconciliation (core/reconcile.ts, docs/protocol.md "Range reconciliation"),
// types 20-26 on the sync protocol: pure encode and strict decode with bounds. A session is one
// stream opened with RECON_BEGIN; decodeRecon either returns a well-formed message or throws.

import { Reader, Writer } from '../core/bytes.js';
import type { Clock } from '../core/clock.js';
import { readClock, writeClock } from '../core/codec.js';
import type { DeltaEntry } from '../core/delta.js';
import { readHeads, MAX_FRAME_HEADS, type Head } from '../core/head.js';
import { FANOUT, LEAF_LEVEL, levelOf, NODES, type DiffGroup, type FpGroup } from '../core/reconcile.js';
import { readEntries, writeEntries, writeHeadList } from './messages.js';

export const RECON = { begin: 20, hello: 21, fps: 22, diff: 23, need: 24, states: 25, end: 26 } as const;

const RECON_VERSION = 1;
/** Groups in one RECON_FPS (and answers in one RECON_DIFF): 1,024 x 68 bytes, about 70 kB. */
export const MAX_GROUPS = 1024;
/** Hashes in one listed range, and in one RECON_NEED. */
export const MAX_LIST = 65_536;
export const MAX_NEED = 8192;
/** Heads in RECON_HELLO: as many as a snapshot's SNAP_BEGIN may carry. */
const MAX_HELLO_HEADS = 100_000;

export interface ReconBegin {
  type: typeof RECON.begin;
  /** The digest cutoff both sides fingerprint at (ms). */
  at: number;
  /** Which 32-bit word of the 128-bit hashes fingerprints (0-3). */
  word: number;
  /** When given: first the states of the keys holding a live dot this clock lacks (a catch-up). */
  since?: Clock;
}

export interface ReconHello {
  type: typeof RECON.hello;
  /** The clock of the server's read snapshot that every list and state of the session comes from. */
  clock: Clock;
  frontier: Clock;
  keys: number;
  /** With `since`: the heads of the replicas the clock knows past it (a catch-up takes the clock). */
  heads: Head[];
}

export type ReconMessage =
  | ReconBegin
  | ReconHello
  | { type: typeof RECON.fps; groups: FpGroup[] }
  | { type: typeof RECON.diff; diffs: DiffGroup[] }
  | { type: typeof RECON.need; hashes: number[] }
  | { type: typeof RECON.states; heads: Head[]; entries: DeltaEntry[] }
  | { type: typeof RECON.end };

export const RECON_END_MESSAGE = Uint8Array.of(RECON.end);

export function isReconType(type: number): boolean {
  return type >= RECON.begin && type <= RECON.end;
}

export function encodeReconBegin(m: Omit<ReconBegin, 'type'>): Uint8Array {
  const w = new Writer(64);
  w.u8(RECON.begin);
  w.u8(RECON_VERSION);
  w.varint(m.at);
  w.u8(m.word);
  w.u8(m.since === undefined ? 0 : 1);
  if (m.since !== undefined) writeClock(w, m.since);
  return w.finish();
}

export function encodeReconHello(m: Omit<ReconHello, 'type'>): Uint8Array {
  const w = new Writer(64 + m.heads.length * 120);
  w.u8(RECON.hello);
  writeClock(w, m.clock);
  writeClock(w, m.frontier);
  w.varint(m.keys);
  writeHeadList(w, m.heads);
  return w.finish();
}

export function encodeFps(groups: readonly FpGroup[]): Uint8Array {
  const w = new Writer(8 + groups.length * (4 + FANOUT * 4));
  w.u8(RECON.fps);
  w.varint(groups.length);
  for (const g of groups) {
    w.varint(g.parent);
    for (const f of g.fps) w.u32(f);
  }
  return w.finish();
}

export function encodeDiff(diffs: readonly DiffGroup[]): Uint8Array {
  let size = 8;
  for (const d of diffs) for (const l of d.lists) size += 8 + l.length * 4;
  const w = new Writer(size + diffs.length * 6);
  w.u8(RECON.diff);
  w.varint(diffs.length);
  for (const d of diffs) {
    w.varint(d.differ);
    w.varint(d.listed);
    for (const l of d.lists) {
      w.varint(l.length);
      for (const h of l) w.u32(h);
    }
  }
  return w.finish();
}

export function encodeNeed(hashes: readonly number[]): Uint8Array {
  const w = new Writer(8 + hashes.length * 4);
  w.u8(RECON.need);
  w.varint(hashes.length);
  for (const h of hashes) w.u32(h);
  return w.finish();
}

export function encodeReconStates(heads: readonly Head[], entries: readonly DeltaEntry[]): Uint8Array {
  let size = 16 + heads.length * 120;
  for (const e of entries) size += e.key.length + e.state.length + 10;
  const w = new Writer(size);
  w.u8(RECON.states);
  writeHeadList(w, heads);
  writeEntries(w, entries);
  return w.finish();
}

/** Decodes one reconciliation frame. Throws DecodeError naming what is wrong. */
export function decodeRecon(frame: Uint8Array): ReconMessage {
  const rd = new Reader(frame, 'reconciliation message');
  const type = rd.u8();
  switch (type) {
    case RECON.begin: {
      const version = rd.u8();
      if (version !== RECON_VERSION) rd.fail(`unsupported reconciliation version ${version}`);
      const at = rd.varint();
      const word = rd.u8();
      if (word > 3) rd.fail(`fingerprint word ${word} is not 0-3`);
      const flag = rd.u8();
      if (flag > 1) rd.fail(`bad RECON_BEGIN flag ${flag}`);
      const since = flag === 1 ? readClock(rd) : undefined;
      rd.end();
      return since === undefined ? { type, at, word } : { type, at, word, since };
    }
    case RECON.hello: {
      const clock = readClock(rd);
      const frontier = readClock(rd);
      const keys = rd.varint();
      const heads = readHeads(rd, MAX_HELLO_HEADS);
      rd.end();
      return { type, clock, frontier, keys, heads };
    }
    case RECON.fps: {
      const n = rd.varint();
      if (n > MAX_GROUPS) rd.fail(`${n} ranges exceed the limit ${MAX_GROUPS}`);
      const groups: FpGroup[] = [];
      for (let i = 0; i < n; i++) {
        const parent = rd.varint();
        if (parent >= NODES || levelOf(parent) >= LEAF_LEVEL) rd.fail(`range ${parent} has no children`);
        const fps = new Uint32Array(FANOUT);
        for (let j = 0; j < FANOUT; j++) fps[j] = rd.u32();
        groups.push({ parent, fps });
      }
      rd.end();
      return { type, groups };
    }
    case RECON.diff: {
      const n = rd.varint();
      if (n > MAX_GROUPS) rd.fail(`${n} answers exceed the limit ${MAX_GROUPS}`);
      const diffs: DiffGroup[] = [];
      for (let i = 0; i < n; i++) {
        const differ = rd.varint();
        const listed = rd.varint();
        if (differ >= 1 << FANOUT || (listed & ~differ) !== 0) rd.fail('an answer lists ranges it does not say differ');
        const lists: Uint32Array[] = [];
        for (let b = listed; b !== 0; b &= b - 1) {
          const len = rd.varint();
          if (len > MAX_LIST) rd.fail(`a list of ${len} hashes exceeds the limit ${MAX_LIST}`);
          const l = new Uint32Array(len);
          for (let j = 0; j < len; j++) l[j] = rd.u32();
          lists.push(l);
        }
        diffs.push({ differ, listed, lists });
      }
      rd.end();
      return { type, diffs };
    }
    case RECON.need: {
      const n = rd.varint();
      if (n > MAX_NEED) rd.fail(`${n} hashes exceed the limit ${MAX_NEED}`);
      const hashes: number[] = [];
      for (let i = 0; i < n; i++) hashes.push(rd.u32());
      rd.end();
      return { type, hashes };
    }
    case RECON.states: {
      const heads = readHeads(rd, MAX_FRAME_HEADS);
      const entries = readEntries(rd);
      rd.end();
      return { type, heads, entries };
    }
    case RECON.end:
      rd.end();
      return { type };
    default:
      return rd.fail(`unknown reconciliation message type ${type}`);
  }
}

