// Keys as text. Stored and received keys are UTF-8 bytes; the API speaks strings.

import { isUtf8 } from 'node:buffer';
import { DecodeError } from '../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1Slice = Buffer.prototype.latin1Slice;

/**
 * The key's string, or DecodeError (naming the key as `what`) when the bytes are not UTF-8. ASCII
 * keys (the usual kind) skip the TextDecoder: a byte check and a latin1 slice cost about half as
 * much per key, which a full scan pays a million times.
 */
export function keyText(key: Uint8Array, what = 'key'): string {
  for (let i = 0; i < key.length; i++) {
    if (key[i]! > 0x7f) {
      try {
        return utf8.decode(key);
      } catch {
        throw new DecodeError(`${what} is not valid UTF-8`);
      }
    }
  }
  return latin1Slice.call(key, 0, key.length);
}

/** Throws DecodeError (naming the key as `what`) unless the bytes are UTF-8; makes no string. */
export function checkKeyText(key: Uint8Array, what = 'key'): void {
  for (let i = 0; i < key.length; i++) {
    if (key[i]! > 0x7f) {
      if (isUtf8(key)) return;
      throw new DecodeError(`${what} is not valid UTF-8`);
    }
  }
}

/** The key's bytes as a latin1 string: any string unique to them, for Map lookups. */
export function keyId(key: Uint8Array): string {
  return latin1Slice.call(key, 0, key.length);
}
