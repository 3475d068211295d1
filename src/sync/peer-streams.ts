// Sync streams to and from peers: opening one with a deadline on the opening only, framing both
// ways with every byte counted for status, and the watchdog that aborts a stream on which nothing
// moves. The replicator's exchanges, pushes and snapshot streams all go through here, so a rule
// about streams (time-outs, byte counts) is written once.

import type { Libp2p, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { ReplikvError } from '../errors.js';
import { FrameWriter, readFrames } from '../net/frames.js';
import { SYNC_PROTOCOL } from './messages.js';
import { bytesMoved, checkStall, type StallState } from './stall.js';

/** A peer broke the protocol; its stream is closed, the daemon goes on. */
export class ProtocolError extends ReplikvError {
  override readonly code = 'PROTOCOL_ERROR';
}

/**
 * Opening a sync stream: a dial if the peer is not connected, then protocol negotiation. Generous,
 * for a loaded machine; it bounds only the opening, never the transfer on the open stream.
 */
const OPEN_STREAM_TIMEOUT_MS = 30_000;
/**
 * A transfer that owes bytes either way and moved none for this long is stalled and aborted
 * (stall.ts). Bytes, not frames: a 16 MiB frame over a slow link takes minutes to complete.
 */
export const TRANSFER_IDLE_MS = 30_000;

/** Sync traffic since start: frame bytes (framing included, transport overhead not) and keys applied. */
export interface Transfer {
  bytesReceived: number;
  bytesSent: number;
  keysReceived: number;
}

/** One stream's framing: frames in, a writer out, and the bytes received so far (what the watchdog reads). */
export interface Channel {
  frames: AsyncGenerator<Uint8Array>;
  writer: FrameWriter;
  received: { bytes: number };
}

export class PeerStreams {
  readonly transfer: Transfer = { bytesReceived: 0, bytesSent: 0, keysReceived: 0 };

  constructor(
    private readonly node: Libp2p,
    readonly idleMs: number = TRANSFER_IDLE_MS,
  ) {}

  /** Frames and a writer on `stream`, counted; frames larger than `maxFrameBytes` abort it. */
  channel(stream: Stream, maxFrameBytes: number): Channel {
    const received = { bytes: 0 };
    return { frames: this.framesOf(stream, maxFrameBytes, received), writer: this.writerFor(stream), received };
  }

  /**
   * Frames from `stream`; `received` (if given) counts bytes as they arrive, for watch(). Listening
   * starts here, not at the first next(): see readFrames.
   */
  framesOf(stream: Stream, maxFrameBytes: number, received?: { bytes: number }): AsyncGenerator<Uint8Array> {
    const onBytes = received === undefined ? undefined : (n: number) => (received.bytes += n);
    const frames = readFrames(stream, { maxFrameBytes, onBytes });
    const transfer = this.transfer;
    return (async function* (): AsyncGenerator<Uint8Array> {
      for await (const frame of frames) {
        transfer.bytesReceived += frame.length + 1;
        yield frame;
      }
    })();
  }

  writerFor(stream: Stream): FrameWriter {
    return new CountingWriter(stream, (n) => (this.transfer.bytesSent += n + 1));
  }

  /**
   * Opens a sync stream to `peer`. The deadline bounds only the opening (a dial if not connected,
   * then protocol negotiation): its timer is cleared as soon as the stream is open, so nothing
   * libp2p kept of the signal can cut the transfer that follows. `signal` cancels the opening too.
   */
  async open(peer: string, signal?: AbortSignal): Promise<Stream> {
    signal?.throwIfAborted();
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new Error(`no stream to the peer within ${OPEN_STREAM_TIMEOUT_MS} ms`)), OPEN_STREAM_TIMEOUT_MS);
    const cancel = (): void => deadline.abort(signal?.reason);
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await this.node.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, { signal: deadline.signal });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancel);
    }
  }

  /**
   * Aborts `stream` once it owes bytes either way (`busy`) and none moved for the idle time:
   * neither received (`received`, counted by framesOf) nor taken by the peer from what `writer` sent.
   * Returns the function that ends the watch; it also ends when the stream closes.
   */
  watch(stream: Stream, received: { bytes: number }, writer: FrameWriter, busy: () => boolean = () => true): () => void {
    const moved = (): number => bytesMoved(received.bytes, writer.written, stream.writeBufferLength);
    let state: StallState = { moved: moved(), at: Date.now() };
    const timer = setInterval(() => {
      const check = checkStall(state, moved(), busy(), Date.now(), this.idleMs);
      state = check.state;
      if (check.stalled) stream.abort(new ProtocolError(`no bytes moved either way for ${this.idleMs} ms`));
    }, this.idleMs / 10);
    timer.unref();
    const stop = (): void => {
      clearInterval(timer);
      stream.removeEventListener('close', stop);
    };
    stream.addEventListener('close', stop);
    return stop;
  }

  /**
   * Aborts an inbound stream whose first message does not keep coming: a stream must say what it
   * is, or it only holds a slot (a first PUSH of 16 MiB over a slow link takes minutes, and is not
   * silent). Returns the function that ends the watch.
   */
  watchFirst(stream: Stream, received: { bytes: number }): () => void {
    let quiet: StallState = { moved: 0, at: Date.now() };
    const silent = setInterval(() => {
      const check = checkStall(quiet, received.bytes, true, Date.now(), this.idleMs);
      quiet = check.state;
      if (check.stalled) stream.abort(new ProtocolError(`no first message within ${this.idleMs} ms (no byte of it for that long)`));
    }, Math.max(50, Math.floor(this.idleMs / 8)));
    silent.unref();
    return () => clearInterval(silent);
  }
}

/** A FrameWriter that reports the size of every frame it is given. */
class CountingWriter extends FrameWriter {
  constructor(
    stream: Stream,
    private readonly count: (bytes: number) => void,
  ) {
    super(stream);
  }

  override write(frame: Uint8Array): Promise<void> {
    this.count(frame.length);
    return super.write(frame);
  }
}
