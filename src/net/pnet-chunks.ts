// @libp2p/pnet encrypts and decrypts a private network's traffic with the `xsalsa20` package. Its
// WebAssembly build has two flaws that kill a busy daemon from inside a socket handler
// ("WebAssembly.Memory.grow(): Maximum memory size exceeded"), both fixed here on the very module
// instance pnet uses, before any connection exists:
// - Each cipher keeps its own view of the shared WebAssembly memory. When one cipher grows the
//   memory, every other cipher's view goes stale (detached, length 0), and the next update of such
//   a cipher "grows" the memory again by its whole input, so with two or more connections the memory
//   climbs until its 32-64 MiB ceiling. A stale view is renewed before use.
// - The memory must hold each whole buffer given to update (a paused connection's read buffer or a
//   16 MiB frame can hold tens of megabytes). Buffers are fed in 1 MiB pieces: a stream cipher's
//   output does not depend on how its input is split (the package carries the position within a
//   64-byte block across calls).

import { createRequire } from 'node:module';

export const PIECE = 1024 * 1024;

interface Cipher {
  update(input: Uint8Array, output?: Uint8Array): Uint8Array;
  finalize(): void;
}

interface WasmCipher {
  _memory: Uint8Array;
  update(input: Uint8Array, output: Uint8Array): void;
  realloc(size: number): void;
  finalize(): void;
}

const requireFromPnet = createRequire(import.meta.resolve('@libp2p/pnet'));
type Factory = ((nonce: Uint8Array, key: Uint8Array) => Cipher) & { prototype: Cipher & { [patched]?: true } };
const XSalsa20 = requireFromPnet('xsalsa20') as Factory;
const patched = Symbol.for('replikv.xsalsa20.fixed');

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

  const probe = XSalsa20(new Uint8Array(24), new Uint8Array(32)) as Cipher & { _xor: object };
  const wasm = Object.getPrototypeOf(probe._xor) as WasmCipher;
  probe.finalize();
  if (typeof wasm.realloc === 'function') {
    // The newest view of the memory: taken after every grow, handed to ciphers whose view is stale.
    let fresh: Uint8Array | undefined;
    const renew = (c: WasmCipher): void => {
      if (c._memory.buffer.byteLength === 0 && fresh !== undefined) c._memory = new Uint8Array(fresh.buffer);
    };
    const { realloc, update: wasmUpdate, finalize } = wasm;
    wasm.realloc = function (this: WasmCipher, size: number): void {
      renew(this);
      realloc.call(this, size);
      fresh = this._memory;
    };
    wasm.update = function (this: WasmCipher, input: Uint8Array, output: Uint8Array): void {
      renew(this);
      wasmUpdate.call(this, input, output);
    };
    wasm.finalize = function (this: WasmCipher): void {
      renew(this); // so that the key is wiped from the live memory, not from a dead view
      finalize.call(this);
    };
  }
}

/** The fixed cipher factory (for tests): xsalsa20(nonce, key). */
export const xsalsa20 = (nonce: Uint8Array, key: Uint8Array): Cipher => XSalsa20(nonce, key);
