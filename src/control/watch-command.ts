// `replikv watch`: the change feed on the terminal. Text: one line per change; --json: the
// feed's NDJSON events with their positions. When the daemon goes away it reconnects and resumes
// from the last position; the daemon says when changes were missed (e.g. it restarted), and
// that is printed. SIGINT or SIGTERM ends it with exit 0.

import { ReplikvClient } from './replikv-client.js';
import type { FeedEvent } from './watch-feed.js';
import type { Io, Target } from './commands.js';
import { toJsonValueOrNull, toSiblingJson, type WatchEvent } from './wire.js';

const REASONS = {
  restarted: 'the daemon restarted',
  evicted: 'they are no longer held by the daemon',
  overflow: 'this watcher read too slowly',
  unknown: 'the position given was never reached by this daemon',
} as const;

export async function watchCommand(o: Target & { prefix?: string; since?: string; socket: string }, io: Io): Promise<void> {
  const client = new ReplikvClient({ socket: o.socket });
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop).once('SIGTERM', stop);
  try {
    for await (const ev of client.watch({ prefix: o.prefix, since: o.since, reconnect: true, signal: ac.signal })) {
      if (ev.type === 'hello' && ev.resumedAfter !== undefined) process.stderr.write(`replikv: reconnected to the daemon, resuming after ${ev.resumedAfter}\n`);
      const out = o.json ? JSON.stringify(toWire(ev)) + '\n' : textLine(ev);
      if (out !== '' && !io.stdout.write(out)) await new Promise<void>((ok) => io.stdout.once('drain', ok));
    }
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
    client.close();
  }
}

/** "KEY = VALUE  (2 siblings, replicated)", "KEY deleted  (1 sibling, local)", or a missed-changes notice. */
export function textLine(ev: FeedEvent): string {
  if (ev.type === 'hello') return '';
  if (ev.type === 'missed') return `-- missed changes up to ${ev.pos}: ${REASONS[ev.reason]}; rescan the keys you track --\n`;
  const n = `${ev.siblings.length} sibling${ev.siblings.length === 1 ? '' : 's'}`;
  const what = ev.value === null ? 'deleted' : `= ${shown(ev.value.toString('utf8'))}`;
  return `${shown(ev.key)} ${what}  (${n}, ${ev.origin})\n`;
}

/** As it is, or JSON-quoted when it holds control characters (a newline would break the line). */
const shown = (s: string) => (/[\x00-\x1f\x7f]/.test(s) ? JSON.stringify(s) : s);

/** The event as the daemon sent it (values as text, or base64 when not UTF-8). */
export function toWire(ev: FeedEvent): WatchEvent {
  if (ev.type === 'hello') return { type: ev.type, pos: ev.pos };
  if (ev.type !== 'change') return ev;
  const { type, pos, key, origin, deleted } = ev;
  return { type, pos, key, origin, deleted, ...toJsonValueOrNull(ev.value), siblings: ev.siblings.map(toSiblingJson) };
}
