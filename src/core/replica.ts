// Replica ids and dots (design note, "Words").
// A replica id is 128 random bits, kept as 32 lowercase hex characters in memory (cheap to compare
// and to use as a map key) and as 16 raw bytes on disk and on the wire.

export type ReplicaId = string;

/** The identity of one write: (replica, counter). Counters start at 1. */
export interface Dot {
  readonly r: ReplicaId;
  readonly c: number;
}

const REPLICA_RE = /^[0-9a-f]{32}$/;

export function isReplicaId(s: unknown): s is ReplicaId {
  return typeof s === 'string' && REPLICA_RE.test(s);
}

/** Total order on dots: by replica id, then counter. Used for canonical sibling order. */
export function compareDots(a: Dot, b: Dot): number {
  if (a.r !== b.r) return a.r < b.r ? -1 : 1;
  return a.c - b.c;
}

export function isCounter(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;
}
