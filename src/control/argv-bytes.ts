// Exact command-line arguments. Node decodes argv as UTF-8 and turns every invalid byte sequence
// into U+FFFD, so two different byte strings can arrive as the same key. The raw bytes are only
// visible on Linux, in /proc/self/cmdline; from them we tell a U+FFFD the user really typed from
// one Node made up. Anything we cannot tell is refused: a changed key must never be written.

import { readFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { InvalidKeyError, InvalidValueError, ReplikvError } from '../errors.js';
import { keyToBytes } from '../core/validate.js';

const REPLACEMENT = '\uFFFD';

/**
 * The raw bytes of the user's arguments (`args`, as in process.argv.slice(2)), taken from the
 * end of `cmdline` (NUL-separated, as /proc/self/cmdline holds them: node options come before the
 * script, so the user's arguments are last). Undefined when they do not line up with `args`.
 */
export function rawArgsOf(cmdline: Uint8Array, args: readonly string[]): Buffer[] | undefined {
  const all = Buffer.from(cmdline.buffer, cmdline.byteOffset, cmdline.length);
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < all.length; i++) {
    if (all[i] === 0) {
      parts.push(all.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < all.length) parts.push(all.subarray(start));
  if (parts.length < args.length) return undefined;
  const raw = args.length === 0 ? [] : parts.slice(-args.length);
  // The same decoding Node applied must give back exactly the strings we hold.
  return raw.every((r, i) => r.toString('utf8') === args[i]) ? raw : undefined;
}

/** The raw argument bytes of this process, or undefined where /proc is not readable. */
export function processRawArgs(args: readonly string[] = process.argv.slice(2)): Buffer[] | undefined {
  try {
    return rawArgsOf(readFileSync('/proc/self/cmdline'), args);
  } catch {
    return undefined;
  }
}

/**
 * Whether `value`, parsed from `args`, may differ from the bytes the user gave. Only a value
 * holding U+FFFD can; it is exact when every argument it may have come from (`VALUE` itself, or
 * `--option=VALUE`) had valid UTF-8 bytes. Without raw bytes (`raw` undefined) it is not exact.
 */
export function mayBeChanged(value: string, args: readonly string[], raw: readonly Uint8Array[] | undefined): boolean {
  if (!value.includes(REPLACEMENT)) return false;
  if (raw === undefined) return true;
  let found = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a !== value && !(a.startsWith('--') && a.endsWith(`=${value}`))) continue;
    found = true;
    if (!isUtf8(raw[i]!)) return true;
  }
  return !found;
}

export interface ExactArgs {
  args: readonly string[];
  raw: readonly Uint8Array[] | undefined;
}

export function processArgs(): ExactArgs {
  const args = process.argv.slice(2);
  return { args, raw: processRawArgs(args) };
}

/** A KEY argument, refused when the shell gave bytes that are not UTF-8. */
export function exactKey(key: string, from: ExactArgs, what = 'key'): string {
  if (mayBeChanged(key, from.args, from.raw)) {
    throw new InvalidKeyError(`invalid ${what}: the argument is not valid UTF-8 (it would be stored with U+FFFD in place of some bytes); name the key exactly with --key-base64, or use import for binary keys`);
  }
  return key;
}

/** A VALUE argument of put, refused when it is not valid UTF-8. */
export function exactValue(value: string, from: ExactArgs): string {
  if (mayBeChanged(value, from.args, from.raw)) {
    throw new InvalidValueError('invalid value: the argument is not valid UTF-8 (it would be stored with U+FFFD in place of some bytes); pass - and give the raw bytes on stdin');
  }
  return value;
}

/** A scan bound (--prefix, --after), refused when it is not valid UTF-8. */
export function exactBound(bound: string, option: string, from: ExactArgs): string {
  if (mayBeChanged(bound, from.args, from.raw)) {
    throw new ReplikvError(`invalid ${option}: the argument is not valid UTF-8 (it would be compared with U+FFFD in place of some bytes)`);
  }
  return bound;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The key named by `--key-base64`: canonical padded base64 of its UTF-8 bytes (1 to 1024). */
export function keyFromBase64(b64: string): string {
  const bytes = Buffer.from(b64, 'base64');
  if (!BASE64.test(b64) || bytes.toString('base64') !== b64) {
    throw new InvalidKeyError(`invalid key: "${printable(b64)}" is not canonical padded base64 (--key-base64)`);
  }
  if (!isUtf8(bytes)) throw new InvalidKeyError('invalid key: the base64 decodes to bytes that are not valid UTF-8; keys are UTF-8 strings (--key-base64)');
  const key = bytes.toString('utf8');
  keyToBytes(key); // the length limit, with its own message
  return key;
}

/** For messages: the argument on one line, shortened. */
function printable(s: string): string {
  const flat = JSON.stringify(s).slice(1, -1);
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}
