// The per-store summary kept in one meta record, so one read gives a consistent (clock, digest,
// count, hlc) and one write per transaction keeps it in step with the key states it describes.
// Format: u8 version | digest:16 | count:varint | hlc:varint | clock (codec.ts)
//         | varint nSeen | nSeen × (replica:16 | counter:varint)      (version 2; replicas ascending)
//         | tombstones:varint | frontier:clock                          (version 3: garbage collection)
// A store of version 1 or 2 is recounted at open (Keyspace.open): its digest hashed whole states.
// The digest's cutoff time (state-hash.ts) is a record of its own, META_DIGEST_AT, written only when
// it moves; a store without it digested no expiring value, and is brought to a cutoff at open.
// The replica's own counter is not stored separately: it is the base of its own entry in the clock,
// because every dot a replica issues is known to it the moment it is written.

import { Reader, Writer } from '../core/bytes.js';
import { Clock } from '../core/clock.js';
import type { ReplicaId } from '../core/replica.js';
import { readClock, writeClock } from '../core/codec.js';
import { DIGEST_BYTES, Digest } from '../core/digest.js';
import { LASTING_ONLY } from './state-hash.js';

const META_VERSION = 3;

export const META_REPLICA = 'replica';
export const META_STATE = 'state';
/** The replica's Ed25519 private key (32 bytes): its id is derived from the public half. */
export const META_REPLICA_KEY = 'replica-key';
/** The replica ids whose heads are kept (one record per head: headRecord). */
export const META_HEADS = 'heads';
export const headRecord = (r: ReplicaId): string => `head:${r}`;
/**
 * Set by `replikv restore` (the time, as text), emptied once the node caught up: this store lacks what
 * happened after its backup, so it may take a peer's GC frontier on its word (sync/catch-up.ts).
 */
export const META_RESTORED = 'restored';
/** The cutoff (ms) the stored digest is taken at: values expiring after it count (varint). */
export const META_DIGEST_AT = 'digest-at';

export interface StoreState {
  clock: Clock;
  digest: Digest;
  /** Keys a plain read finds (not absent, not deleted). */
  count: number;
  /** Highest hybrid-logical-clock timestamp issued or seen. */
  hlc: number;
  /**
   * Per replica, the highest counter any stored key state's context names (at least the clock's
   * highest): the evidence a claim must fall under (delta.ts, evidencedClaim). Shared between
   * states until a transaction raises it (then copied).
   */
  seen: ReadonlyMap<ReplicaId, number>;
  /** Tombstone siblings held (each has a GC-index entry). */
  tombstones: number;
  /**
   * The GC frontier: the stable clock of the last collection, only ever growing (core/gc.ts). A
   * peer whose clock lacks part of it gets no delta; a remote sibling under it that this store
   * does not hold was collected here and is not taken back.
   */
  frontier: Clock;
  /**
   * The cutoff of `digest` (ms since the epoch): it covers every value that lasts or expires after
   * this (state-hash.ts). Not part of this record (META_DIGEST_AT); moved forward by garbage
   * collection before it collects expired values, so collecting never changes the digest.
   */
  digestAt: number;
}

/** The format version of an encoded store state (below 3: made before garbage collection). */
export function storeStateVersion(buf: Uint8Array): number {
  return buf[0] ?? 0;
}

export function encodeStoreState(s: StoreState): Uint8Array {
  const w = new Writer(64);
  w.u8(META_VERSION);
  w.bytes(s.digest.bytes);
  w.varint(s.count);
  w.varint(s.hlc);
  writeClock(w, s.clock);
  const seen = [...s.seen].sort(([a], [b]) => (a < b ? -1 : 1));
  w.varint(seen.length);
  for (const [r, c] of seen) {
    w.bytes(Buffer.from(r, 'hex'));
    w.varint(c);
  }
  w.varint(s.tombstones);
  writeClock(w, s.frontier);
  return w.finish();
}

export function decodeStoreState(buf: Uint8Array): StoreState {
  const rd = new Reader(buf, 'store state record');
  const version = rd.u8();
  if (version < 1 || version > META_VERSION) rd.fail(`unknown store format ${version}`);
  const digest = new Digest(rd.bytes(DIGEST_BYTES));
  const count = rd.varint();
  const hlc = rd.varint();
  const clock = readClock(rd);
  const seen = new Map<ReplicaId, number>();
  if (version === 1) {
    // before contexts were checked, the clock was believed: it is what this store has seen
    for (const r of clock.replicas()) seen.set(r, clock.max(r));
  } else {
    const n = rd.varint();
    for (let i = 0; i < n; i++) {
      const r = rd.hex16();
      seen.set(r, rd.varint());
    }
  }
  const tombstones = version >= 3 ? rd.varint() : 0;
  const frontier = version >= 3 ? readClock(rd) : Clock.empty();
  rd.end();
  return { clock, digest, count, hlc, seen, tombstones, frontier, digestAt: LASTING_ONLY };
}

export function encodeDigestAt(at: number): Uint8Array {
  const w = new Writer(10);
  w.varint(at);
  return w.finish();
}

export function decodeDigestAt(buf: Uint8Array): number {
  const rd = new Reader(buf, 'digest cutoff record');
  const at = rd.varint();
  rd.end();
  return at;
}
