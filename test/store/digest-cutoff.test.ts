// The state digest covers expiring values, at a cutoff time (state-hash.ts): nodes that collect an
// expired value at different moments still agree at any common cutoff, a value that differs only
// in an expiring sibling shows, the incremental digest equals a recount across cutoff moves, and a
// store from before the cutoff record is brought to one at open.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { encodeKeyState } from '../../src/core/codec.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import { decodeStoreState, encodeStoreState, META_DIGEST_AT, META_STATE } from '../../src/store/meta.js';
import { LASTING_ONLY } from '../../src/store/state-hash.js';
import { Digest } from '../../src/core/digest.js';
import { testReplica } from '../helpers/replicas.js';

const open: Keyspace[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const ks of open.splice(0)) await ks.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const T0 = 1_800_000_000_000;
const time = { now: T0 };

async function node(): Promise<Keyspace> {
  const ks = await Keyspace.open(new MemoryBackend(), { now: () => time.now });
  open.push(ks);
  return ks;
}

/** Everything `from` holds of `keys`, pushed to `to`. */
const push = (from: Keyspace, to: Keyspace, keys: string[]) => to.applyDelta(from.pushChunk(keys));

const recountAgrees = (ks: Keyspace) => {
  const r = ks.recompute();
  return r.digest === r.stored.digest && r.unreadable === 0;
};

describe('the state digest at a cutoff', () => {
  it('nodes that collect an expired value at different moments agree at every common cutoff', async () => {
    time.now = T0;
    const [a, b] = await Promise.all([node(), node()]);
    await a.write([
      { type: 'put', key: 'lasting', value: Buffer.from('v') },
      { type: 'put', key: 'short', value: Buffer.from('s'), expireAt: T0 + 100 },
      { type: 'put', key: 'long', value: Buffer.from('l'), expireAt: T0 + 3_600_000 },
    ]);
    await push(a, b, ['lasting', 'short', 'long']);
    expect(a.summary(time.now).digest).toBe(b.summary(time.now).digest);
    // the expiring values count: without 'long' the digest would be another
    expect(a.summary(time.now).digest).not.toBe(a.summary(LASTING_ONLY).digest);

    time.now = T0 + 1000; // 'short' has expired; a collects it, b does not (yet)
    const step = await a.collectGarbage(a.summary().clock);
    expect(step.siblings).toBe(1);
    expect(recountAgrees(a)).toBe(true);
    const sa = a.summary();
    expect(sa.digestAt).toBe(T0 + 1000);
    // b takes its digest at a's cutoff and agrees; a cannot go back to b's earlier one
    expect(b.summaryAt(sa.digestAt)!.digest).toBe(sa.digest);
    expect(a.summaryAt(b.summary().digestAt)).toBeNull();
    expect(a.summary(time.now).digest).toBe(b.summary(time.now).digest);
    // a cutoff further ahead than the allowed clock skew is not taken (a peer may not make this node read every expiring key)
    expect(b.summaryAt(time.now + 24 * 3_600_000)).toBeNull();
    expect(b.summaryAt(time.now + 31_000)).toBeNull(); // within the allowed skew, but a peer's word may not make it read minutes of expiries
  });

  it('a write that differs only in an expiring value shows in the digest, and merging settles it', async () => {
    time.now = T0;
    const [a, b] = await Promise.all([node(), node()]);
    const x = testReplica();
    const forged = (value: string): Parameters<Keyspace['applyDelta']>[0] => ({
      entries: [{ key: Buffer.from('k'), state: encodeKeyState({ ctx: [[x.r, 1]], sibs: [{ r: x.r, c: 1, hlc: T0 * 1024, value: Buffer.from(value), exp: T0 + 3_600_000 }] }) }],
      claim: Clock.fromIntervals([[x.r, 1, 1]]),
      heads: [x.head(1)],
    });
    await a.applyDelta(forged('one'));
    await b.applyDelta(forged('two'));
    expect(a.summary().clock.equals(b.summary().clock)).toBe(true);
    const sa = a.summary();
    expect(b.summaryAt(sa.digestAt)!.digest).not.toBe(sa.digest); // before: both left it out, equal
    await push(a, b, ['k']);
    await push(b, a, ['k']);
    expect(b.summaryAt(a.summary().digestAt)!.digest).toBe(a.summary().digest);
  });

  it('the incremental digest equals a recount as the cutoff moves past expiries', async () => {
    time.now = T0;
    const a = await node();
    for (let i = 0; i < 20; i++) await a.write([{ type: 'put', key: `k${i}`, value: Buffer.from(String(i)), ...(i % 2 === 0 ? { expireAt: T0 + 100 * i } : {}) }]);
    for (const at of [T0 + 250, T0 + 999, T0 + 5000]) {
      time.now = at;
      await a.advanceDigestCutoff();
      expect(a.summary().digestAt).toBe(at);
      expect(recountAgrees(a)).toBe(true);
    }
  });

  it('a store from before the cutoff record is recounted at open, not compared as it was', async () => {
    time.now = T0;
    const dir = mkdtempSync(join(tmpdir(), 'replikv-cutoff-'));
    dirs.push(dir);
    let ks = await Keyspace.openDir(dir, { now: () => time.now });
    await ks.write([
      { type: 'put', key: 'lasting', value: Buffer.from('v') },
      { type: 'put', key: 'ttl', value: Buffer.from('t'), expireAt: T0 + 3_600_000 },
    ]);
    const lastingOnly = ks.summary(LASTING_ONLY).digest;
    const now = ks.summary(time.now).digest;
    await ks.close();
    // as a store of the previous version left it: no cutoff record, a digest of lasting values only
    const root = openLmdb({ path: join(dir, 'store'), maxDbs: 4 });
    const meta = root.openDB({ name: 'meta', encoding: 'binary' });
    await root.transaction(() => {
      const s = decodeStoreState(meta.get('state') as Uint8Array);
      meta.put(META_STATE, encodeStoreState({ ...s, digest: new Digest(Buffer.from(lastingOnly, 'hex')) }));
      meta.remove(META_DIGEST_AT);
    });
    await root.close();

    ks = await Keyspace.openDir(dir, { now: () => time.now });
    open.push(ks);
    expect(recountAgrees(ks)).toBe(true);
    expect(ks.summary(time.now).digest).toBe(now);
    expect(ks.summary().digestAt).toBe(T0);
  });
});
