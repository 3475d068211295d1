// Operator-signed forgets (threat model, "Forgotten peers"). A forget that travels to other nodes
// is a record (peer, at) signed with an operator's Ed25519 key; every node is configured with the
// public halves it obeys (config `operatorKeys`). A member holding the swarm key has no operator
// key, so it cannot make other nodes cut off an honest peer; a forget without a signature stays on
// the node where the operator ran it. This module is pure: encode, sign, verify, and the decision
// on a received record. The keys: `replikv keygen --operator` makes a pair; the private half stays
// with the operator (the CLI signs, `replikv forget PEER --sign-key FILE`), never in a data dir.

import { sign, verify, type KeyObject } from 'node:crypto';
import { keyPairOfSeed, newSeed, publicKeyOf } from './ed25519.js';
import { Reader, Writer } from './bytes.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './head.js';
import { DecodeError } from '../errors.js';

export interface ForgetRecord {
  /** The forgotten PeerId (its text form). */
  readonly peer: string;
  /** When the operator forgot it (ms since the epoch): it is refused for the retention after that. */
  readonly at: number;
  /** The operator's Ed25519 public key, raw (32 bytes). */
  readonly key: Uint8Array;
  readonly sig: Uint8Array;
}

/** A PeerId's text is at most this long on the wire (an Ed25519 or RSA PeerId is far shorter). */
export const MAX_FORGET_PEER_BYTES = 128;

const LABEL = Buffer.from('replikv forget v1\0');

/** The bytes an operator signs: a label (so no other signature of that key can pass), the peer, the time. */
export function forgetSignedBytes(peer: string, at: number): Buffer {
  const id = Buffer.from(peer, 'utf8');
  const b = Buffer.alloc(LABEL.length + 2 + id.length + 8);
  LABEL.copy(b);
  b.writeUInt16BE(id.length, LABEL.length);
  id.copy(b, LABEL.length + 2);
  b.writeBigUInt64BE(BigInt(at), LABEL.length + 2 + id.length);
  return b;
}

/** An operator's signing key: the private key and its public half (raw, 32 bytes). */
export interface OperatorKey {
  readonly publicKey: Uint8Array;
  readonly privateKey: KeyObject;
}

/** A new operator key pair; `seed` is the private key to keep (32 bytes). */
export function newOperatorKey(): { key: OperatorKey; seed: Uint8Array } {
  const seed = newSeed();
  return { key: operatorKeyFromSeed(seed), seed };
}

export function operatorKeyFromSeed(seed: Uint8Array): OperatorKey {
  if (seed.length !== 32) throw new DecodeError(`an operator key is 32 bytes, not ${seed.length}`);
  return keyPairOfSeed(seed);
}

export function signForget(key: OperatorKey, peer: string, at: number): ForgetRecord {
  return { peer, at, key: key.publicKey, sig: new Uint8Array(sign(null, forgetSignedBytes(peer, at), key.privateKey)) };
}

/** Is the record signed by the key it names? (Whether that key is obeyed is judgeForget's question.) */
export function forgetSignatureValid(r: ForgetRecord): boolean {
  if (r.key.length !== PUBLIC_KEY_BYTES || r.sig.length !== SIGNATURE_BYTES) return false;
  try {
    return verify(null, forgetSignedBytes(r.peer, r.at), publicKeyOf(r.key), r.sig);
  } catch {
    return false; // not a point on the curve
  }
}

/** An operator public key as configured: 64 hex characters. Throws DecodeError naming the problem. */
export function parseOperatorKey(text: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new DecodeError(`an operator public key is 64 hex characters (from replikv keygen --operator), not "${text.slice(0, 80)}"`);
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export const keyHex = (key: Uint8Array): string => Buffer.from(key).toString('hex');

export function writeForgetRecord(w: Writer, r: ForgetRecord): void {
  w.chunk(Buffer.from(r.peer, 'utf8'));
  w.varint(r.at);
  w.bytes(r.key);
  w.bytes(r.sig);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function readForgetRecord(rd: Reader): ForgetRecord {
  const raw = rd.chunk(MAX_FORGET_PEER_BYTES);
  let peer: string;
  try {
    peer = utf8.decode(raw);
  } catch {
    return rd.fail('forgotten PeerId is not UTF-8');
  }
  const at = rd.varint();
  const key = rd.bytes(PUBLIC_KEY_BYTES).slice();
  const sig = rd.bytes(SIGNATURE_BYTES).slice();
  return { peer, at, key, sig };
}

/** What a node does with a forget record a peer sent it. */
export type ForgetVerdict =
  /** Obey it: drop and refuse that peer (if not done already). */
  | { kind: 'accept' }
  /** Nothing to do: a forget this node holds already, or one past its retention. */
  | { kind: 'ignore' }
  /** An operator really forgot this node: it does not cut itself off, but says so (status). */
  | { kind: 'self' }
  /** Refused: logged, counted, nothing changes. */
  | { kind: 'refuse'; reason: string };

export interface ForgetContext {
  self: string;
  /** Operator public keys this node obeys, as lowercase hex. */
  operatorKeys: ReadonlySet<string>;
  now: number;
  /** How long a forget lasts after its time. */
  retentionMs: number;
  /** How far ahead of this node's clock a forget's time may be (clocks differ a little). */
  maxSkewMs: number;
  /** Does this node hold the very same forget already (same peer, time and key)? Saves a check. */
  holds(r: ForgetRecord): boolean;
  /** The signature check (forgetSignatureValid); passed in so its cost can be budgeted and counted. */
  verify(r: ForgetRecord): boolean;
}

/**
 * The decision on a received forget. Cheap refusals come before the signature check: a key this
 * node does not obey is refused without one, so a member without an operator key cannot make this
 * node spend CPU on signatures unless it names a configured key (and then each bad one is refused).
 */
export function judgeForget(r: ForgetRecord, ctx: ForgetContext): ForgetVerdict {
  if (!ctx.operatorKeys.has(keyHex(r.key))) {
    return { kind: 'refuse', reason: ctx.operatorKeys.size === 0 ? 'no operator key is configured on this node (operatorKeys)' : 'not signed by an operator key this node is configured with' };
  }
  if (r.at > ctx.now + ctx.maxSkewMs) return { kind: 'refuse', reason: 'its time is in the future' };
  if (ctx.now - r.at > ctx.retentionMs) return { kind: 'ignore' };
  if (r.peer !== ctx.self && ctx.holds(r)) return { kind: 'ignore' };
  if (!ctx.verify(r)) return { kind: 'refuse', reason: 'bad signature' };
  return r.peer === ctx.self ? { kind: 'self' } : { kind: 'accept' };
}
