// replikv as a library: `import { connect } from 'replikv'`. A typed client of the local daemon
// over its control socket (docs/control-api.md). Loads no daemon code: no libp2p, no LMDB.
//
//   const db = connect({ dataDir: './data' });
//   await db.put('user:1', 'ada', { ttl: 3600, w: 2 });
//   for await (const { key, value } of db.scan({ prefix: 'user:' })) console.log(key, value.toString());
//   for await (const ev of db.watch({ prefix: 'user:' })) if (ev.type === 'change') console.log(ev.key, ev.deleted);

import { ReplikvClient, type ConnectOptions } from './control/replikv-client.js';

/** A client of the daemon of `dataDir` (default ./data) or of the control `socket` given. Connects per call. */
export function connect(opts: ConnectOptions = {}): ReplikvClient {
  return new ReplikvClient(opts);
}

export { ReplikvClient, socketOf, type ConnectOptions, type KeyRecord, type PutOptions, type ScanOptions } from './control/replikv-client.js';
export type { ChangeEvent, FeedEvent, HelloEvent, MissedEvent, Sibling, WatchOptions } from './control/watch-feed.js';
export type { ImportRecord, ImportSource } from './control/import-source.js';
export { DaemonUnavailableError, RequestError, type WriteOptions } from './control/client.js';
export { InvalidKeyError, InvalidValueError, InvalidTokenError, ReplikvError } from './errors.js';
export type { ForgetReply, PeerInfo, RepairReply, SignedForget, Status, VerifyReport } from './control/api.js';
export type { ImportReply, PersistReply, TtlReply, WriteReply } from './control/wire.js';
