// `backup create`: asks the daemon for the changes since the parent's clock (everything, for a
// full backup) from one consistent snapshot, and packs the stream's DELTA frames unchanged into
// chunk files of about CHUNK_BYTES. Up to IN_FLIGHT chunks are compressed and written while the
// stream goes on. Nothing is visible in the repository until the manifest is in and renamed.

import type { Readable } from 'node:stream';
import { Clock } from '../core/clock.js';
import { encodeClock } from '../core/codec.js';
import { ReplikvError } from '../errors.js';
import { planBackup } from './chain.js';
import { COMPRESSION } from './chunk-codec.js';
import { BackupError } from './errors.js';
import { chunkEntryCount, decodeHead, FrameSplitter, isEnd, prefix, type StreamHead } from './frames.js';
import { clockOf, clockToText, type BackupType, type Manifest } from './manifest.js';
import type { Repo } from './repo.js';

export const CHUNK_BYTES = 4 * 1024 * 1024;
const IN_FLIGHT = 3;

export interface CreateProgress {
  /** Key states received so far, and the best guess of the total (live keys for a full backup, new writes otherwise). */
  entries: number;
  expected: number;
  bytes: number;
}

export interface CreateOptions {
  repo: Repo;
  type: BackupType;
  /** Opens the daemon's backup stream for an encoded clock (ControlClient.backupStream). */
  open: (since: Uint8Array) => Promise<Readable>;
  onProgress?: (p: CreateProgress) => void;
  /** A partial backup was taken as a full one, and why. */
  onPromoted?: (why: string) => void;
  now?: () => Date;
}

/** The daemon collected deletes the parent never saw: no change can carry them (see below). */
class CollectedSinceParent extends Error {}

export async function createBackup(o: CreateOptions): Promise<Manifest> {
  try {
    return await createOnce(o);
  } catch (err) {
    if (!(err instanceof CollectedSinceParent)) throw err;
    o.onPromoted?.(err.message);
    return createOnce({ ...o, type: 'full' });
  }
}

async function createOnce(o: CreateOptions): Promise<Manifest> {
  const plan = planBackup(await o.repo.manifests(), o.type);
  // The parent's clock decides what this backup leaves out: a forged (raised) one would drop writes.
  if (plan.parent !== null) o.repo.authenticate(plan.parent);
  const since = plan.parent === null ? Clock.empty() : clockOf(plan.parent.clock, `manifest of ${plan.parent.id}`);
  const time = (o.now?.() ?? new Date()).toISOString(); // the snapshot's moment, near enough
  const writer = await o.repo.writer(plan.id);
  let body: Readable | undefined;
  try {
    body = await o.open(encodeClock(since));
    const pending = new Set<Promise<unknown>>();
    let index = 0;
    let parts: Buffer[] = [];
    let partBytes = 0;
    let partEntries = 0;
    const progress = { entries: 0, expected: 0, bytes: 0 };
    const flush = async () => {
      if (parts.length === 0) return;
      const p = writer.addChunk(index++, Buffer.concat(parts, partBytes), partEntries);
      parts = [];
      partBytes = 0;
      partEntries = 0;
      pending.add(p);
      void p.finally(() => pending.delete(p)).catch(() => undefined);
      if (pending.size >= IN_FLIGHT) await Promise.race(pending);
    };

    let head: StreamHead | undefined;
    let ended = false;
    const splitter = new FrameSplitter();
    for await (const data of body as AsyncIterable<Buffer>) {
      for (const frame of splitter.push(data)) {
        if (ended) throw new BackupError('the daemon sent data after the end of the backup stream');
        if (head === undefined) {
          head = decodeHead(frame);
          // A delete the node collected after the parent was taken leaves no key state to send:
          // restored, the chain would bring back the value it deleted. Only a full backup is right.
          if (o.type !== 'full' && !since.coversClock(head.frontier)) {
            throw new CollectedSinceParent(`the node collected deletes the parent backup (${plan.parent!.id}) had not seen, which ${o.type === 'incremental' ? 'an' : 'a'} ${o.type} backup cannot carry; taken as a full backup instead`);
          }
          // at most one key state per write the parent lacks (fewer when a key was written twice)
          progress.expected = o.type === 'full' ? head.keys : head.clock.difference(since).size();
          continue;
        }
        if (isEnd(frame)) {
          ended = true;
          continue;
        }
        const n = chunkEntryCount(frame);
        parts.push(prefix(frame), frame);
        partBytes += 4 + frame.length;
        partEntries += n;
        progress.entries += n;
        progress.bytes += frame.length;
        o.onProgress?.({ ...progress, expected: Math.max(progress.expected, progress.entries) });
        if (partBytes >= CHUNK_BYTES) await flush();
      }
    }
    if (head === undefined || !ended) throw new BackupError('the backup stream from the daemon ended early; nothing was stored');
    await flush();
    await Promise.all(pending);
    const chunks = writer.written;
    const manifest = o.repo.sign({
      format: 3,
      id: plan.id,
      seq: plan.seq,
      type: o.type,
      parent: plan.parent?.id ?? null,
      time,
      since: plan.parent?.clock ?? clockToText(since),
      clock: clockToText(head.clock),
      digest: head.digest,
      keys: head.keys,
      entries: progress.entries,
      rawBytes: chunks.reduce((n, c) => n + c.rawBytes, 0),
      bytes: chunks.reduce((n, c) => n + c.bytes, 0),
      compression: COMPRESSION,
      encrypted: o.repo.encrypted,
      chunks,
      parentMac: plan.parent?.mac ?? null,
    });
    await writer.finish(manifest);
    return manifest;
  } catch (err) {
    body?.destroy();
    await writer.abort();
    if (err instanceof ReplikvError || err instanceof CollectedSinceParent) throw err;
    throw new BackupError(`the backup stream from the daemon broke off (${(err as Error).message}); nothing was stored`, { cause: err });
  }
}
