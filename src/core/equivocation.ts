// Equivocation: one dot carrying different contents (value bytes, expiry, HLC) on different nodes.
// An honest replica writes each dot once, so two contents for one dot prove a faulty replica (a
// bug, damage, or a member that told each peer another value). Merge cannot keep both (a dot is
// one sibling), and keeping whichever arrived first leaves nodes apart for good: every node then
// holds its own version at an equal clock, the digests differ forever and heals run in a loop.
// So every node resolves it the same way, whatever the order it heard them in: the content lowest
// in one fixed total order wins, wherever the two meet (a delta, a push, a heal's snapshot). Any
// fixed order converges; this one compares the fields of the encoding, so it costs no hashing.

import type { Dot } from './replica.js';
import type { Sibling } from './key-state.js';

/**
 * A total order on the contents of siblings of one dot: HLC, then tombstone before value, then no
 * expiry before an expiry (earlier first), then the value bytes. Zero exactly for equal contents.
 */
export function compareContent(a: Sibling, b: Sibling): number {
  if (a.hlc !== b.hlc) return a.hlc < b.hlc ? -1 : 1;
  if (a.value === null || b.value === null) return a.value === b.value ? 0 : a.value === null ? -1 : 1;
  const ea = a.exp ?? 0;
  const eb = b.exp ?? 0;
  if (ea !== eb) return ea < eb ? -1 : 1;
  return Buffer.compare(a.value, b.value);
}

/** The content every node keeps for a dot it heard in two versions (the same one on every node). */
export function winner(a: Sibling, b: Sibling): Sibling {
  return compareContent(b, a) < 0 ? b : a;
}

/** The dots both lists hold with different contents: each one proof that its replica equivocated. */
export function equivocations(local: readonly Sibling[], remote: readonly Sibling[]): Dot[] {
  const out: Dot[] = [];
  for (const s of remote) {
    for (const t of local) {
      if (t.r === s.r && t.c === s.c) {
        if (compareContent(s, t) !== 0) out.push({ r: s.r, c: s.c });
        break;
      }
    }
  }
  return out;
}

/**
 * A remote state with this replica's own dots in this node's version: a node never takes another
 * version of a write it made itself (it is the one authority on what it wrote), whatever order
 * would pick. Unchanged (the same object) when there is nothing to replace.
 */
export function keepOwn<S extends { readonly sibs: readonly Sibling[] }>(remote: S, local: readonly Sibling[], self: string): S {
  let out: Sibling[] | undefined;
  remote.sibs.forEach((s, i) => {
    if (s.r !== self) return;
    const mine = local.find((t) => t.c === s.c && t.r === self);
    if (mine === undefined || compareContent(mine, s) === 0) return;
    out ??= [...remote.sibs];
    out[i] = mine;
  });
  return out === undefined ? remote : { ...remote, sibs: out };
}

/**
 * What this replica writes again when a peer held another version of its own write `own`: the
 * same value (and expiry), superseding that dot, so every node ends with the real one under a
 * new dot. A delete, or a value that has expired, is written as a delete: what a read finds here.
 */
export function reassertion(own: Sibling, now: number): { value: Uint8Array | null; exp?: number } {
  if (own.value === null || (own.exp !== undefined && own.exp <= now)) return { value: null };
  return own.exp === undefined ? { value: own.value } : { value: own.value, exp: own.exp };
}
