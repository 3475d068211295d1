// The library's change feed: the daemon's watch stream (GET /v1/watch) as typed events with
// values as bytes, and, when asked, reconnection that resumes from the last position seen. The
// daemon answers a resume it cannot serve (it restarted, or the changes left its ring) with a
// "missed" event first.

import { DaemonUnavailableError, RequestError, type ControlClient } from './client.js';
import type { SiblingJson, WatchEvent } from './wire.js';

/** A version of a key's value (a deletion has value null). */
export interface Sibling {
  value: Buffer | null;
  replica: string;
  counter: number;
  hlc: number;
  deleted: boolean;
  /** When the value expires (ms since the epoch), if it does. */
  expireAt?: number;
}

/** The stream started (again): `pos` is the daemon's feed position at that moment. */
export interface HelloEvent {
  type: 'hello';
  pos: string;
  /** On a reconnection (`reconnect`): the position the watch resumes after (the last event's). */
  resumedAfter?: string;
}

/** A committed change to a key, made on this node (`local`) or received from a peer (`replicated`). */
export interface ChangeEvent {
  type: 'change';
  /** Where the feed is after this change: pass it as `since` to resume after it. */
  pos: string;
  key: string;
  origin: 'local' | 'replicated';
  /** The key reads as absent after the change (deleted, expired, or gone). */
  deleted: boolean;
  /** The value a read now returns, or null. */
  value: Buffer | null;
  siblings: Sibling[];
}

/** Changes up to `pos` may have been missed (the daemon restarted, or they were dropped): rescan. */
export interface MissedEvent {
  type: 'missed';
  pos: string;
  reason: 'restarted' | 'evicted' | 'overflow' | 'unknown';
}

export type FeedEvent = HelloEvent | ChangeEvent | MissedEvent;

export interface WatchOptions {
  /** Only keys starting with this prefix. */
  prefix?: string;
  /** Resume after this position (an event's `pos`); without it, changes from now on. */
  since?: string;
  /**
   * When the daemon goes away after the stream started, connect again (every `retryMs`) and
   * resume from the last position. A first connection that fails still throws.
   */
  reconnect?: boolean;
  retryMs?: number;
  /** Ends the iteration. */
  signal?: AbortSignal;
}

export async function* watchFeed(control: ControlClient, opts: WatchOptions): AsyncGenerator<FeedEvent> {
  let pos = opts.since;
  let started = false;
  const { signal } = opts;
  for (;;) {
    const again = started ? pos : undefined; // where a reconnection resumes
    try {
      for await (const ev of control.watch({ prefix: opts.prefix, since: pos, signal })) {
        started = true;
        if (ev.type !== 'hello' || pos === undefined) pos = ev.pos;
        yield ev.type === 'hello' && again !== undefined ? { ...ev, resumedAfter: again } : fromWire(ev);
      }
    } catch (err) {
      if (!(opts.reconnect === true && started && isConnectionLoss(err))) throw err;
    }
    if (opts.reconnect !== true || aborted(signal)) return;
    await pause(opts.retryMs ?? 500, signal);
    if (aborted(signal)) return;
  }
}

const aborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

/** No daemon, or the connection broke (not a request the daemon refused). */
function isConnectionLoss(err: unknown): boolean {
  return err instanceof DaemonUnavailableError || (err instanceof RequestError && err.status === 0);
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export function fromWire(ev: WatchEvent): FeedEvent {
  if (ev.type !== 'change') return ev;
  return {
    type: 'change',
    pos: ev.pos,
    key: ev.key,
    origin: ev.origin,
    deleted: ev.deleted,
    value: bytesOf(ev),
    siblings: ev.siblings.map(siblingOf),
  };
}

/** A sibling of the wire (value as text or base64) with its value as bytes. */
export function siblingOf(s: SiblingJson): Sibling {
  return {
    value: bytesOf(s),
    replica: s.replica,
    counter: s.counter,
    hlc: s.hlc,
    deleted: s.deleted,
    ...(s.expireAt === undefined ? {} : { expireAt: s.expireAt }),
  };
}

/** A JSON-carried value as bytes (wire.ts: text when UTF-8, else base64; null when deleted). */
export function bytesOf(v: Pick<SiblingJson, 'value' | 'valueBase64'>): Buffer | null {
  if (typeof v.valueBase64 === 'string') return Buffer.from(v.valueBase64, 'base64');
  return typeof v.value === 'string' ? Buffer.from(v.value, 'utf8') : null;
}
