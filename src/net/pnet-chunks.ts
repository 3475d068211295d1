// @libp2p/pnet encrypts and decrypts a private network's traffic with the `xsalsa20` package, whose
// WebAssembly memory grows to hold each buffer it is given and cannot grow past 32-64 MiB. pnet hands
// it whole buffers as they come (a paused connection's read buffer or a 16 MiB frame can hold tens of
// megabytes), and a failed grow throws inside a socket handler, which kills the daemon. Fed in 1 MiB
// pieces it never grows past that: a stream cipher's output does not depend on how its input is split
// (the package carries the position within a 64-byte block across calls). Loaded for its effect on
// the very module instance pnet uses, before any connection exists.

import { createRequire } from 'node:module';

export const PIECE = 1024 * 1024;

interface Cipher {
  update(input: Uint8Array, output?: Uint8Array): Uint8Array;
}

const requireFromPnet = createRequire(import.meta.resolve('@libp2p/pnet'));
const XSalsa20 = requireFromPnet('xsalsa20') as { prototype: Cipher & { [patched]?: true } };
const patched = Symbol.for('replikv.xsalsa20.pieces');

if (XSalsa20.prototype[patched] !== true) {
  const update = XSalsa20.prototype.update;
  XSalsa20.prototype.update = function (this: Cipher, input: Uint8Array, output?: Uint8Array): Uint8Array {
    if (input.length <= PIECE) return update.call(this, input, output);
    const out = output ?? new Uint8Array(input.length);
    for (let at = 0; at < input.length; at += PIECE) {
      const end = Math.min(at + PIECE, input.length);
      update.call(this, input.subarray(at, end), out.subarray(at, end));
    }
    return out;
  };
  XSalsa20.prototype[patched] = true;
}

/** The patched cipher factory (for tests): xsalsa20(nonce, key). */
export const xsalsa20 = requireFromPnet('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => Cipher;
