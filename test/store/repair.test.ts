// Repair of a damaged LMDB store from a healthy peer's snapshot, damage injected into the real files.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import type { DeltaEntry } from '../../src/core/delta.js';
import { behindFrontier } from '../../src/core/gc.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { repairFromSnapshot } from '../../src/store/repair.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'replikv-repair-'));
  dirs.push(d);
  return d;
};
const txt = (u: Uint8Array | undefined) => (u === undefined ? undefined : Buffer.from(u).toString());

/** Syncs `to` with everything `from` holds (a full delta). */
async function sync(from: Keyspace, to: Keyspace): Promise<void> {
  for (const chunk of from.delta(to.summary().clock)) await to.applyDelta(chunk);
}

function chunksOf(snap: ReturnType<Keyspace['snapshot']>, size: number): DeltaEntry[][] {
  const out: DeltaEntry[][] = [];
  for (const e of snap.entries()) {
    if (out.length === 0 || out[out.length - 1]!.length === size) out.push([]);
    out[out.length - 1]!.push({ key: Buffer.from(e.key), state: Buffer.from(e.state) });
  }
  return out;
}

/** Damages the store behind the keyspace's back, as a failing disk would. */
async function damage(dir: string, fn: (states: ReturnType<ReturnType<typeof openLmdb>['openDB']>) => void): Promise<void> {
  const root = openLmdb({ path: join(dir, 'store'), maxDbs: 4 });
  const states = root.openDB({ name: 'states', encoding: 'binary', keyEncoding: 'binary' });
  await root.transaction(() => fn(states));
  await root.close();
}

describe('repair from a peer snapshot', () => {
  it('mends changed, lost and unreadable states, keeps writes only this node holds, and recounts the totals', async () => {
    const peer = await Keyspace.openDir(tmp());
    for (let i = 0; i < 300; i++) await peer.put(`k/${String(i).padStart(3, '0')}`, Buffer.from(`value ${i}`));
    await peer.del('k/100');
    const dir = tmp();
    let node = await Keyspace.openDir(dir);
    await sync(peer, node);
    expect(node.summary().digest).toBe(peer.summary().digest);
    await node.put('only-here', Buffer.from('mine'));
    await node.put('k/001', Buffer.from('my newer value'));
    await node.close();

    await damage(dir, (states) => {
      const k5 = Buffer.from('k/005');
      const bytes = Buffer.from(states.get(k5) as Buffer);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0x01, bytes.length - 1); // a flipped bit in the value: still decodes, wrong content
      states.put(k5, bytes);
      states.remove(Buffer.from('k/006')); // a lost state
      states.put(Buffer.from('k/007'), Buffer.from([0xff, 0xfe, 0x00])); // unreadable
      states.put(Buffer.from('zz-stray'), Buffer.from(states.get(Buffer.from('k/200')) as Buffer)); // a state under a wrong key
    });
    node = await Keyspace.openDir(dir);
    const before = node.recompute();
    expect(before.unreadable).toBe(1);
    expect(before.digest).not.toBe(before.stored.digest);

    const snap = peer.snapshot();
    const report = await repairFromSnapshot(node, snap.clock, chunksOf(snap, 64), snap.heads);
    snap.close();
    expect(report.received).toBe(300);
    expect(report.replaced).toBeGreaterThanOrEqual(3); // k/005, k/006, k/007 (k/001 and only-here are kept)
    expect(report.removed).toBe(0); // zz-stray is readable: a peer's snapshot without it proves nothing
    const after = node.recompute();
    expect(after).toMatchObject({ unreadable: 0, digest: after.stored.digest, keys: after.stored.keys });
    expect(txt(node.get('k/005'))).toBe('value 5');
    expect(txt(node.get('k/006'))).toBe('value 6');
    expect(txt(node.get('k/007'))).toBe('value 7');
    expect(txt(node.get('zz-stray'))).toBe('value 200'); // kept; the operator deletes it by hand
    await node.del('zz-stray');
    expect(node.get('k/100')).toBeUndefined();
    expect(txt(node.get('only-here'))).toBe('mine');
    expect(txt(node.get('k/001'))).toBe('my newer value');
    expect(node.summary().clock.coversClock(peer.summary().clock)).toBe(true);

    // once the peer has this node's own writes too, both hold exactly the same keyspace
    await sync(node, peer);
    await sync(peer, node);
    expect(node.summary().digest).toBe(peer.summary().digest);
    expect(node.summary().keys).toBe(300 - 1 + 1);
    await node.close();
    await peer.close();
  });

  it('changes nothing on a healthy node', async () => {
    const peer = await Keyspace.openDir(tmp());
    for (let i = 0; i < 50; i++) await peer.put(`k/${i}`, Buffer.from(`v${i}`));
    const node = await Keyspace.openDir(tmp());
    await sync(peer, node);
    await node.put('mine', Buffer.from('x'));
    const { digest, clock } = node.summary();
    const snap = peer.snapshot();
    const report = await repairFromSnapshot(node, snap.clock, chunksOf(snap, 7), snap.heads);
    snap.close();
    expect(report).toMatchObject({ received: 50, replaced: 0, removed: 0, digestBefore: digest, digestAfter: digest });
    expect(node.summary().clock.equals(clock)).toBe(true);
    await node.close();
    await peer.close();
  });
});

