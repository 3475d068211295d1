// Messages of /replikv/sync/1.0.0 (docs/protocol.md): pure encode and strict decode. Every frame
// from a peer passes through decodeMessage, which either returns a well-formed message or throws
// DecodeError; nothing else reaches the store.

import { Reader, Writer } from '../core/bytes.js';
import { Clock } from '../core/clock.js';
import { readClock, writeClock } from '../core/codec.js';
import type { DeltaChunk, DeltaEntry } from '../core/delta.js';
import { DIGEST_BYTES } from '../core/digest.js';
import { readForgetRecord, writeForgetRecord, type ForgetRecord } from '../core/forget-record.js';
import { MAX_FRAME_HEADS, readHeads, writeHead, type Head } from '../core/head.js';
import { MAX_KEY_BYTES } from '../core/validate.js';
import { BASE_HASH_BYTES, NO_BASE, readCoreDelta, writeCoreDelta, type CoreDelta, type DigestCore } from './digest-core.js';

// 5.0.0: DIGEST as a difference, PEERS, range reconciliation, overlay frames (docs/protocol.md, the version history).
export const SYNC_PROTOCOL = '/replikv/sync/5.0.0';

export const MSG = { digest: 1, delta: 2, end: 3, push: 4, ack: 5, snapRequest: 6, snapBegin: 7, snapChunk: 8, snapEnd: 9, busy: 10, verify: 11, forgotten: 12, peers: 30, digestDelta: 31, needFull: 32 } as const;

const DIGEST_VERSION = 5;
const MAX_PEER_ADDRS = 1024;
export const MAX_FORGOTTEN = 1024;
/** A bitmap over at most 100,000 retired replicas (core/retired.ts, MAX_RETIRED). */
const MAX_RETIRED_BITMAP_BYTES = 12_500;
const MAX_ADDR_BYTES = 1024;
const MAX_ENTRIES = 65536;
/** Heads in one DELTA or PUSH (a snapshot's SNAP_BEGIN carries every head its sender keeps). */
const MAX_HEADS = MAX_FRAME_HEADS;
const MAX_SNAPSHOT_HEADS = 100_000;

export interface DigestMessage {
  type: typeof MSG.digest;
  replicaId: string;
  /** State digest, 16 bytes. */
  digest: Uint8Array;
  /** The digest's cutoff (ms since the epoch): it covers every value that lasts or expires after it. */
  digestAt: number;
  clock: Clock;
  /**
   * The newest of the receiver's DIGESTs the sender holds (hex, digest-core.ts coreHash): the base
   * the receiver may send its next DIGEST against. Absent: none.
   */
  heard?: string;
  /**
   * Forgets signed by an operator key (core/forget-record.ts): a receiver obeys one only when it is
   * configured with that key (operatorKeys), and refuses the rest. Unsigned forgets are never sent.
   */
  forgotten: ForgetRecord[];
  /** The sender's GC frontier (core/gc.ts): a receiver whose clock lacks part of it gets no deltas from it. */
  frontier: Clock;
  /** Retired replicas (core/retired.ts): the sender's table hash, the entries `clock` leaves out, and entries taught. */
  retired: RetiredPart;
}

/**
 * A DIGEST sent as a difference from an earlier one of the same sender that the receiver said it
 * holds (DigestMessage.heard). The receiver rebuilds the whole DIGEST (digest-bases.ts), or, when it
 * holds no such base, answers NEED_FULL and the sender sends the DIGEST whole.
 */
export interface DigestDeltaMessage {
  type: typeof MSG.digestDelta;
  heard?: string;
  core: CoreDelta;
  forgotten: ForgetRecord[];
  records: readonly [string, number][];
}

/** Peer exchange: addresses of the sender and of its peers that are not down (multiaddrs ending in /p2p/PEERID). */
export interface PeersMessage {
  type: typeof MSG.peers;
  addrs: string[];
}

export interface RetiredPart {
  /** 16 bytes; all zero from a sender that sends no table. */
  hash: Uint8Array;
  /** A bitmap over the sender's sorted table of the entries left out of `clock`; empty: none left out. */
  omitted: Uint8Array;
  /** Table entries the sender teaches the receiver (merged by union, the higher counter winning). */
  records: readonly [string, number][];
}

const NO_RETIRED: RetiredPart = { hash: new Uint8Array(16), omitted: new Uint8Array(0), records: [] };
/** Retired-replica entries taught in one DIGEST (the rest in later ones). */
export const MAX_RETIRED_RECORDS = 4096;

