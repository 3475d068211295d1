// A growable byte writer and a bounds-checked reader with LEB128 varints (up to 2^53).
// Hand-written rather than a library: the key-state codec is the hottest path of every write and
// every delta, and a generic serializer (msgpack, protobuf) would allocate objects we do not need.

import { DecodeError } from '../errors.js';

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;
  /** Start of the bytes not yet handed out by take(); everything before it is never written again. */
  private mark = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    // Only the bytes after `mark` move: views handed out by take() keep the old buffer alive and
    // unchanged. A writer used only through take() thus keeps a steady buffer size (an arena).
    const live = this.pos - this.mark;
    let size = this.mark > 0 ? this.buf.length : this.buf.length * 2;
    while (size < live + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(this.mark, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.pos = live;
    this.mark = 0;
  }

  u8(n: number): void {
    this.ensure(1);
    this.buf[this.pos++] = n;
  }

  varint(n: number): void {
    this.ensure(8);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  u32(n: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, n);
    this.pos += 4;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /**
   * src[start, end). A plain loop below 1 KiB: set() needs a view of the range, and allocating it
   * (a Buffer's subarray() even runs a JS constructor) cost more than copying a key or a state.
   */
  range(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    if (n > 1024) this.buf.set(src.subarray(start, end), this.pos);
    else for (let i = 0; i < n; i++) this.buf[this.pos + i] = src[start + i]!;
    this.pos += n;
  }

  /** Length-prefixed bytes. */
  chunk(b: Uint8Array): void {
    this.varint(b.length);
    this.bytes(b);
  }

  /** A view of what was written (shares memory with the writer until it writes again). */
  peek(): Uint8Array {
    return this.buf.subarray(this.mark, this.pos);
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return this.buf.slice(this.mark, this.pos);
  }

  /**
   * What was written since the last take(), as a view that stays valid and unchanged: the writer
   * never writes those bytes again. Many small encodings then share one buffer instead of each
   * allocating its own (slice() makes a new ArrayBuffer per call, which is what the hot paths paid).
   */
  take(): Uint8Array {
    const out = this.buf.subarray(this.mark, this.pos);
    this.mark = this.pos;
    return out;
  }

  /** Forgets what was written since the last take() (an encoding that failed half-way). */
  discard(): void {
    this.pos = this.mark;
  }
}

export class Reader {
  pos = 0;
  private hexView: Buffer | undefined;
  constructor(
    readonly buf: Uint8Array,
    private readonly what = 'data',
  ) {}

  /** The next 16 bytes as 32 lowercase hex characters (a replica id). */
  hex16(): string {
    if (this.pos + 16 > this.buf.length) this.fail('unexpected end');
    this.hexView ??= Buffer.from(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    const s = this.hexView.toString('hex', this.pos, this.pos + 16);
    this.pos += 16;
    return s;
  }

  fail(reason: string): never {
    throw new DecodeError(`malformed ${this.what}: ${reason} at byte ${this.pos}`);
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  u8(): number {
    if (this.pos >= this.buf.length) this.fail('unexpected end');
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        // A trailing zero byte would be a second encoding of the same number; canonical bytes
        // matter because the state digest hashes encodings.
        if (b === 0 && i > 0) this.fail('non-minimal varint');
        if (!Number.isSafeInteger(n)) this.fail('integer too large');
        return n;
      }
      scale *= 0x80;
    }
    this.fail('varint too long');
  }

  u32(): number {
    if (this.pos + 4 > this.buf.length) this.fail('unexpected end');
    const b = this.buf;
    const n = ((b[this.pos]! << 24) | (b[this.pos + 1]! << 16) | (b[this.pos + 2]! << 8) | b[this.pos + 3]!) >>> 0;
    this.pos += 4;
    return n;
  }

  bytes(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.buf.length) this.fail(`length ${n} runs past the end`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  chunk(max = Number.MAX_SAFE_INTEGER): Uint8Array {
    const n = this.varint();
    if (n > max) this.fail(`length ${n} exceeds the limit ${max}`);
    return this.bytes(n);
  }

  end(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.buf.length - this.pos} trailing bytes`);
  }
}

/** Byte order (LMDB's default key order), like Buffer.compare; b is b[0, bLength). */
export function compareBytes(a: Uint8Array, b: Uint8Array, bLength = b.length): number {
  const n = Math.min(a.length, bLength);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - bLength;
}
