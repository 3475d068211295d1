// Per-key causal context as a version vector: (replica, max counter) pairs sorted by replica.
// A key's context as a plain version vector is exact for that key's own dots: every dot of replica r
// on key k below the context's counter for r was known to r when it wrote, because r's own state for
// k reflects all of r's earlier writes to k. Dots of other keys that fall below the counter never
// appear as siblings of k, so covering them is harmless.

import type { Dot, ReplicaId } from './replica.js';

export type VersionVector = readonly (readonly [ReplicaId, number])[];

export const EMPTY_VV: VersionVector = [];

export function vvGet(vv: VersionVector, r: ReplicaId): number {
  for (const [id, c] of vv) if (id === r) return c;
  return 0;
}

export function vvCovers(vv: VersionVector, dot: Dot): boolean {
  return vvGet(vv, dot.r) >= dot.c;
}

/** Pointwise maximum; the result is sorted by replica id. */
export function vvUnion(a: VersionVector, b: VersionVector): VersionVector {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: (readonly [ReplicaId, number])[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x[0] < y[0])) {
      out.push(x!);
      i++;
    } else if (x === undefined || y[0] < x[0]) {
      out.push(y);
      j++;
    } else {
      out.push(x[1] >= y[1] ? x : y);
      i++;
      j++;
    }
  }
  return out;
}

export function vvWithDot(vv: VersionVector, dot: Dot): VersionVector {
  return vvUnion(vv, [[dot.r, dot.c]]);
}

export function vvEquals(a: VersionVector, b: VersionVector): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]![0] !== b[i]![0] || a[i]![1] !== b[i]![1]) return false;
  return true;
}
