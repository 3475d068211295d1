// Delta selection and application (design note, "Delta for a peer" and "Cutting a delta").
//
// Given a peer's node clock P, the delta is every key holding a live dot P does not know, plus a
// claim: the dots the receiver may add to its clock once it has merged the keys. We walk each
// replica's live dots in counter order through the dot index and cut into chunks of bounded size.
// Each chunk's claim is the sender's clock restricted to the counter ranges walked *in that chunk*,
// so every chunk is self-contained: applied alone, out of order, twice, or with its neighbours
// lost, it never makes the receiver's clock cover a live dot whose key it did not carry. A lost
// chunk leaves a gap in the receiver's clock, which its next digest exposes and the next delta fills.

import { Clock } from './clock.js';
import { DecodeError } from '../errors.js';
import { encodeKeyState, siblingCount } from './codec.js';
import type { Head } from './head.js';
import { merge, type KeyState } from './key-state.js';
import type { ReplicaId } from './replica.js';

/** What delta selection reads; one consistent snapshot of the sender's store. */
export interface DeltaSource {
  /** The sender's node clock in the same snapshot. */
  readonly clock: Clock;
  /** Live dots of replica r with counter > after, in counter order, with their keys. */
  dotsAfter(r: ReplicaId, after: number): Iterable<{ readonly c: number; readonly key: Uint8Array }>;
  /** The encoded state of a key. */
  state(key: Uint8Array): Uint8Array | undefined;
}

export interface DeltaEntry {
  readonly key: Uint8Array;
  /** Encoded key state (see codec.ts). */
  readonly state: Uint8Array;
}

export interface DeltaChunk {
  readonly entries: DeltaEntry[];
  /** Dots the receiver knows after merging `entries`. */
  readonly claim: Clock;
  /** Signed heads that vouch for the counters the chunk names (head.ts); the receiver keeps the newest. */
  readonly heads?: readonly Head[];
}

export interface DeltaLimits {
  /** Cut a chunk when its keys and states reach this many bytes (a single larger entry still goes). */
  readonly maxBytes: number;
  /** Cut a chunk at this many entries. */
  readonly maxEntries: number;
}

export const DEFAULT_DELTA_LIMITS: DeltaLimits = { maxBytes: 1 << 20, maxEntries: 4096 };

/** Yields the delta for a peer whose clock is `peer`, in bounded, self-contained chunks. */
export function* selectDelta(
  src: DeltaSource,
  peer: Clock,
  limits: DeltaLimits = DEFAULT_DELTA_LIMITS,
): Generator<DeltaChunk> {
  let entries: DeltaEntry[] = [];
  let seen = new Set<string>();
  let bytes = 0;
  let claim = Clock.empty();

  for (const r of src.clock.replicas()) {
    let segmentStart = peer.base(r);
    if (src.clock.max(r) <= segmentStart) continue;
    for (const { c, key } of src.dotsAfter(r, segmentStart)) {
      if (peer.covers(r, c)) continue;
      if (entries.length >= limits.maxEntries || bytes >= limits.maxBytes) {
        claimSlice(claim, src.clock, r, segmentStart, c - 1);
        yield { entries, claim };
        entries = [];
        seen = new Set();
        bytes = 0;
        claim = Clock.empty();
        segmentStart = c - 1;
      }
      const state = src.state(key);
      if (state === undefined) continue; // index and states disagree: nothing to send for this dot
      // A key with several siblings is listed once per live dot; send it once a chunk.
      if (siblingCount(state) > 1) {
        const id = Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
        if (seen.has(id)) continue;
        seen.add(id);
      }
      entries.push({ key, state });
      bytes += key.length + state.length;
    }
    claimSlice(claim, src.clock, r, segmentStart, Number.MAX_SAFE_INTEGER);
  }
  if (entries.length > 0 || !claim.isEmpty()) yield { entries, claim };
}

/** Cuts a stream of entries (a key-ordered snapshot) into chunks within the limits; claims are left empty. */
export function* chunkEntries(entries: Iterable<DeltaEntry>, limits: DeltaLimits = DEFAULT_DELTA_LIMITS): Generator<DeltaChunk> {
  let chunk: DeltaEntry[] = [];
  let bytes = 0;
  for (const e of entries) {
    chunk.push(e);
    bytes += e.key.length + e.state.length;
    if (chunk.length >= limits.maxEntries || bytes >= limits.maxBytes) {
      yield { entries: chunk, claim: Clock.empty() };
      chunk = [];
      bytes = 0;
    }
  }
  if (chunk.length > 0) yield { entries: chunk, claim: Clock.empty() };
}

/**
 * The part of a claim a receiver may believe: per replica, only up to the highest counter its own
 * states' contexts name (`seen`, which includes what the chunk just merged). An honest claim never
 * goes further: a dot the sender knows is live in a state it sends or superseded by one whose
 * context covers it, and contexts only grow. A claim beyond it (a DELTA claiming writes it does not
 * carry) would hide those writes for good; cut, it leaves a gap the next digest asks for again.
 */
export function evidencedClaim(claim: Clock, seen: (r: ReplicaId) => number): Clock {
  let cut: Clock | undefined;
  for (const r of claim.replicas()) {
    const limit = seen(r);
    if (claim.max(r) <= limit) continue;
    cut ??= claim.clone();
    cut.drop(r);
    for (const [from, to] of claim.slice(r, 0, limit)) cut.addRange(r, from, to);
  }
  return cut ?? claim;
}

function claimSlice(claim: Clock, clock: Clock, r: ReplicaId, lo: number, hi: number): void {
  for (const [from, to] of clock.slice(r, lo, hi)) claim.addRange(r, from, to);
}

/**
 * Merges a remote key state into an existing local one: the merged state's canonical encoding, or
 * null when the remote state adds nothing (duplicates and old news cost no write).
 */
export function mergeEntry(local: KeyState, localBytes: Uint8Array, remote: KeyState): Uint8Array | null {
  const state = merge(local, remote);
  // Only states no real history can produce cancel each other out; refuse them rather than store
  // a key with no value and no tombstone.
  if (state.sibs.length === 0) throw new DecodeError('inconsistent key state: the merge leaves no siblings');
  const bytes = encodeKeyState(state);
  return Buffer.compare(bytes, localBytes) === 0 ? null : bytes;
}
