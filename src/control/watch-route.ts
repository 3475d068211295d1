// GET /v1/watch?prefix=P&since=EPOCH:SEQ: the change feed (feed/change-feed.ts) as NDJSON, one
// event per line (wire.ts WatchEvent). The response is written with backpressure: while the
// reader is behind, changes wait in the watcher's bounded queue, and past its bound the reader is
// told it missed changes. A write never waits for a reader.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeKeyState } from '../core/codec.js';
import { ReplikvError } from '../errors.js';
import { formatPosition, parsePosition, type FeedPosition } from '../feed/feed-log.js';
import { type ChangeEntry, type ChangeFeed, type FeedMessage } from '../feed/change-feed.js';
import { readView } from '../store/keyspace.js';
import { toJsonValueOrNull, toSiblingJson, type WatchEvent } from './wire.js';

/** The change feed refuses another watcher (503). */
export class WatchRefusedError extends ReplikvError {
  override readonly code = 'TOO_MANY_WATCHERS';
}

/** A `since` or `prefix` that is not one (400 BAD_REQUEST, from the caller's type). */
export function watchParams(query: URLSearchParams, bad: (msg: string) => Error): { prefix: Uint8Array; since: FeedPosition | undefined } {
  const prefix = query.get('prefix') ?? '';
  if (!prefix.isWellFormed()) throw bad('prefix is not well-formed Unicode');
  const raw = query.get('since');
  const since = raw === null || raw === '' ? undefined : parsePosition(raw);
  if (raw !== null && raw !== '' && since === undefined) throw bad(`since must be a feed position EPOCH:SEQ (from an event's "pos"), got "${raw}"`);
  return { prefix: Buffer.from(prefix, 'utf8'), since };
}

export function serveWatch(
  req: IncomingMessage,
  res: ServerResponse,
  feed: ChangeFeed,
  params: ReturnType<typeof watchParams>,
  maxValueBytes: number,
  log: (obj: object) => void,
): void {
  if (feed.watching >= feed.limits.watchers) throw new WatchRefusedError(`the daemon serves at most ${feed.limits.watchers} watchers at once`);
  const sink = {
    // Called from a committed write's notification: a failure here ends this stream, never the write.
    send: (ev: FeedMessage) => {
      try {
        return res.write(JSON.stringify(toWatchEvent(ev, feed.epoch, maxValueBytes)) + '\n');
      } catch (err) {
        log({ msg: 'watch stream ended: an event could not be sent', error: (err as Error).message });
        res.destroy();
        return false;
      }
    },
    end: () => res.end(),
  };
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  const watcher = feed.watch(params.prefix, params.since, sink);
  res.on('drain', () => watcher.drained());
  res.once('close', () => watcher.close()); // the reader went away, or the server closed it
  req.resume();
}

/** A feed event as the wire carries it; a state that no longer decodes is shown as gone. */
export function toWatchEvent(ev: FeedMessage, epoch: string, maxValueBytes: number, now = Date.now()): WatchEvent {
  if (ev.type === 'hello') return { type: 'hello', pos: formatPosition({ epoch, seq: ev.seq }) };
  if (ev.type === 'missed') return { type: 'missed', pos: formatPosition({ epoch, seq: ev.seq }), reason: ev.reason };
  const e: ChangeEntry = ev.entry;
  const view = e.state === null ? undefined : readView(decodeKeyState(e.state, maxValueBytes), now);
  return {
    type: 'change',
    pos: formatPosition({ epoch, seq: e.seq }),
    key: Buffer.from(e.key).toString('utf8'),
    origin: e.origin,
    deleted: view === undefined || view.value === null,
    ...toJsonValueOrNull(view?.value ?? null),
    siblings: view === undefined ? [] : view.siblings.map(toSiblingJson),
  };
}
