// A restored node's catch-up by range reconciliation (sync/recon-recovery.ts), with real keyspaces
// over the real reconciliation shell: it takes the peer's changed states, drops a key the peer
// lacks only where the peer's GC frontier covers every write of it, keeps its own later writes,
// and fetches nothing it already holds.
import { afterEach, describe, expect, it } from 'vitest';
import { Keyspace } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import { recoverByRanges } from '../../src/sync/recon-recovery.js';
import { copyInto, piped } from '../helpers/recon-pipe.js';

const T0 = 1_800_000_000_000;
const time = { now: T0 };
const open: Keyspace[] = [];
afterEach(async () => {
  for (const ks of open.splice(0)) await ks.close();
});

async function node(): Promise<Keyspace> {
  const ks = await Keyspace.open(new MemoryBackend(), { now: () => time.now });
  open.push(ks);
  return ks;
}

const text = (ks: Keyspace, key: string) => {
  const v = ks.get(key);
  return v === undefined ? undefined : Buffer.from(v).toString();
};

describe('catch-up by range reconciliation', () => {
  it('takes the changed states, drops only keys whose writes the frontier covers, keeps its own later writes', async () => {
    time.now = T0;
    const [peer, restored] = [await node(), await node()];
    await peer.write(Array.from({ length: 500 }, (_, i) => ({ type: 'put' as const, key: `k/${i}`, value: Buffer.from(`first ${i}`) })));
    await copyInto(peer, restored); // the backup
    const changed = ['k/3', 'k/100', 'k/250', 'k/499'];
    const deleted = ['k/7', 'k/8', 'k/300', 'k/301'];
    await peer.write(changed.map((key) => ({ type: 'put' as const, key, value: Buffer.from(`second ${key}`) })));
    await peer.write(deleted.map((key) => ({ type: 'del' as const, key })));
    time.now += 60_000;
    while ((await peer.collectGarbage(peer.summary().clock)).more);
    expect(peer.gcStats().tombstones).toBe(0);
    // writes the peer never saw: a new key, and a new value of a key the peer deleted
    await restored.write([
      { type: 'put', key: 'only-here', value: Buffer.from('mine') },
      { type: 'put', key: 'k/300', value: Buffer.from('mine too') },
    ]);

    const traffic = { received: 0, sent: 0, roundTrips: 0 };
    const report = await recoverByRanges(restored, piped(restored, peer, traffic, () => time.now), 'peer');
    expect(report).toMatchObject({ received: changed.length, removed: 3 });
    for (const key of changed) expect(text(restored, key)).toBe(`second ${key}`);
    for (const key of ['k/7', 'k/8', 'k/301']) expect(text(restored, key)).toBeUndefined();
    expect(text(restored, 'only-here')).toBe('mine');
    expect(text(restored, 'k/300')).toBe('mine too');
    expect(text(restored, 'k/0')).toBe('first 0');
    expect(restored.summary().clock.covers(peer.summary().replicaId, peer.summary().clock.max(peer.summary().replicaId))).toBe(true);
    expect(restored.summary().frontier.isEmpty()).toBe(false);
  });
});
