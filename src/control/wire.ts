// The JSON shapes the control API sends, shared by the server and the client. Values are bytes;
// JSON carries them as a UTF-8 string when they are valid UTF-8 (readable, exact) and as base64
// otherwise, so no byte is ever lost to a replacement character.

import { isUtf8 } from 'node:buffer';
import type { Dot } from '../core/replica.js';

export type JsonValue = { value: string; valueBase64?: never } | { valueBase64: string; value?: never };

export interface WriteReply {
  dot: Dot;
  /** With a write concern: how many replicas, the writer included, hold the write. */
  replicas?: number;
  /** For a write with a time to live: when the value expires (ms since the epoch, the daemon's clock). */
  expireAt?: number;
}

/** The answer to removing a key's expiry: `persisted` false when it had none (nothing was written). */
export type PersistReply = { persisted: false } | { persisted: true; dot: Dot; replicas?: number };

/** How long a key's value lives on: ttl in whole seconds (rounded up) and ms; -1 and null when it lasts. */
export interface TtlReply {
  key: string;
  ttl: number;
  ttlMs: number;
  expireAt: number | null;
}

export interface SiblingJson {
  /** null (and no valueBase64) for a deletion. */
  value?: string | null;
  valueBase64?: string;
  replica: string;
  counter: number;
  hlc: number;
  deleted: boolean;
  /** When the value expires (ms since the epoch), if it does; a sibling may show one past until it is collected. */
  expireAt?: number;
}

/** A sibling as a read shows it (store/keyspace.ts SiblingView), in JSON. */
export function toSiblingJson(s: { value: Uint8Array | null; replica: string; counter: number; hlc: number; expireAt?: number }): SiblingJson {
  return { ...toJsonValueOrNull(s.value), replica: s.replica, counter: s.counter, hlc: s.hlc, deleted: s.value === null, expireAt: s.expireAt };
}

export interface KeyJson {
  key: string;
  /** The resolved value; null when the key is deleted. */
  value?: string | null;
  valueBase64?: string;
  siblings: SiblingJson[];
  /** Causal-context token: send it back as x-replikv-context to supersede exactly these siblings. */
  context: string;
}

export type ScanItem = { key: string } & JsonValue;

export interface ScanPage {
  items: ScanItem[];
  /** Pass as `after` to continue; null at the end. */
  cursor: string | null;
}

export interface ImportReply {
  imported: number;
  replicas?: number;
}

export interface ErrorReply {
  error: string;
  code?: string;
}

/** The code of a 404 for a key that reads as absent (not a missing route) on the expiry routes. */
export const NOT_FOUND = 'NOT_FOUND';

export const CONTEXT_HEADER = 'x-replikv-context';
/** Write concern: a replica count or "all", and how long to wait for it in milliseconds. */
export const W_HEADER = 'x-replikv-w';
export const TIMEOUT_HEADER = 'x-replikv-timeout';
export const DEFAULT_CONCERN_TIMEOUT_MS = 5000;
/** A time to live in whole seconds, as a query parameter (PUT of a key or of its expiry). */
export const TTL_PARAM = 'ttl';

export function toJsonValue(bytes: Uint8Array): JsonValue {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return isUtf8(buf) ? { value: buf.toString('utf8') } : { valueBase64: buf.toString('base64') };
}

/** Same rule, with null for a deleted value. */
export function toJsonValueOrNull(bytes: Uint8Array | null): JsonValue | { value: null } {
  return bytes === null ? { value: null } : toJsonValue(bytes);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The bytes of a JSON-carried value, or a reason it is not one. A string value must be
 * well-formed Unicode (a lone surrogate has no UTF-8 form); base64 must be canonical padded base64.
 */
export function fromJsonValue(v: { value?: unknown; valueBase64?: unknown }): Uint8Array | string {
  if (v.value !== undefined && v.valueBase64 !== undefined) return 'give either "value" or "valueBase64", not both';
  if (typeof v.value === 'string') {
    return v.value.isWellFormed() ? Buffer.from(v.value, 'utf8') : '"value" is not well-formed Unicode (use "valueBase64")';
  }
  if (typeof v.valueBase64 === 'string') {
    return BASE64.test(v.valueBase64) ? Buffer.from(v.valueBase64, 'base64') : '"valueBase64" is not valid base64';
  }
  return 'expected a string "value" or "valueBase64"';
}

/** The change feed (GET /v1/watch): one event per NDJSON line; `pos` is "EPOCH:SEQ". */
export type WatchEvent = WatchHello | WatchChange | WatchMissed;

/** The first line: the feed's head now (where a watcher that has no position resumes from). */
export interface WatchHello {
  type: 'hello';
  pos: string;
}

/** A committed change to a key: its value now (null when it reads as absent) and its siblings. */
export type WatchChange = {
  type: 'change';
  pos: string;
  key: string;
  /** local: written on this node; replicated: from a peer (sync, push, bootstrap, repair). */
  origin: 'local' | 'replicated';
  /** The key reads as absent after this change (deleted, expired, or gone from the store). */
  deleted: boolean;
  siblings: SiblingJson[];
} & (JsonValue | { value: null; valueBase64?: never });

/**
 * Changes up to `pos` may have been missed: the daemon restarted (a new epoch), they left its
 * ring of recent changes, or this watcher read too slowly. Rescan what you track; changes after
 * `pos` follow.
 */
export interface WatchMissed {
  type: 'missed';
  pos: string;
  reason: 'restarted' | 'evicted' | 'overflow' | 'unknown';
}