describe('a snapshot of a peer that collected its newest writes', () => {
  /** A store whose replica's last five writes are deletes, collected (alone, every write is stable). */
  async function collectedPeer(): Promise<Keyspace> {
    const peer = await Keyspace.openDir(tmp());
    for (let i = 0; i < 10; i++) await peer.put(`k/${i}`, Buffer.from(`v${i}`));
    for (let i = 0; i < 5; i++) await peer.del(`k/${i}`);
    expect(await peer.collectGarbage(peer.summary().clock)).toMatchObject({ keys: 5, siblings: 5 });
    return peer;
  }

  it('bootstrap: the claim under the peer\'s GC frontier is believed, so the node is not left behind its horizon', async () => {
    const peer = await collectedPeer();
    const snap = peer.snapshot();
    const entries = chunksOf(snap, 100).flat();
    const { clock, frontier, heads } = snap;
    snap.close();
    // No state names the collected deletes: on the states alone the claim is cut short of them...
    const cut = await Keyspace.openDir(tmp());
    await cut.applyDelta({ entries, claim: Clock.empty(), heads });
    expect((await cut.applyDelta({ entries: [], claim: clock, heads })).claimCut).toBe(true);
    expect(behindFrontier(cut.summary().clock, frontier)).toBe(5);
    // ...and with the peer's frontier as evidence it is whole.
    const node = await Keyspace.openDir(tmp());
    await node.applyDelta({ entries, claim: Clock.empty(), heads });
    expect((await node.applyDelta({ entries: [], claim: clock, heads }, { collected: frontier })).claimCut).toBe(false);
    expect(node.summary().clock.equals(clock)).toBe(true);
    expect(behindFrontier(node.summary().clock, frontier)).toBe(0);
    await Promise.all([cut.close(), node.close(), peer.close()]);
  });

  it('repair: a node that missed the deletes takes in the peer\'s clock and frontier, and loses the deleted keys', async () => {
    const peer = await Keyspace.openDir(tmp());
    for (let i = 0; i < 10; i++) await peer.put(`k/${i}`, Buffer.from(`v${i}`));
    const node = await Keyspace.openDir(tmp());
    await sync(peer, node);
    for (let i = 0; i < 5; i++) await peer.del(`k/${i}`);
    await peer.collectGarbage(peer.summary().clock);
    const snap = peer.snapshot();
    await repairFromSnapshot(node, snap.clock, chunksOf(snap, 3), snap.heads, snap.frontier);
    snap.close();
    const s = node.summary();
    expect(s.clock.equals(peer.summary().clock)).toBe(true);
    expect(behindFrontier(s.clock, peer.summary().frontier)).toBe(0);
    expect(s.frontier.coversClock(peer.summary().frontier)).toBe(true);
    expect([s.digest, s.keys]).toEqual([peer.summary().digest, 5]);
    expect(node.get('k/0')).toBeUndefined();
    await Promise.all([node.close(), peer.close()]);
  });
});
