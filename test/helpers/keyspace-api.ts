// A NodeApi over a Keyspace in this process, for the Redis protocol tests that need no daemon:
// the key operations go to the keyspace; peers, write concern and the rest are the test's.
import type { NodeApi, PeerInfo, Status } from '../../src/control/api.js';
import type { Clock } from '../../src/core/clock.js';
import type { Keyspace } from '../../src/store/keyspace.js';
import { WriteConcern } from '../../src/sync/write-concern.js';
import { IDLE_GC } from './status.js';

/** `held`: per peer, the dots it holds (WAIT counts them); `peers`: what peers() answers. */
export function keyspaceApi(ks: Keyspace, opts: { held?: Clock[]; peers?: PeerInfo[] } = {}): NodeApi {
  const held = opts.held ?? [];
  const concern = new WriteConcern(() => held);
  const unused = () => Promise.reject(new Error('not used by the Redis protocol'));
  return {
    write: (ops) => ks.write(ops),
    read: (k) => ks.read(k),
    get: (k) => ks.get(k),
    expire: (k, at) => ks.expire(k, at),
    expiryOf: (k) => ks.expiryOf(k),
    scan: (o) => ks.scan(o),
    status: () => ({ keys: ks.summary().keys, version: '0.0.0-test', uptimeSeconds: 1, peerId: 'p', replicaId: ks.replicaId, state: 'ready', peers: [], ...IDLE_GC }) as unknown as Status,
    peers: () => opts.peers ?? [],
    awaitReplicas: (dots, c) => concern.wait(dots, c.w === 'all' ? 1 + held.length : c.w, c.timeoutMs),
    verify: unused,
    repair: unused,
    changes: (s) => ks.changes(s),
    forget: unused,
  };
}
