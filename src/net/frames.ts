// Length-prefixed frames (unsigned varint length, then the bytes) over a libp2p 3 stream.
//
// Written here rather than with lpStream from @libp2p/utils because that buffers everything the
// peer sends without backpressure, needs its buffer cap raised above the largest frame, and
// LengthPrefixedDecoder drops empty frames. Reading pauses the stream when unread frames pile up
// (yamux then withholds window updates, so the peer stops); writing coalesces small frames.

import type { Stream } from '@libp2p/interface';
import { Uint8ArrayList } from 'uint8arraylist';
import { DecodeError, ReplikvError } from '../errors.js';

/** A peer announced a frame longer than the reader accepts; the stream has been aborted. */
export class FrameTooLargeError extends ReplikvError {
  override readonly code = 'FRAME_TOO_LARGE';
  override name = 'FrameTooLargeError';
}

/** A write after the stream or the writer closed, or after an earlier send failed. */
export class StreamClosedError extends ReplikvError {
  override readonly code = 'STREAM_CLOSED';
}

// Pause the stream when this many bytes of whole frames wait for the consumer; resume below the low mark.
const PAUSE_AT = 1024 * 1024;
const RESUME_AT = 256 * 1024;
// 8 varint bytes carry 56 bits, more than any frame length we could accept.
const MAX_PREFIX_BYTES = 8;

/** Splits a byte stream into frames; refuses a frame longer than the limit as soon as its prefix is read. */
class FrameDecoder {
  private readonly buf = new Uint8ArrayList();
  private bodyLength = -1; // the frame in progress, once its prefix has been read

  constructor(private readonly maxFrameBytes: number) {}

  get midFrame(): boolean {
    return this.bodyLength >= 0 || this.buf.byteLength > 0;
  }

  *push(chunk: Uint8Array | Uint8ArrayList): Generator<Uint8Array> {
    this.buf.append(chunk);
    for (;;) {
      if (this.bodyLength < 0 && !this.readPrefix()) return;
      if (this.buf.byteLength < this.bodyLength) return;
      const frame = this.buf.subarray(0, this.bodyLength);
      this.buf.consume(this.bodyLength);
      this.bodyLength = -1;
      yield frame;
    }
  }

