// Active push: local writes go to peers at once, on one long-lived push stream per peer, and the
// peer's ACK of each PUSH says it stored that push's dots (write concern counts only that). A push
// that fails is not retried here: the next sync exchange sends what the peer still lacks.

import type { Stream } from '@libp2p/interface';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { DeltaChunk, DeltaLimits } from '../core/delta.js';
import type { FrameWriter } from '../net/frames.js';
import type { Keyspace } from '../store/keyspace.js';
import type { SyncEvents } from './events.js';
import { decodeMessage, encodeEntries, MSG } from './messages.js';
import { ProtocolError, type PeerStreams } from './peer-streams.js';

/** Claims of recent pushes, kept until acknowledged; for an older one, a sync exchange sends the write again. */
const PUSH_CLAIMS_KEPT = 4096;

/** Our push stream to one peer: its writer, and PUSH frames written but not yet acknowledged. */
interface PushStream {
  writer: FrameWriter;
  unacked: number;
}

export interface PusherDeps {
  ks: Keyspace;
  streams: PeerStreams;
  events: SyncEvents;
  log: Logger;
  limits: DeltaLimits;
  /**
   * The peers a chunk of local writes is pushed to now (mesh: every connected peer; overlay: the
   * tree's eager peers, and the chunk is announced to the lazy ones, overlay-host.ts).
   */
  targets: (chunk: DeltaChunk) => string[];
  /** Told of every push stream this node opens (the overlay keeps such long-lived streams apart). */
  opened?: (stream: Stream) => void;
  /** A peer acknowledged holding these dots. */
  held: (peer: string, dots: Clock) => void;
}

export class Pusher {
  private readonly queue = new Set<string>();
  private scheduled = false;
  private readonly open = new Map<string, Promise<PushStream>>();
  private seq = 0;
  private readonly claims = new Map<number, Clock>();
  private stopped = false;

  constructor(private readonly d: PusherDeps) {}

  /** Keys of local writes just committed: pushed on the next turn of the event loop, batched. */
  pushed(keys: Iterable<string>): void {
    if (this.stopped) return;
    for (const k of keys) this.queue.add(k);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      // A push that fails is sent by the next sync exchange: never a reason to stop the daemon.
      this.flush().catch((err: unknown) => this.d.log.warn({ reason: (err as Error).message }, 'push failed; sync exchanges send these writes'));
    });
  }

  /** The connection to `peer` ended: its push stream with it. */
  lost(peer: string): void {
    this.open.delete(peer);
  }

  /** Closes every push stream (the daemon stops). */
  async stop(): Promise<void> {
    this.stopped = true;
    const writers = await Promise.allSettled(this.open.values());
    await Promise.allSettled(writers.map((w) => (w.status === 'fulfilled' ? w.value.writer.close() : undefined)));
    this.open.clear();
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.stopped || this.queue.size === 0) return;
    const keys = [...this.queue];
    this.queue.clear();
    // Chunks within the DELTA limits: one write of 200,000 keys (an MSET, an import) would otherwise
    // be one frame past what a peer accepts, refused as malformed.
    for (const chunk of this.d.ks.pushChunks(keys, this.d.limits)) {
      await this.pushChunk(this.d.targets(chunk), chunk);
      if (this.stopped || !this.d.ks.isOpen()) return; // the rest goes by sync exchanges, as any push lost
    }
  }

  /** Pushes one chunk to `peers` under this node's own seq (local writes, and the overlay's relays). */
  async pushChunk(peers: readonly string[], chunk: DeltaChunk): Promise<void> {
    if (peers.length === 0 || this.stopped) return;
    const seq = ++this.seq;
    this.claims.set(seq, chunk.claim);
    if (this.claims.size > PUSH_CLAIMS_KEPT) this.claims.delete(seq - PUSH_CLAIMS_KEPT);
    const frame = encodeEntries(MSG.push, chunk, seq);
    await Promise.all(peers.map((peer) => this.send(peer, frame, chunk.entries.length)));
  }

  /** `peer` left the overlay's active view: our push stream to it ends (its queued pushes go first). */
  close(peer: string): void {
    const open = this.open.get(peer);
    this.open.delete(peer);
    void open?.then((p) => p.writer.close()).catch(() => {});
  }

  private async send(peer: string, frame: Uint8Array, keys: number): Promise<void> {
    let open = this.open.get(peer);
    if (open === undefined) {
      open = this.d.streams.open(peer).then((stream) => {
        this.d.opened?.(stream);
        const push: PushStream = { writer: this.d.streams.writerFor(stream), unacked: 0 };
        const received = { bytes: 0 };
        // Stalled only while a push is unsent or unacknowledged: between pushes the stream idles.
        const unwatch = this.d.streams.watch(stream, received, push.writer, () => push.unacked > 0 || stream.writeBufferLength > 0);
        void this.readAcks(peer, stream, push, received).finally(unwatch);
        return push;
      });
      this.open.set(peer, open);
    }
    try {
      const push = await open;
      push.unacked++;
      await push.writer.write(frame);
      await push.writer.flush(); // the batching already happened in pushed(); do not wait another turn
      this.d.events.pushSent();
      this.d.events.keysSent(keys);
    } catch (err) {
      // The peer gets these writes through the next sync exchange instead.
      this.open.delete(peer);
      if (!this.stopped) this.d.log.debug({ peer, reason: (err as Error).message }, 'push failed');
    }
  }

  /** ACKs come back on the push stream: the peer now holds that push's claim. */
  private async readAcks(peer: string, stream: Stream, push: PushStream, received: { bytes: number }): Promise<void> {
    try {
      for await (const frame of this.d.streams.framesOf(stream, 1024, received)) {
        const m = decodeMessage(frame);
        if (m.type !== MSG.ack) throw new ProtocolError(`expected ACK on a push stream, got message type ${m.type}`);
        push.unacked = Math.max(0, push.unacked - 1);
        const claim = this.claims.get(m.seq);
        if (claim !== undefined) this.d.held(peer, claim);
      }
    } catch (err) {
      if (!this.stopped) this.d.log.debug({ peer, reason: (err as Error).message }, 'push stream closed');
      stream.abort(err as Error);
    } finally {
      // Only this stream's entry: after close(), a newer stream to the peer may be in the map.
      const current = this.open.get(peer);
      void current?.then((p) => p === push && this.open.get(peer) === current && this.open.delete(peer), () => {});
    }
  }
}
