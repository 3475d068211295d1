// The framing shared by the backup stream (POST /v1/backup/stream, docs/control-api.md) and the
// chunk files of a repository: frames of a 4-byte big-endian length, then the bytes.
//
// The stream is HEAD, then sync-protocol DELTA frames (docs/protocol.md: claim, then key states),
// then END. HEAD carries the snapshot's summary, so the backup records exactly the state it holds.
// A chunk file is a run of the same DELTA frames, so the client stores frames without decoding them.

import { Reader, Writer } from '../core/bytes.js';
import { Clock } from '../core/clock.js';
import { readClock, writeClock } from '../core/codec.js';
import type { DeltaChunk } from '../core/delta.js';
import { readHeads } from '../core/head.js';
import { DIGEST_BYTES } from '../core/digest.js';
import { decodeMessage, encodeEntries, END_MESSAGE, MSG } from '../sync/messages.js';
import { DecodeError } from '../errors.js';

/** Clear of the sync protocol's message types, so a stream cannot be mistaken for one. */
export const HEAD_TYPE = 0x80;
/** 2 added the node's GC frontier (1 is still read, as a node that collected nothing). */
const HEAD_VERSION = 2;
/** Generous: a frame holds at most 1 MiB of states plus one value up to the node's limit. */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

export interface StreamHead {
  clock: Clock;
  /** State digest of the snapshot, hex. */
  digest: string;
  /** Live keys in the snapshot. */
  keys: number;
  /** The node's GC frontier: the deletes it may have collected, which no change can carry any more. */
  frontier: Clock;
}

export function encodeHead(h: StreamHead): Uint8Array {
  const w = new Writer(64);
  w.u8(HEAD_TYPE);
  w.u8(HEAD_VERSION);
  w.bytes(Buffer.from(h.digest, 'hex'));
  w.varint(h.keys);
  writeClock(w, h.clock);
  writeClock(w, h.frontier);
  return w.finish();
}

export function decodeHead(frame: Uint8Array): StreamHead {
  const rd = new Reader(frame, 'backup stream head');
  if (rd.u8() !== HEAD_TYPE) rd.fail('the stream does not start with a head frame');
  const version = rd.u8();
  if (version !== 1 && version !== HEAD_VERSION) rd.fail(`unknown backup stream version ${version}`);
  const digest = Buffer.from(rd.bytes(DIGEST_BYTES)).toString('hex');
  const keys = rd.varint();
  const clock = readClock(rd);
  const frontier = version === 1 ? Clock.empty() : readClock(rd);
  rd.end();
  return { clock, digest, keys, frontier };
}

export const encodeChunk = (chunk: DeltaChunk): Uint8Array => encodeEntries(MSG.delta, chunk);
export const END_FRAME = END_MESSAGE;
export const isEnd = (frame: Uint8Array): boolean => frame.length === 1 && frame[0] === MSG.end;

/** Decodes a DELTA frame; anything else is a DecodeError. */
export function decodeChunk(frame: Uint8Array): DeltaChunk {
  const m = decodeMessage(frame);
  if (m.type !== MSG.delta) throw new DecodeError(`expected a delta frame, got message type ${m.type}`);
  return { entries: m.entries, claim: m.claim, heads: m.heads };
}

/**
 * The key-state count of a DELTA frame, read from its header only (the claim, the heads, then the count):
 * `backup create` stores frames unchanged, and verify and restore decode them in full.
 */
export function chunkEntryCount(frame: Uint8Array): number {
  const rd = new Reader(frame, 'backup stream frame');
  const type = rd.u8();
  if (type !== MSG.delta) rd.fail(`expected a delta frame, got message type ${type}`);
  readClock(rd);
  readHeads(rd, Number.MAX_SAFE_INTEGER);
  return rd.varint();
}

/** The 4-byte length prefix of a frame. */
export function prefix(frame: Uint8Array): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(frame.length);
  return p;
}

/** Splits bytes (arriving in any pieces) into frames; a frame's pieces are joined once, when it is whole. */
export class FrameSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  private need = -1; // body length of the frame in progress, once its prefix is in

  *push(data: Uint8Array): Generator<Buffer> {
    this.parts.push(Buffer.from(data.buffer, data.byteOffset, data.length));
    this.held += data.length;
    for (;;) {
      if (this.need < 0) {
        if (this.held < 4) return;
        if (this.parts[0]!.length < 4) this.parts = [Buffer.concat(this.parts, this.held)];
        this.need = this.parts[0]!.readUInt32BE(0);
        if (this.need > MAX_FRAME_BYTES) throw new DecodeError(`a frame of ${this.need} bytes exceeds the limit ${MAX_FRAME_BYTES}`);
      }
      const end = 4 + this.need;
      if (this.held < end) return;
      const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.held);
      yield buf.subarray(4, end);
      this.parts = this.held === end ? [] : [buf.subarray(end)];
      this.held -= end;
      this.need = -1;
    }
  }

  /** True when bytes of an unfinished frame remain. */
  get partial(): boolean {
    return this.held > 0;
  }
}

/** Every frame of a complete buffer (a chunk file); a truncated tail is a DecodeError. */
export function splitFrames(buf: Uint8Array): Buffer[] {
  const s = new FrameSplitter();
  const frames = [...s.push(buf)];
  if (s.partial) throw new DecodeError('the data ends inside a frame');
  return frames;
}
