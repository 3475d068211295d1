// The opaque causal-context token a read hands out and a later write may carry back ("I saw these
// siblings; supersede them"). base64url of: u8 version | version vector | u32 FNV-1a checksum.
// The checksum turns a mistyped or truncated token into a clear error instead of a wrong context.

import { InvalidTokenError } from '../errors.js';
import { Reader, Writer } from './bytes.js';
import { readVersionVector, writeVersionVector } from './codec.js';
import type { VersionVector } from './version-vector.js';

const TOKEN_VERSION = 1;

export function encodeToken(ctx: VersionVector): string {
  const w = new Writer(64);
  w.u8(TOKEN_VERSION);
  writeVersionVector(w, ctx);
  w.u32(fnv1a(w.peek()));
  return Buffer.from(w.peek()).toString('base64url');
}

export function decodeToken(token: string): VersionVector {
  if (typeof token !== 'string' || token.length === 0 || !/^[A-Za-z0-9_-]+$/.test(token)) {
    throw new InvalidTokenError('invalid context token: expected the base64url string a read returned');
  }
  const buf = Buffer.from(token, 'base64url');
  if (buf.length < 6) throw new InvalidTokenError('invalid context token: too short');
  const body = buf.subarray(0, buf.length - 4);
  if (fnv1a(body) !== buf.readUInt32BE(buf.length - 4)) {
    throw new InvalidTokenError('invalid context token: checksum mismatch (damaged or mistyped)');
  }
  const rd = new Reader(body, 'context token');
  try {
    if (rd.u8() !== TOKEN_VERSION) rd.fail('unknown token version');
    const vv = readVersionVector(rd);
    rd.end();
    return vv;
  } catch (err) {
    throw new InvalidTokenError(`invalid context token: ${(err as Error).message}`, { cause: err });
  }
}

function fnv1a(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
