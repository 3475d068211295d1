// Which signed heads a frame needs, on either side (threat model, "Heads are kept only with evidence").
//
// A head matters only for a replica whose counters a frame names: in its states' contexts (which
// cover their siblings' dots) or in its claim. A sender attaches just those heads, so a receiver's
// limit on heads per frame is never reached because of replicas the frame does not carry. A receiver
// verifies a head only when the frame's states name that replica past the newest head it holds
// already: a head that vouches for nothing the frame carries costs it no signature check, and a
// flood of minted replicas' heads buys a member nothing. Pure: the store and the replicator apply it.

import { Reader } from './bytes.js';
import { Clock } from './clock.js';
import type { DeltaChunk, DeltaEntry } from './delta.js';
import type { Head } from './head.js';
import type { ReplicaId } from './replica.js';

/**
 * The highest counter each replica is named with in the entries' contexts. States are not trusted
 * yet: one that does not parse names nothing here (the store refuses it whole when it applies it).
 */
export function namedCounters(entries: readonly DeltaEntry[]): Map<ReplicaId, number> {
  const out = new Map<ReplicaId, number>();
  let last: Uint8Array | undefined;
  let lastId = '';
  for (const { state } of entries) {
    try {
      const rd = new Reader(state, 'key state');
      rd.u8(); // version: checked when the state is applied
      const n = rd.varint();
      for (let i = 0; i < n; i++) {
        const id = rd.bytes(16);
        const c = rd.varint();
        // runs of states name the same replica: its hex is made once per run
        if (last === undefined || Buffer.compare(id, last) !== 0) {
          last = id;
          lastId = Buffer.from(id).toString('hex');
        }
        if (c > (out.get(lastId) ?? 0)) out.set(lastId, c);
      }
    } catch {
      // malformed: refused later, with the reason
    }
  }
  return out;
}

/**
 * The heads of a received frame to verify before its states are applied: per replica its states
 * name past `held` (the newest head already verified of it), the frame's highest head of it, if
 * that is newer than the one held. Never a head of `self`, never two of one replica, never one of
 * a replica the states do not name (a claim is cut to what states show, so it needs none verified).
 */
export function headsToCheck(heads: readonly Head[], named: ReadonlyMap<ReplicaId, number>, held: (r: ReplicaId) => number, self: ReplicaId): Head[] {
  const best = new Map<ReplicaId, Head>();
  for (const h of heads) {
    if (h.r === self) continue;
    const c = named.get(h.r);
    if (c === undefined) continue;
    const top = held(h.r);
    if (c <= top || h.c <= top) continue;
    const prev = best.get(h.r);
    if (prev === undefined || h.c > prev.c) best.set(h.r, h);
  }
  return [...best.values()];
}

/**
 * The heads a sender attaches to a frame whose states name `named` and whose claim is `claim`: for
 * each replica either names, its newest head (`headOf`) when newer than what the receiver holds of
 * it (`peerMax`; 0 when unknown, as for a push).
 */
export function headsToSend(named: ReadonlyMap<ReplicaId, number>, claim: Clock, headOf: (r: ReplicaId) => Head | undefined, peerMax: (r: ReplicaId) => number): Head[] {
  const out: Head[] = [];
  const add = (r: ReplicaId): void => {
    const h = headOf(r);
    if (h !== undefined && h.c > peerMax(r)) out.push(h);
  };
  for (const r of named.keys()) add(r);
  for (const r of claim.replicas()) if (!named.has(r)) add(r);
  return out;
}

/**
 * `chunk` with `heads`, as frames that each carry at most `max` heads (the receiver's limit per
 * frame). A member writing once as each of thousands of minted replicas made every chunk that
 * named them carry more heads than a receiver takes, so a peer could never catch up. Split, the
 * states go first in groups whose replicas' heads fit, with no claim; then the claim, in parts of
 * at most `max` replicas that need a head (the rest with the first part). All the states reach the
 * receiver before any part of the claim, as in the one chunk, so no part claims a write it has not
 * been sent. A single state naming more than `max` such replicas goes alone (the receiver refuses it).
 */
export function splitByHeads(chunk: DeltaChunk, heads: readonly Head[], max: number): DeltaChunk[] {
  if (heads.length <= max) return [heads.length > 0 ? { ...chunk, heads: [...heads] } : chunk];
  const headOf = new Map(heads.map((h) => [h.r, h] as [ReplicaId, Head]));
  const out: DeltaChunk[] = [];
  let entries: DeltaEntry[] = [];
  let named = new Set<ReplicaId>();
  const flush = (): void => {
    if (entries.length > 0) out.push({ entries, claim: Clock.empty(), heads: [...named].map((r) => headOf.get(r)!) });
    entries = [];
    named = new Set();
  };
  for (const e of chunk.entries) {
    const needs = [...namedCounters([e]).keys()].filter((r) => headOf.has(r));
    if (named.size + needs.filter((r) => !named.has(r)).length > max) flush();
    for (const r of needs) named.add(r);
    entries.push(e);
  }
  flush();
  const needing = chunk.claim.replicas().filter((r) => headOf.has(r));
  const plain = chunk.claim.replicas().filter((r) => !headOf.has(r));
  for (let i = 0; i === 0 || i < needing.length; i += max) {
    const part = needing.slice(i, i + max);
    const replicas = i === 0 ? [...part, ...plain] : part;
    const claim = Clock.fromIntervals(replicas.flatMap((r) => chunk.claim.runs(r).map(([a, b]) => [r, a, b] as [ReplicaId, number, number])));
    out.push({ entries: [], claim, heads: part.map((r) => headOf.get(r)!) });
  }
  return out;
}

