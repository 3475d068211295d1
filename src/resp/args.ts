// Command arguments as Redis reads them: integers, keys, SET's options, expiry times. Pure: the
// time comes in as `now`. A bad argument throws CommandError with the text Redis answers.

import { isUtf8 } from 'node:buffer';
import { keyToBytes } from '../core/validate.js';
import { MAX_EXPIRE_AT } from '../store/keyspace.js';

/** An error reply a command answers (its text starts with the Redis error code). */
export class CommandError extends Error {}

export const SYNTAX = 'ERR syntax error';
export const NOT_INTEGER = 'ERR value is not an integer or out of range';

/** A whole number as Redis reads one (string2ll): an optional '-', digits, no leading zeros or '+'. */
export function intArg(raw: Uint8Array): number {
  const s = Buffer.from(raw).toString('latin1');
  if (!/^(0|-?[1-9]\d{0,18})$/.test(s)) throw new CommandError(NOT_INTEGER);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new CommandError(NOT_INTEGER);
  return n;
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

/** SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]: the options after the value. */
export function parseSetOptions(args: readonly Uint8Array[], now: number): SetOptions {
  const o: SetOptions = { cond: null, get: false, expire: null };
  let expirySeen = false;
  for (let i = 0; i < args.length; i++) {
    const w = word(args[i]);
    if ((w === 'NX' || w === 'XX') && o.cond === null) o.cond = w;
    else if (w === 'GET' && !o.get) o.get = true;
    else if (w === 'KEEPTTL' && !expirySeen) {
      expirySeen = true;
      o.expire = 'keep';
    } else if ((w === 'EX' || w === 'PX' || w === 'EXAT' || w === 'PXAT') && !expirySeen && i + 1 < args.length) {
      expirySeen = true;
      o.expire = expiryOf(w, intArg(args[++i]!), now, 'set', true);
    } else throw new CommandError(SYNTAX);
  }
  return o;
}

/** EXPIRE's NX|XX|GT|LT (Redis 7): whether the new expiry `at` may replace `current` (null: none). */
export function expireAllowed(flag: string | undefined, current: number | null, at: number): boolean {
  switch (flag) {
    case undefined:
      return true;
    case 'NX':
      return current === null;
    case 'XX':
      return current !== null;
    case 'GT':
      return current !== null && at > current; // no expiry counts as infinite, as in Redis
    case 'LT':
      return current === null || at < current;
    default:
      throw new CommandError(`ERR Unsupported option ${flag}`);
  }
}