/** Answer of a node that is bootstrapping or repairing: no exchange now. */
export interface BusyMessage {
  type: typeof MSG.busy;
  /** The node already holds part of the keyspace (a snapshot is streaming to it). */
  hasData: boolean;
}

export interface DeltaMessage extends DeltaChunk {
  type: typeof MSG.delta | typeof MSG.push;
  /** PUSH only: the sender's sequence number for this push on this stream (0 for DELTA). */
  seq: number;
}

/**
 * The receiver of PUSH `seq` has applied it and stored it as durably as its configuration says; on
 * a sync exchange, ACK(EXCHANGE_ACK_SEQ) says the same of every DELTA the peer sent on the stream.
 */
export interface AckMessage {
  type: typeof MSG.ack;
  seq: number;
}

/** A new node asks for a snapshot of the keyspace in key order, after `after` (empty: from the start). */
export interface SnapRequestMessage {
  type: typeof MSG.snapRequest;
  after: Uint8Array;
  /**
   * A narrowed request (a heal's first step): only the keys holding a live dot this clock lacks,
   * with no heads (the asker is at an equal clock, so it holds them). Absent: the whole keyspace.
   */
  since?: Clock;
}

/** The snapshot's clock (what every state in it reflects) and its live key count (for progress). */
export interface SnapBeginMessage {
  type: typeof MSG.snapBegin;
  clock: Clock;
  keys: number;
  /** Every head the sender keeps: what the receiver needs to believe the snapshot's counters. */
  heads: Head[];
  /** The sender's GC frontier at the snapshot: its writes were collected there, so the snapshot lacks them. */
  frontier: Clock;
}

export interface SnapChunkMessage {
  type: typeof MSG.snapChunk;
  entries: DeltaEntry[];
}

export type Message =
  | DigestMessage
  | DeltaMessage
  | AckMessage
  | SnapRequestMessage
  | SnapBeginMessage
  | SnapChunkMessage
  | BusyMessage
  | DigestDeltaMessage
  | PeersMessage
  | { type: typeof MSG.end | typeof MSG.snapEnd | typeof MSG.verify | typeof MSG.forgotten | typeof MSG.needFull };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8enc = new TextEncoder();

/** A DIGEST; `frontier` defaults to empty (a node that collected nothing), `digestAt` to now. */
export function encodeDigest(m: Omit<DigestMessage, 'type' | 'frontier' | 'retired' | 'digestAt'> & { frontier?: Clock; retired?: RetiredPart; digestAt?: number }): Uint8Array {
  const w = new Writer(128);
  w.u8(MSG.digest);
  w.u8(DIGEST_VERSION);
  w.bytes(Buffer.from(m.heard ?? NO_BASE, 'hex'));
  w.bytes(Buffer.from(m.replicaId, 'hex'));
  w.bytes(m.digest);
  w.varint(m.digestAt ?? Date.now());
  writeClock(w, m.clock);
  writeForgotten(w, m.forgotten);
  writeClock(w, m.frontier ?? Clock.empty());
  const r = m.retired ?? NO_RETIRED;
  w.bytes(r.hash);
  w.chunk(r.omitted);
  writeRetiredRecords(w, r.records);
  return w.finish();
}

/** A DIGEST against `base` (a core the receiver said it holds): the core's difference, then what every DIGEST carries. */
export function encodeDigestDelta(base: DigestCore, m: Omit<DigestDeltaMessage, 'type'>): Uint8Array {
  const w = new Writer(64);
  w.u8(MSG.digestDelta);
  w.bytes(Buffer.from(m.heard ?? NO_BASE, 'hex'));
  writeCoreDelta(w, base, m.core);
  writeForgotten(w, m.forgotten);
  writeRetiredRecords(w, m.records);
  return w.finish();
}

/** The receiver of a DIGEST against a base it does not hold asks for the DIGEST whole. */
export const NEED_FULL_MESSAGE = Uint8Array.of(MSG.needFull);

/** Peer exchange (on a stream of its own). */
export function encodePeers(addrs: readonly string[]): Uint8Array {
  const w = new Writer(64);
  w.u8(MSG.peers);
  w.varint(addrs.length);
  for (const a of addrs) w.chunk(utf8enc.encode(a));
  return w.finish();
}

