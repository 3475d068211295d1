// Real replicas for tests that build key states by hand: ids derived from Ed25519 keys, with signed
// heads, so a keyspace believes their counters as it would a peer's (core/head.ts).
import { newReplicaKey, signHead, type Head, type ReplicaKey } from '../../src/core/head.js';
import type { ReplicaId } from '../../src/core/replica.js';

export interface TestReplica {
  readonly r: ReplicaId;
  readonly key: ReplicaKey;
  /** The replica's signed head at counter c. */
  head(c: number): Head;
}

export function testReplica(): TestReplica {
  const { key } = newReplicaKey();
  return { r: key.r, key, head: (c) => signHead(key, c) };
}

/** n replicas, sorted by id (the order contexts list them in). */
export function testReplicas(n: number): TestReplica[] {
  return Array.from({ length: n }, testReplica).sort((a, b) => (a.r < b.r ? -1 : 1));
}