  /** Consumes a whole length prefix if one is buffered; false if more bytes are needed. */
  private readPrefix(): boolean {
    let length = 0;
    for (let i = 0; i < this.buf.byteLength; i++) {
      if (i === MAX_PREFIX_BYTES) throw new DecodeError(`frame length prefix longer than ${MAX_PREFIX_BYTES} bytes`);
      const byte = this.buf.get(i);
      length += (byte & 0x7f) * 2 ** (7 * i);
      // Every further byte can only add to the length: refuse before the body arrives.
      if (length > this.maxFrameBytes) throw new FrameTooLargeError(`frame of at least ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
      if ((byte & 0x80) === 0) {
        this.buf.consume(i + 1);
        this.bodyLength = length;
        return true;
      }
    }
    return false;
  }
}

/**
 * Yields whole frames from `stream` until the peer closes its write side. Throws FrameTooLargeError
 * (after aborting the stream) for an oversized frame, DecodeError for a malformed prefix or a stream
 * that ends inside a frame, and the stream's error if it is reset. `onBytes` hears of every chunk
 * as it arrives (a watchdog's progress). Breaking out early leaves the stream to the caller. A frame may be a view into a received buffer: copy it to keep it long.
 *
 * Listens from the call on, not from the first next() (as an async generator function would): what
 * arrives while nobody listens stays in libp2p's buffer of the stream, yamux grants the sender more
 * window all the same, and the stream is reset once that buffer passes 4 MiB. Frames read here
 * instead count against PAUSE_AT, which pauses the stream and so stops the window.
 */
export function readFrames(stream: Stream, opts: { maxFrameBytes: number; onBytes?: (n: number) => void }): AsyncGenerator<Uint8Array> {
  if (stream.status === 'aborted' || stream.status === 'reset') return failed(new StreamClosedError(`stream was ${stream.status} before reading`));
  const decoder = new FrameDecoder(opts.maxFrameBytes);
  // Whole frames not yet taken by the consumer; a head index, because shift() is O(n).
  const queue: Uint8Array[] = [];
  let head = 0;
  let queued = 0;
  let failure: Error | undefined;
  let ended = stream.readableEnded;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };

  const onMessage = (evt: { data: Uint8Array | Uint8ArrayList }): void => {
    if (failure !== undefined) return;
    opts.onBytes?.(evt.data.byteLength); // progress as bytes arrive, not only when a frame is whole
    try {
      for (const frame of decoder.push(evt.data)) {
        queue.push(frame);
        queued += frame.byteLength;
      }
    } catch (err) {
      failure = err as Error;
      stream.abort(failure);
    }
    if (queued >= PAUSE_AT && stream.readStatus === 'readable') stream.pause();
    notify();
  };
  // 'end' comes once the peer closed its write side and everything buffered has been delivered.
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onClose = (evt: { error?: Error }): void => {
    if (evt.error !== undefined) failure ??= evt.error;
    notify();
  };
  stream.addEventListener('message', onMessage);
  stream.addEventListener('end', onEnd);
  stream.addEventListener('close', onClose);
  return (async function* (): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        if (head < queue.length) {
          const frame = queue[head++]!;
          if (head === queue.length) {
            queue.length = 0;
            head = 0;
          }
          queued -= frame.byteLength;
          if (queued <= RESUME_AT && stream.readStatus === 'paused') stream.resume();
          yield frame;
          continue;
        }
        if (failure !== undefined) throw failure;
        if (ended) {
          if (decoder.midFrame) throw new DecodeError('stream ended inside a frame');
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      stream.removeEventListener('message', onMessage);
      stream.removeEventListener('end', onEnd);
      stream.removeEventListener('close', onClose);
    }
  })();
}

/** A reader that fails at its first next(), as readFrames' others do. */
async function* failed(err: Error): AsyncGenerator<Uint8Array> {
  throw err;
}

// Small frames are gathered up to this size before one send(): each send costs ~30 µs.
const COALESCE_BYTES = 64 * 1024;

/**
 * Writes length-prefixed frames. write() queues a frame; it goes to the stream (one send() for many
 * small frames) when 64 KiB are queued, at the next setImmediate, on flush() or on close(), so a
 * lone small frame waits well under a millisecond. write() waits while the stream is backed up, so a
 * producer that awaits it cannot outrun the peer. The frame is not copied until it is sent: do not
 * change its bytes before flush() resolves.
 */
export class FrameWriter {
  private pending = new Uint8ArrayList();
  private timer: NodeJS.Immediate | undefined;
  private failure: Error | undefined;
  private closed = false;
  /** Bytes handed to the stream so far (prefixes included); some may still be in its write buffer. */
  written = 0;

  constructor(private readonly stream: Stream) {}

  async write(frame: Uint8Array): Promise<void> {
    this.checkWritable();
    this.pending.append(encodeVarint(frame.byteLength), frame);
    if (this.pending.byteLength >= COALESCE_BYTES) await this.flush();
    else this.timer ??= setImmediate(() => this.flushSoon());
  }

  /** Resolves once every queued frame has been handed to the stream and the stream is not backed up. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      await this.drained();
      if (this.pending.byteLength === 0) return;
      // Taking and sending in one synchronous step keeps concurrent flushes in order. One contiguous
      // buffer: noise encrypts, and TCP writes, each piece of a Uint8ArrayList separately.
      const chunk = this.pending.subarray();
      this.pending = new Uint8ArrayList();
      try {
        this.written += chunk.byteLength;
        this.stream.send(chunk);
      } catch (err) {
        this.failure = new StreamClosedError(`cannot send frames: ${(err as Error).message}`, { cause: err });
        throw this.failure;
      }
    }
  }

  /** Flushes, then closes the write side of the stream (the peer's readFrames ends). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearImmediate(this.timer);
    this.timer = undefined;
    await this.flush();
    await this.stream.close();
  }

  private flushSoon(): void {
    this.timer = undefined;
    // A failure is kept in this.failure and thrown by the next write, flush or close.
    this.flush().catch(() => undefined);
  }

  private checkWritable(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new StreamClosedError('write after the frame writer was closed');
  }

  /**
   * Waits for the stream's 'drain' while it needs one. Not stream.onDrain(): in @libp2p/utils 7.4
   * its promise is never renewed, so after the first drain it resolves at once.
   */
  private async drained(): Promise<void> {
    while (this.stream.writableNeedsDrain) {
      if (this.stream.status !== 'open') throw (this.failure = new StreamClosedError(`stream is ${this.stream.status}`));
      await new Promise<void>((resolve, reject) => {
        const done = (evt: Event): void => {
          this.stream.removeEventListener('drain', done);
          this.stream.removeEventListener('close', done);
          if (evt.type === 'drain') resolve();
          else reject((this.failure = new StreamClosedError('stream closed while waiting to send')));
        };
        this.stream.addEventListener('drain', done);
        this.stream.addEventListener('close', done);
      });
    }
  }
}

function encodeVarint(value: number): Uint8Array {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return Uint8Array.from(out);
}