function writeForgotten(w: Writer, forgotten: readonly ForgetRecord[]): void {
  w.varint(forgotten.length);
  for (const r of forgotten) writeForgetRecord(w, r);
}

function readForgotten(rd: Reader): ForgetRecord[] {
  const f = rd.varint();
  if (f > MAX_FORGOTTEN) rd.fail(`${f} forgotten peers exceed the limit ${MAX_FORGOTTEN}`);
  const forgotten: ForgetRecord[] = [];
  for (let i = 0; i < f; i++) forgotten.push(readForgetRecord(rd));
  return forgotten;
}

function writeRetiredRecords(w: Writer, records: readonly (readonly [string, number])[]): void {
  w.varint(records.length);
  for (const [id, c] of records) {
    w.bytes(Buffer.from(id, 'hex'));
    w.varint(c);
  }
}

function readRetiredRecords(rd: Reader): [string, number][] {
  const nr = rd.varint();
  if (nr > MAX_RETIRED_RECORDS) rd.fail(`${nr} retired replicas exceed the limit ${MAX_RETIRED_RECORDS}`);
  const records: [string, number][] = [];
  for (let i = 0; i < nr; i++) {
    const id = rd.hex16();
    const c = rd.varint();
    if (c < 1) rd.fail('retired replica counter 0');
    records.push([id, c]);
  }
  return records;
}

/** The `heard` field: absent when all zero. */
function readHeard(rd: Reader): string | undefined {
  const h = Buffer.from(rd.bytes(BASE_HASH_BYTES)).toString('hex');
  return h === NO_BASE ? undefined : h;
}

/** DELTA or PUSH: a chunk of key states and its claim (a PUSH also carries its sequence number). */
export function encodeEntries(type: typeof MSG.delta | typeof MSG.push, chunk: DeltaChunk, seq = 0): Uint8Array {
  let size = 64;
  for (const e of chunk.entries) size += e.key.length + e.state.length + 10;
  const w = new Writer(size);
  w.u8(type);
  if (type === MSG.push) w.varint(seq);
  writeClock(w, chunk.claim);
  writeHeadList(w, chunk.heads ?? []);
  writeEntries(w, chunk.entries);
  return w.finish();
}

export function writeHeadList(w: Writer, heads: readonly Head[]): void {
  w.varint(heads.length);
  for (const h of heads) writeHead(w, h);
}

export const END_MESSAGE = Uint8Array.of(MSG.end);

export const SNAP_END_MESSAGE = Uint8Array.of(MSG.snapEnd);
/** Answer from a node that is bootstrapping or repairing, saying whether it holds any data yet. */
export function encodeBusy(hasData: boolean): Uint8Array {
  return Uint8Array.of(MSG.busy, hasData ? 1 : 0);
}
/** Asks for the peer's DIGEST alone, so `replikv verify` can compare without moving data. */
export const VERIFY_MESSAGE = Uint8Array.of(MSG.verify);
/** Sent on its own stream to a peer this node's operator forgot, before hanging up: it learns why. */
export const FORGOTTEN_MESSAGE = Uint8Array.of(MSG.forgotten);

export function encodeSnapRequest(after: Uint8Array, since?: Clock): Uint8Array {
  const w = new Writer(after.length + 64);
  w.u8(MSG.snapRequest);
  w.chunk(after);
  if (since !== undefined) writeClock(w, since);
  return w.finish();
}

export function encodeSnapBegin(clock: Clock, keys: number, heads: readonly Head[], frontier = Clock.empty()): Uint8Array {
  const w = new Writer(64 + heads.length * 120);
  w.u8(MSG.snapBegin);
  writeClock(w, clock);
  w.varint(keys);
  writeHeadList(w, heads);
  writeClock(w, frontier);
  return w.finish();
}

export function encodeSnapChunk(entries: DeltaEntry[]): Uint8Array {
  let size = 16;
  for (const e of entries) size += e.key.length + e.state.length + 10;
  const w = new Writer(size);
  w.u8(MSG.snapChunk);
  writeEntries(w, entries);
  return w.finish();
}

export function writeEntries(w: Writer, entries: readonly DeltaEntry[]): void {
  w.varint(entries.length);
  for (const e of entries) {
    w.chunk(e.key);
    w.chunk(e.state);
  }
}

