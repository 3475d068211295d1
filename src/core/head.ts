// Self-certifying replica ids and signed heads (threat model, "Counters a replica signed").
//
// A replica id is the first 16 bytes of SHA-256 over the replica's Ed25519 public key, made with the
// data directory; the private key never leaves it. A head (r, c) is r's signature over "my counters
// reach c". A peer may send a counter, context entry or claim of replica r only as high as the newest
// head of r the receiver has verified: one member cannot raise another replica's counters (to 2^53,
// or past writes it has not made yet), only its own. Signing is per push batch or exchange, not per
// write. node:crypto does the Ed25519 work: a library in JavaScript would be slower.

import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { keyPairOfSeed, newSeed, publicKeyOf } from './ed25519.js';
import { Reader, Writer } from './bytes.js';
import type { ReplicaId } from './replica.js';
import { DecodeError } from '../errors.js';

export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
/** Heads a receiver takes from one DELTA or PUSH (docs/protocol.md, "Limits"); a sender splits past it. */
export const MAX_FRAME_HEADS = 4096;
/** The highest counter a head (and so any dot) may carry; a replica this close moves to a fresh id. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER - 1;

export interface Head {
  readonly r: ReplicaId;
  /** Every counter of r up to here was issued by r (the highest counter it signed for). */
  readonly c: number;
  /** r's Ed25519 public key, raw (32 bytes): its SHA-256 names r. */
  readonly key: Uint8Array;
  readonly sig: Uint8Array;
}

/** A replica's signing key, as kept in its store. */
export interface ReplicaKey {
  readonly r: ReplicaId;
  readonly publicKey: Uint8Array;
  readonly privateKey: KeyObject;
}

const HEAD_LABEL = Buffer.from('replikv head v1\0');

export function replicaIdOf(publicKey: Uint8Array): ReplicaId {
  return createHash('sha256').update(publicKey).digest().subarray(0, 16).toString('hex');
}

/** A new replica: its key pair and the id derived from it. `seed` is the private key to keep (32 bytes). */
export function newReplicaKey(): { key: ReplicaKey; seed: Uint8Array } {
  const seed = newSeed();
  return { key: replicaKeyFromSeed(seed), seed };
}

export function replicaKeyFromSeed(seed: Uint8Array): ReplicaKey {
  if (seed.length !== 32) throw new DecodeError(`a replica key is 32 bytes, not ${seed.length}`);
  const { privateKey, publicKey } = keyPairOfSeed(seed);
  return { r: replicaIdOf(publicKey), publicKey, privateKey };
}

function signedBytes(r: ReplicaId, c: number): Buffer {
  const b = Buffer.alloc(HEAD_LABEL.length + 16 + 8);
  HEAD_LABEL.copy(b);
  b.write(r, HEAD_LABEL.length, 'hex');
  b.writeBigUInt64BE(BigInt(c), HEAD_LABEL.length + 16);
  return b;
}

export function signHead(key: ReplicaKey, c: number): Head {
  return { r: key.r, c, key: key.publicKey, sig: new Uint8Array(sign(null, signedBytes(key.r, c), key.privateKey)) };
}

const publicKeys = new Map<ReplicaId, KeyObject>();

/** Does the head name its key's replica, within the counter limit, with a good signature? */
export function headIsValid(h: Head): boolean {
  if (h.c < 1 || h.c > MAX_COUNTER || replicaIdOf(h.key) !== h.r) return false;
  let pub = publicKeys.get(h.r);
  if (pub === undefined) {
    pub = publicKeyOf(h.key);
    if (publicKeys.size < 4096) publicKeys.set(h.r, pub);
  }
  return verify(null, signedBytes(h.r, h.c), pub, h.sig);
}

export function writeHead(w: Writer, h: Head): void {
  w.bytes(Buffer.from(h.r, 'hex'));
  w.varint(h.c);
  w.bytes(h.key);
  w.bytes(h.sig);
}

export function readHead(rd: Reader): Head {
  const r = rd.hex16();
  const c = rd.varint();
  const key = rd.bytes(PUBLIC_KEY_BYTES).slice();
  const sig = rd.bytes(SIGNATURE_BYTES).slice();
  return { r, c, key, sig };
}

export function encodeHeads(heads: Iterable<Head>): Uint8Array {
  const list = [...heads];
  const w = new Writer(8 + list.length * 120);
  w.varint(list.length);
  for (const h of list) writeHead(w, h);
  return w.finish();
}

export function readHeads(rd: Reader, max: number): Head[] {
  const n = rd.varint();
  if (n > max) rd.fail(`${n} heads exceed the limit ${max}`);
  const out: Head[] = [];
  for (let i = 0; i < n; i++) out.push(readHead(rd));
  return out;
}

export function decodeHeads(buf: Uint8Array, max = 1 << 20): Head[] {
  const rd = new Reader(buf, 'heads record');
  const out = readHeads(rd, max);
  rd.end();
  return out;
}
