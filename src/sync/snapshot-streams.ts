// Snapshot streams, both ends: a requester reads a peer's keyspace (whole, in key order after a
// key it already has, for a bootstrap or a repair; or narrowed to what a clock lacks, for a heal),
// and a node serves one from a single read transaction. What the requester does with the chunks
// (check heads, merge, repair) is bootstrap.ts's, healer.ts's and integrity.ts's business.

import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { chunkEntries, type DeltaEntry, type DeltaLimits } from '../core/delta.js';
import type { Head } from '../core/head.js';
import type { FrameWriter } from '../net/frames.js';
import type { Keyspace } from '../store/keyspace.js';
import type { SyncEvents } from './events.js';
import { decodeMessage, encodeSnapBegin, encodeSnapChunk, encodeSnapRequest, MSG, SNAP_END_MESSAGE, type SnapRequestMessage } from './messages.js';
import { ProtocolError, type PeerStreams } from './peer-streams.js';

/** A peer's snapshot being streamed: what it reflects, its live key count, and its chunks in key order. */
export interface SnapshotStream {
  clock: Clock;
  keys: number;
  /** The heads that vouch for the snapshot's counters. */
  heads: Head[];
  /** The peer's GC frontier: the writes it collected, which the snapshot therefore lacks. */
  frontier: Clock;
  chunks: AsyncGenerator<DeltaEntry[]>;
  /** Frame bytes received on the stream so far (what a heal costs). */
  received: { readonly bytes: number };
}

export interface SnapshotDeps {
  ks: Keyspace;
  streams: PeerStreams;
  events: SyncEvents;
  log: Logger;
  limits: DeltaLimits;
  maxFrameBytes: number;
  stopped: () => boolean;
}

export class SnapshotStreams {
  constructor(private readonly d: SnapshotDeps) {}

  /**
   * Opens a snapshot stream from a peer (its keyspace in key order after `after`, one read
   * transaction on its side): the snapshot's clock and live key count, then the chunks, which end
   * at SNAP_END. 'busy' when the peer is bootstrapping or repairing. `signal` aborts the stream.
   */
  async from(peer: string, after: Uint8Array = new Uint8Array(0), signal?: AbortSignal, since?: Clock): Promise<SnapshotStream | 'busy'> {
    const stream = await this.d.streams.open(peer, signal);
    const stopping = (): void => stream.abort(new Error('stopping'));
    signal?.addEventListener('abort', stopping, { once: true });
    const writer = this.d.streams.writerFor(stream);
    const received = { bytes: 0 };
    const frames = this.d.streams.framesOf(stream, this.d.maxFrameBytes, received);
    const unwatch = this.d.streams.watch(stream, received, writer);
    // Every end of this stream (SNAP_END, busy, failure, stop) removes both: a bootstrap retries often.
    const done = (): void => {
      unwatch();
      signal?.removeEventListener('abort', stopping);
    };
    try {
      await writer.write(encodeSnapRequest(after, since));
      await writer.flush();
      const first = await frames.next();
      const begin = first.done === true ? undefined : decodeMessage(first.value);
      if (begin?.type === MSG.busy) {
        done();
        await writer.close().catch(() => {});
        return 'busy';
      }
      if (begin?.type !== MSG.snapBegin) throw new ProtocolError(`expected SNAP_BEGIN, got ${begin === undefined ? 'the end of the stream' : `message type ${begin.type}`}`);
      const chunks = async function* (): AsyncGenerator<DeltaEntry[]> {
        try {
          for await (const frame of frames) {
            const m = decodeMessage(frame);
            if (m.type === MSG.snapEnd) return void (await writer.close().catch(() => {}));
            if (m.type !== MSG.snapChunk) throw new ProtocolError(`unexpected message type ${m.type} in a snapshot stream`);
            yield m.entries;
          }
          throw new ProtocolError('the snapshot stream ended before SNAP_END');
        } catch (err) {
          stream.abort(err as Error);
          throw err;
        } finally {
          done();
        }
      };
      return { clock: begin.clock, keys: begin.keys, heads: begin.heads, frontier: begin.frontier, chunks: chunks(), received };
    } catch (err) {
      done();
      stream.abort(err as Error);
      throw err;
    }
  }


  /** Streams one consistent snapshot in key order, after the key the requester already has. */
  async serve(peer: string, writer: FrameWriter, req: SnapRequestMessage): Promise<void> {
    if (req.since !== undefined) return this.serveRecent(writer, req.since);
    const snap = this.d.ks.snapshot();
    let served = false;
    try {
      await writer.write(encodeSnapBegin(snap.clock, snap.keys, snap.heads, snap.frontier));
      const after = req.after.length > 0 ? Buffer.from(req.after) : undefined;
      // writer.write waits while the requester is behind
      for (const chunk of chunkEntries(snap.entries(after), this.d.limits)) {
        await writer.write(encodeSnapChunk(chunk.entries));
        this.d.events.keysSent(chunk.entries.length);
      }
      await writer.write(SNAP_END_MESSAGE);
      await writer.close();
      served = true;
    } finally {
      this.d.events.snapshotServed(served ? 'complete' : 'aborted');
      // A requester that stops reading is cut by the watchdog (watch): the read transaction goes with it.
      snap.close();
      if (!served && !this.d.stopped()) this.d.log.info({ peer }, 'snapshot to peer aborted; its read transaction is released');
    }
  }

  /**
   * A narrowed heal request: the keys holding a live dot `since` lacks (delta selection, one read
   * snapshot), as a snapshot stream without key count. Nothing is claimed. Its heads are those of
   * the replicas this node knows past `since`: writes landing between the asker's comparison and
   * this read name counters past what the asker holds, and a chunk without their heads is refused.
   */
  private async serveRecent(writer: FrameWriter, since: Clock): Promise<void> {
    const s = this.d.ks.summary();
    const heads = s.clock.replicas().flatMap((r) => {
      const h = s.clock.max(r) > since.max(r) ? this.d.ks.headOf(r) : undefined;
      return h === undefined ? [] : [h];
    });
    await writer.write(encodeSnapBegin(s.clock, 0, heads, s.frontier));
    for (const chunk of this.d.ks.delta(since, this.d.limits)) {
      if (chunk.entries.length === 0) continue;
      await writer.write(encodeSnapChunk(chunk.entries));
      this.d.events.keysSent(chunk.entries.length);
    }
    await writer.write(SNAP_END_MESSAGE);
    await writer.close();
  }
}