export function readEntries(rd: Reader): DeltaEntry[] {
  const n = rd.varint();
  if (n > MAX_ENTRIES) rd.fail(`${n} entries exceed the limit ${MAX_ENTRIES}`);
  const entries: DeltaEntry[] = [];
  for (let i = 0; i < n; i++) {
    const key = rd.chunk(MAX_KEY_BYTES);
    if (key.length === 0) rd.fail('empty key');
    entries.push({ key, state: rd.chunk() });
  }
  return entries;
}

function readText(rd: Reader, max: number, what: string): string {
  const raw = rd.chunk(max);
  try {
    return utf8.decode(raw);
  } catch {
    return rd.fail(`${what} is not UTF-8`);
  }
}

export function encodeAck(seq: number): Uint8Array {
  const w = new Writer(10);
  w.u8(MSG.ack);
  w.varint(seq);
  return w.finish();
}

/**
 * ACK(0) on a sync exchange, sent after the sender's END once it has applied every DELTA of the
 * peer's: "I hold everything you sent on this stream". PUSH sequence numbers start at 1.
 */
export const EXCHANGE_ACK_SEQ = 0;
export const EXCHANGE_ACK_MESSAGE = encodeAck(EXCHANGE_ACK_SEQ);

/** Decodes one frame. Throws DecodeError naming what is wrong. Entry bytes are views into `frame`. */
export function decodeMessage(frame: Uint8Array): Message {
  const rd = new Reader(frame, 'sync message');
  const type = rd.u8();
  switch (type) {
    case MSG.digest: {
      const version = rd.u8();
      if (version !== DIGEST_VERSION) rd.fail(`unsupported digest version ${version}`);
      const heard = readHeard(rd);
      const replicaId = rd.hex16();
      const digest = rd.bytes(DIGEST_BYTES).slice();
      const digestAt = rd.varint();
      const clock = readClock(rd);
      const forgotten = readForgotten(rd);
      const frontier = readClock(rd);
      const hash = rd.bytes(16).slice();
      const omitted = rd.chunk(MAX_RETIRED_BITMAP_BYTES).slice();
      const records = readRetiredRecords(rd);
      rd.end();
      return { type, ...(heard === undefined ? {} : { heard }), replicaId, digest, digestAt, clock, forgotten, frontier, retired: { hash, omitted, records } };
    }
    case MSG.digestDelta: {
      const heard = readHeard(rd);
      const core = readCoreDelta(rd);
      const forgotten = readForgotten(rd);
      const records = readRetiredRecords(rd);
      rd.end();
      return { type, ...(heard === undefined ? {} : { heard }), core, forgotten, records };
    }
    case MSG.peers: {
      const n = rd.varint();
      if (n > MAX_PEER_ADDRS) rd.fail(`${n} peer addresses exceed the limit ${MAX_PEER_ADDRS}`);
      const addrs: string[] = [];
      for (let i = 0; i < n; i++) addrs.push(readText(rd, MAX_ADDR_BYTES, 'peer address'));
      rd.end();
      return { type, addrs };
    }
    case MSG.delta:
    case MSG.push: {
      const seq = type === MSG.push ? rd.varint() : 0;
      const claim = readClock(rd);
      const heads = readHeads(rd, MAX_HEADS);
      const entries = readEntries(rd);
      rd.end();
      return { type, seq, claim, entries, heads };
    }
    case MSG.busy: {
      const flag = rd.u8();
      if (flag > 1) rd.fail(`bad BUSY flag ${flag}`);
      rd.end();
      return { type, hasData: flag === 1 };
    }
    case MSG.end:
    case MSG.snapEnd:
    case MSG.verify:
    case MSG.forgotten:
    case MSG.needFull:
      rd.end();
      return { type };
    case MSG.snapRequest: {
      const after = rd.chunk(MAX_KEY_BYTES);
      if (rd.pos === frame.length) return { type, after };
      const since = readClock(rd);
      rd.end();
      return { type, after, since };
    }
    case MSG.snapBegin: {
      const clock = readClock(rd);
      const keys = rd.varint();
      const heads = readHeads(rd, MAX_SNAPSHOT_HEADS);
      const frontier = readClock(rd);
      rd.end();
      return { type, clock, keys, heads, frontier };
    }
    case MSG.snapChunk: {
      const entries = readEntries(rd);
      rd.end();
      return { type, entries };
    }
    case MSG.ack: {
      const seq = rd.varint();
      rd.end();
      return { type, seq };
    }
    default:
      return rd.fail(`unknown message type ${type}`);
  }
}
