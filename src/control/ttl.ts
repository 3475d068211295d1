// A time to live: a client gives whole seconds, and the daemon turns them into an absolute expiry
// on its own clock, so no client's clock is ever trusted. The CLI checks the same bounds first (a
// mistake is a usage error before anything is sent); the daemon checks again, for any client.

import { MAX_EXPIRE_AT } from '../core/validate.js';

/** What a time to live may be at `now`: its expiry may not pass MAX_EXPIRE_AT. */
export function ttlExpected(now: number): string {
  return `a whole number of seconds from 1 to ${Math.floor((MAX_EXPIRE_AT - now) / 1000)}`;
}

/** The expiry (ms since the epoch) of a value written at `now` to live `seconds`; undefined when that is no time to live. */
export function expireAtOf(seconds: unknown, now: number): number | undefined {
  if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 1) return undefined;
  const at = now + seconds * 1000;
  return at <= MAX_EXPIRE_AT ? at : undefined;
}

/** Seconds as text (a query parameter, an argument): digits only, else NaN (no sign, point or exponent). */
export function parseSeconds(raw: string): number {
  return /^\d+$/.test(raw) ? Number(raw) : NaN;
}
