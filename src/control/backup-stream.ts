// POST /v1/backup/stream: the body is a node clock (codec.ts encoding; empty for a full backup),
// the answer is everything the node holds that the clock lacks, from one read snapshot, as
// length-prefixed frames (src/backup/frames.ts): HEAD, DELTA..., END. The client writes the
// repository; the daemon only reads. Writing waits for the socket to drain, so a slow client holds
// one read snapshot, not the keyspace in memory, and a client that goes away ends the stream.

import type { ServerResponse } from 'node:http';
import { decodeClock } from '../core/codec.js';
import { encodeChunk, encodeHead, END_FRAME, prefix } from '../backup/frames.js';
import type { NodeApi } from './api.js';

/** A clock of a million runs is far beyond any real one. */
export const MAX_SINCE_BYTES = 64 * 1024 * 1024;

export async function serveBackupStream(res: ServerResponse, api: NodeApi, body: Uint8Array): Promise<void> {
  const since = decodeClock(body); // a DecodeError becomes a 400 before anything is sent
  const view = api.changes(since);
  let gone = false;
  let wake = () => {};
  res.once('close', () => ((gone = true), wake()));
  const send = async (frame: Uint8Array) => {
    res.write(prefix(frame));
    if (res.write(frame) || gone) return;
    await new Promise<void>((ok) => {
      wake = ok;
      res.once('drain', ok);
    });
    res.removeListener('drain', wake);
  };
  try {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    await send(encodeHead(view));
    for (const chunk of view.chunks) {
      if (gone) return;
      await send(encodeChunk(chunk));
    }
    res.end(Buffer.concat([prefix(END_FRAME), END_FRAME]));
  } finally {
    view.close();
  }
}
