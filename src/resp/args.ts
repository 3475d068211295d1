// Command arguments as Redis reads them: integers, keys, SET's options, expiry times. Pure: the
// time comes in as `now`. A bad argument throws CommandError with the text Redis answers.

import { isUtf8 } from 'node:buffer';
import { keyToBytes } from '../core/validate.js';
import { MAX_EXPIRE_AT } from '../store/keyspace.js';

/** An error reply a command answers (its text starts with the Redis error code). */
export class CommandError extends Error {
  constructor(
    message: string,
    /** The reply's bytes when it quotes what a client sent (quotingError). */
    readonly bytes?: Uint8Array,
  ) {
    super(message);
  }
}

export const SYNTAX = 'ERR syntax error';
export const NOT_INTEGER = 'ERR value is not an integer or out of range';

const INT64_MAX = 2n ** 63n - 1n;

/**
 * A whole number as Redis reads one (string2ll): an optional '-', digits, no leading zeros or '+',
 * within 64 bits. Beyond 2^53 the number is not exact: callers that keep it refuse such values
 * with their own error (an expiry time), as Redis does at its overflow checks.
 */
export function intArg(raw: Uint8Array, message = NOT_INTEGER): number {
  const s = Buffer.from(raw).toString('latin1');
  if (!/^(0|-?[1-9]\d{0,18})$/.test(s)) throw new CommandError(message);
  const n = BigInt(s);
  if (n > INT64_MAX || n < -INT64_MAX - 1n) throw new CommandError(message);
  return Number(s);
}

/** A client's argument as Redis quotes it in an error: a C string (up to a NUL), here of at most `max` bytes. */
export function asSent(raw: Uint8Array, max = 128): Uint8Array {
  const nul = raw.indexOf(0);
  return raw.subarray(0, Math.min(nul < 0 ? raw.length : nul, max));
}

/**
 * An error whose text quotes a client's bytes as they are (UTF-8, or not), as Redis's errors do;
 * the strings around them are UTF-8. The reply maps CR and LF to spaces (reply.ts).
 */
export function quotingError(...parts: (string | Uint8Array)[]): CommandError {
  const bytes = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  return new CommandError(bytes.toString('latin1'), bytes);
}

/**
 * A Redis key as a replikv key: replikv keys are UTF-8 text of 1 to 1024 bytes (core/validate.ts),
 * Redis keys any bytes, so other keys are refused naming why.
 */
export function keyArg(raw: Uint8Array): string {
  if (!isUtf8(raw)) throw new CommandError('ERR invalid key: not valid UTF-8 (replikv keys are UTF-8 text)');
  const key = Buffer.from(raw).toString('utf8');
  try {
    keyToBytes(key);
  } catch (err) {
    throw new CommandError(`ERR ${(err as Error).message}`);
  }
  return key;
}

/** The option word at args[i], upper case. */
export const word = (raw: Uint8Array | undefined): string => (raw === undefined ? '' : Buffer.from(raw).toString('latin1').toUpperCase());

export type ExpiryUnit = 'EX' | 'PX' | 'EXAT' | 'PXAT';

/**
 * The absolute expiry (ms since the epoch) of `n` in `unit` at `now`, for `command`'s message.
 * `positive`: SET refuses 0 and negative times; EXPIRE takes them (they delete the key).
 */
export function expiryOf(unit: ExpiryUnit, n: number, now: number, command: string, positive: boolean): number {
  const invalid = () => new CommandError(`ERR invalid expire time in '${command}' command`);
  if (positive && n <= 0) throw invalid();
  const ms = unit === 'EX' || unit === 'EXAT' ? n * 1000 : n;
  const at = unit === 'EX' || unit === 'PX' ? now + ms : ms;
  if (!Number.isSafeInteger(at) || at > MAX_EXPIRE_AT) throw invalid();
  return at;
}

export interface SetOptions {
  /** NX: only if absent; XX: only if present (on this node's view). */
  cond: 'NX' | 'XX' | null;
  /** Answer the old value instead of OK. */
  get: boolean;
  /** An absolute expiry (ms), 'keep' (KEEPTTL), or null (the value lasts). */
  expire: number | 'keep' | null;
}

/**
 * SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]: the options after the value, read
 * as Redis 7 does: a repeated option is taken (the last time wins), conflicting ones are a syntax
 * error, and the time is read only once every option is (SET k v EX abc NX XX: syntax error).
 * `command` names SET, SETEX or PSETEX in "invalid expire time".
 */
export function parseSetOptions(args: readonly Uint8Array[], now: number, command = 'set'): SetOptions {
  let nx = false;
  let xx = false;
  let get = false;
  let keep = false;
  let unit: ExpiryUnit | null = null;
  let time: Uint8Array | undefined;
  for (let i = 0; i < args.length; i++) {
    const w = word(args[i]);
    if (w === 'NX' && !xx) nx = true;
    else if (w === 'XX' && !nx) xx = true;
    else if (w === 'GET') get = true;
    else if (w === 'KEEPTTL' && unit === null) keep = true;
    else if ((w === 'EX' || w === 'PX' || w === 'EXAT' || w === 'PXAT') && !keep && (unit === null || unit === w) && i + 1 < args.length) {
      unit = w;
      time = args[++i];
    } else throw new CommandError(SYNTAX);
  }
  const expire = keep ? 'keep' : unit === null ? null : expiryOf(unit, intArg(time!), now, command, true);
  return { cond: nx ? 'NX' : xx ? 'XX' : null, get, expire };
}

/** EXPIRE's NX|XX|GT|LT (Redis 7). */
export interface ExpireFlags {
  nx: boolean;
  xx: boolean;
  gt: boolean;
  lt: boolean;
}

/** The flags after EXPIRE's time, as Redis reads them: repeats and XX with GT or LT are fine. */
export function parseExpireFlags(args: readonly Uint8Array[]): ExpireFlags {
  const f: ExpireFlags = { nx: false, xx: false, gt: false, lt: false };
  for (const raw of args) {
    const w = word(raw);
    if (w === 'NX' || w === 'XX' || w === 'GT' || w === 'LT') f[w.toLowerCase() as keyof ExpireFlags] = true;
    else throw quotingError('ERR Unsupported option ', asSent(raw));
  }
  if (f.nx && (f.xx || f.gt || f.lt)) throw new CommandError('ERR NX and XX, GT or LT options at the same time are not compatible');
  if (f.gt && f.lt) throw new CommandError('ERR GT and LT options at the same time are not compatible');
  return f;
}

/** Whether the new expiry `at` may replace `current` (null: none) under `f`. */
export function expireAllowed(f: ExpireFlags, current: number | null, at: number): boolean {
  if (f.nx && current !== null) return false;
  if (f.xx && current === null) return false;
  if (f.gt && (current === null || at <= current)) return false; // no expiry counts as infinite, as in Redis
  if (f.lt && current !== null && at >= current) return false;
  return true;
}
