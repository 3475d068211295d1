// The per-store summary kept in one meta record, so one read gives a consistent (clock, digest,
// count, hlc) and one write per transaction keeps it in step with the key states it describes.
// Format: u8 version | digest:16 | count:varint | hlc:varint | clock (codec.ts).
// The replica's own counter is not stored separately: it is the base of its own entry in the clock,
// because every dot a replica issues is known to it the moment it is written.

import { Reader, Writer } from '../core/bytes.js';
import type { Clock } from '../core/clock.js';
import { readClock, writeClock } from '../core/codec.js';
import { DIGEST_BYTES, Digest } from '../core/digest.js';

const META_VERSION = 1;

export const META_REPLICA = 'replica';
export const META_STATE = 'state';

export interface StoreState {
  clock: Clock;
  digest: Digest;
  /** Keys a plain read finds (not absent, not deleted). */
  count: number;
  /** Highest hybrid-logical-clock timestamp issued or seen. */
  hlc: number;
}

export function encodeStoreState(s: StoreState): Uint8Array {
  const w = new Writer(64);
  w.u8(META_VERSION);
  w.bytes(s.digest.bytes);
  w.varint(s.count);
  w.varint(s.hlc);
  writeClock(w, s.clock);
  return w.finish();
}

export function decodeStoreState(buf: Uint8Array): StoreState {
  const rd = new Reader(buf, 'store state record');
  const version = rd.u8();
  if (version !== META_VERSION) rd.fail(`unknown store format ${version}`);
  const digest = new Digest(rd.bytes(DIGEST_BYTES));
  const count = rd.varint();
  const hlc = rd.varint();
  const clock = readClock(rd);
  rd.end();
  return { clock, digest, count, hlc };
}
