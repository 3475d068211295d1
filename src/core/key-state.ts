// Key state, local write, merge and the resolver (design note, "Operations").
// A key state is (context, siblings): the context holds every dot the state reflects, the siblings
// are the live writes among them. One sibling is the common case; several mean concurrent writes.
// A tombstone is a sibling whose value is null; a value may carry an expiry, after which it reads
// as absent. All functions are pure (time comes in as a value) and return canonical states
// (siblings sorted by dot), so equal knowledge gives byte-equal encodings and equal digests.

import { winner } from './equivocation.js';
import { compareDots, type Dot, type ReplicaId } from './replica.js';
import { vvCovers, vvUnion, vvWithDot, type VersionVector } from './version-vector.js';

export interface Sibling {
  readonly r: ReplicaId;
  readonly c: number;
  /** Hybrid logical clock timestamp of the write; orders concurrent siblings for the resolver. */
  readonly hlc: number;
  /** The value, or null for a delete (tombstone). */
  readonly value: Uint8Array | null;
  /** When the value expires (ms since the epoch); absent for a value that does not. Never on a tombstone. */
  readonly exp?: number;
}

export interface KeyState {
  readonly ctx: VersionVector;
  readonly sibs: readonly Sibling[];
}

/**
 * A local write at `dot` with the causal context the client read (default: the key's current
 * context). Siblings the context covers are superseded; the others stay as concurrent siblings.
 */
export function localWrite(
  old: KeyState | undefined,
  dot: Dot,
  hlc: number,
  value: Uint8Array | null,
  readCtx?: VersionVector,
  exp?: number,
): KeyState {
  const seen = readCtx ?? old?.ctx ?? [];
  const sibs: Sibling[] = [];
  for (const s of old?.sibs ?? []) if (!vvCovers(seen, s)) sibs.push(s);
  sibs.push(value !== null && exp !== undefined ? { r: dot.r, c: dot.c, hlc, value, exp } : { r: dot.r, c: dot.c, hlc, value });
  sibs.sort(compareDots);
  return { ctx: vvWithDot(vvUnion(old?.ctx ?? [], seen), dot), sibs };
}

/**
 * Join of two states of the same key. Keep local siblings the remote state still holds or has not
 * seen; add remote siblings the local context has not seen. Commutative, associative, idempotent.
 * A dot both hold with different contents (equivocation.ts) keeps the same one of the two on
 * every node, so nodes that heard different versions converge.
 */
export function merge(local: KeyState | undefined, remote: KeyState): KeyState {
  if (local === undefined) return remote;
  const sibs: Sibling[] = [];
  for (const s of local.sibs) {
    const twin = findDot(remote.sibs, s);
    if (twin !== undefined) sibs.push(winner(s, twin));
    else if (!vvCovers(remote.ctx, s)) sibs.push(s);
  }
  for (const s of remote.sibs) {
    if (!vvCovers(local.ctx, s)) sibs.push(s);
  }
  sibs.sort(compareDots);
  return { ctx: vvUnion(local.ctx, remote.ctx), sibs: dedupe(sibs) };
}

/**
 * The sibling a plain read at `now` (ms) returns, or undefined when the key reads as absent.
 * Values beat tombstones: a delete removes the writes it saw, and a put concurrent with it
 * survives (observed-remove, as in Redis Active-Active). That is also what makes collecting a
 * tombstone invisible to reads. Expired values count as absent. Among the rest: highest HLC
 * timestamp, ties broken by replica id, then counter. Deterministic, so every replica agrees.
 */
export function resolve(state: KeyState, now: number): Sibling | undefined {
  let best: Sibling | undefined;
  for (const s of state.sibs) {
    if (s.value === null || (s.exp !== undefined && s.exp <= now)) continue;
    if (best === undefined || s.hlc > best.hlc || (s.hlc === best.hlc && compareDots(s, best) > 0)) best = s;
  }
  return best;
}

/** Does a plain read at `now` find a value (not absent, deleted or expired)? */
export function isLive(state: KeyState | undefined, now: number): boolean {
  return state !== undefined && resolve(state, now) !== undefined;
}

function findDot(sibs: readonly Sibling[], d: Dot): Sibling | undefined {
  for (const s of sibs) if (s.r === d.r && s.c === d.c) return s;
  return undefined;
}

/** Sorted input: one sibling per dot (a dot reached us by two paths), the same one whatever the order. */
function dedupe(sibs: Sibling[]): Sibling[] {
  const out: Sibling[] = [];
  for (const s of sibs) {
    const last = out[out.length - 1];
    if (last !== undefined && compareDots(last, s) === 0) out[out.length - 1] = winner(last, s);
    else out.push(s);
  }
  return out;
}
