// Limits on what a client may store. Checked before anything touches the store, so a bad request
// is refused with a clear message and never half-applied.

import { InvalidKeyError, InvalidValueError } from '../errors.js';

export const MAX_KEY_BYTES = 1024;
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024;
/** The latest expiry a value may have (ms since the epoch, the year 2286). */
export const MAX_EXPIRE_AT = 1e13;

/** Validates a key and returns its UTF-8 bytes. */
export function keyToBytes(key: unknown): Buffer {
  if (typeof key !== 'string') throw new InvalidKeyError(`invalid key: expected a string, got ${typeof key}`);
  if (key.length === 0) throw new InvalidKeyError('invalid key: the empty string is not a key');
  if (!key.isWellFormed()) throw new InvalidKeyError('invalid key: not well-formed Unicode (lone surrogate)');
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length > MAX_KEY_BYTES) {
    throw new InvalidKeyError(`invalid key: ${bytes.length} bytes of UTF-8, the limit is ${MAX_KEY_BYTES}`);
  }
  return bytes;
}

/** Validates a value against the configured size limit. */
export function checkValue(value: unknown, maxValueBytes: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidValueError(`invalid value: expected bytes (Uint8Array), got ${value === null ? 'null' : typeof value}`);
  }
  if (value.length > maxValueBytes) {
    throw new InvalidValueError(`invalid value: ${value.length} bytes, the limit is ${maxValueBytes} (maxValueBytes)`);
  }
  return value;
}
