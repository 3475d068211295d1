// Real replicas for tests that build key states by hand: ids derived from Ed25519 keys, with signed
// heads, so a keyspace believes their counters as it would a peer's (core/head.ts).
import { generateKeyPairSync } from 'node:crypto';
import { PUBLIC_KEY_BYTES, replicaIdOf, signHead, type Head, type ReplicaKey } from '../../src/core/head.js';
import type { ReplicaId } from '../../src/core/replica.js';

export interface TestReplica {
  readonly r: ReplicaId;
  readonly key: ReplicaKey;
  /** The replica's signed head at counter c. */
  head(c: number): Head;
}

export function testReplica(): TestReplica {
  // the key pair alone (no seed exported and imported again, as a store does): tests mint thousands
  const { publicKey: pub, privateKey } = generateKeyPairSync('ed25519');
  // the raw key ends the SPKI DER (a JWK export hung the process after some ten thousand keys)
  const publicKey = new Uint8Array(pub.export({ format: 'der', type: 'spki' }).subarray(-PUBLIC_KEY_BYTES));
  const key: ReplicaKey = { r: replicaIdOf(publicKey), publicKey, privateKey };
  return { r: key.r, key, head: (c) => signHead(key, c) };
}

/** n replicas, sorted by id (the order contexts list them in). */
export function testReplicas(n: number): TestReplica[] {
  return Array.from({ length: n }, testReplica).sort((a, b) => (a.r < b.r ? -1 : 1));
}
