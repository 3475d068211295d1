// The keyspace on real LMDB files: reads, writes, siblings, scans, errors, reopen, group commit,
// snapshots, and refusal of bad deltas.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { encodeKeyState } from '../../src/core/codec.js';
import { localWrite } from '../../src/core/key-state.js';
import { DecodeError, InvalidKeyError, InvalidTokenError, InvalidValueError, StoreError } from '../../src/errors.js';
import { testReplica } from '../helpers/replicas.js';
import { Keyspace, type KeyspaceOptions } from '../../src/store/keyspace.js';

const dirs: string[] = [];
const open: Keyspace[] = [];
afterEach(async () => {
  for (const ks of open.splice(0)) await ks.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function fresh(opts: KeyspaceOptions = {}, dir = mkdtempSync(join(tmpdir(), 'replikv-ks-'))) {
  dirs.push(dir);
  const ks = await Keyspace.openDir(dir, opts);
  open.push(ks);
  return { ks, dir };
}

const txt = (u: Uint8Array | null | undefined) => (u == null ? u : Buffer.from(u).toString());

describe('keyspace on LMDB', () => {
  it('puts, gets, deletes and counts live keys', async () => {
    const { ks } = await fresh();
    await ks.put('a', Buffer.from('1'));
    await ks.put('b', Buffer.from('2'));
    await ks.put('a', Buffer.from('3'));
    expect(txt(ks.get('a'))).toBe('3');
    expect(ks.count()).toBe(2);
    await ks.del('a');
    expect(ks.get('a')).toBeUndefined();
    expect(ks.read('a')?.value).toBeNull(); // a tombstone remains, so peers learn of the delete
    expect(ks.count()).toBe(1);
    expect(ks.get('never')).toBeUndefined();
    expect(ks.recompute()).toMatchObject({ digest: ks.summary().digest, keys: 1, unreadable: 0 });
  });

  it('applies a batch that writes keys out of order and the same key twice, as if written one by one', async () => {
    const { ks } = await fresh();
    const { ks: one } = await fresh();
    const ops = ['m', 'c', 'x', 'c', 'a', 'x', 'z', 'a', 'b'].map((key, i) => ({ type: 'put' as const, key, value: Buffer.from(`${key}${i}`) }));
    await ks.write([...ops, { type: 'del', key: 'm' }, { type: 'put', key: 'm', value: Buffer.from('m again') }]);
    for (const op of ops) await one.put(op.key, op.value);
    await one.del('m');
    await one.put('m', Buffer.from('m again'));
    const page = (k: Keyspace) => k.scan().items.map((e) => `${e.key}=${txt(e.value)}`);
    expect(page(ks)).toEqual(['a=a7', 'b=b8', 'c=c3', 'm=m again', 'x=x5', 'z=z6']);
    expect(page(one)).toEqual(page(ks));
    expect(ks.read('c')?.siblings).toHaveLength(1);
    expect(ks.recompute()).toMatchObject({ digest: ks.summary().digest, keys: 6, unreadable: 0 });
    // and a delta of all of it, out of key order, lands the same
    const { ks: copy } = await fresh();
    for (const chunk of ks.delta(Clock.empty(), { maxEntries: 3, maxBytes: 1 << 20 })) await copy.applyDelta({ ...chunk, entries: [...chunk.entries].reverse() });
    expect(page(copy)).toEqual(page(ks));
    expect(copy.recompute()).toMatchObject({ digest: ks.summary().digest, keys: 6, unreadable: 0 });
  });

  it('keeps writes made with an old context as siblings, and a write with the read context supersedes them', async () => {
    const { ks } = await fresh();
    await ks.put('k', Buffer.from('first'));
    const seen = ks.read('k')!.context;
    await ks.put('k', Buffer.from('second'));
    await ks.put('k', Buffer.from('concurrent'), { context: seen }); // did not see "second"
    const r = ks.read('k')!;
    expect(r.siblings.map((s) => txt(s.value)).sort()).toEqual(['concurrent', 'second']);
    expect(txt(r.value)).toBe('concurrent'); // latest HLC wins the plain read
    await ks.put('k', Buffer.from('merged'), { context: r.context });
    expect(ks.read('k')!.siblings.map((s) => txt(s.value))).toEqual(['merged']);
  });

  it('scans by prefix in UTF-8 byte order, with limit, cursor, and deleted keys skipped', async () => {
    const { ks } = await fresh();
    const keys = ['user:b', 'user:a', 'user:é', 'user:\u{1F600}', 'user:\uFFFD', 'usex', 'other'];
    await ks.write(keys.map((key) => ({ type: 'put' as const, key, value: Buffer.from(key) })));
    await ks.del('user:b');
    const want = ['user:a', 'user:é', 'user:\uFFFD', 'user:\u{1F600}'];
    const all: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = ks.scan({ prefix: 'user:', limit: 2, after: cursor });
      all.push(...page.items.map((i) => i.key));
      for (const i of page.items) expect(txt(i.value)).toBe(i.key);
      if (page.cursor === null) break;
      cursor = page.cursor;
    }
    expect(all).toEqual(want);
    expect(ks.scan().items.map((i) => i.key)).toEqual(['other', ...want, 'usex']);
    expect(ks.scan({ prefix: 'zzz' })).toEqual({ items: [], cursor: null });
  });

  it('refuses bad keys, values and tokens with typed errors and writes nothing', async () => {
    const { ks } = await fresh({ maxValueBytes: 1000 });
    await ks.put('ok', Buffer.from('v'));
    const before = ks.summary();
    await expect(ks.put('', Buffer.from('v'))).rejects.toThrow(InvalidKeyError);
    await expect(ks.put('x'.repeat(1025), Buffer.from('v'))).rejects.toThrow(/1025 bytes of UTF-8, the limit is 1024/);
    await expect(ks.put('é'.repeat(513), Buffer.from('v'))).rejects.toThrow(InvalidKeyError); // 1026 bytes
    await expect(ks.put('\uD800', Buffer.from('v'))).rejects.toThrow(/lone surrogate/);
    await expect(ks.put(42 as unknown as string, Buffer.from('v'))).rejects.toThrow(InvalidKeyError);
    await expect(ks.put('k', Buffer.alloc(1001))).rejects.toThrow(/1001 bytes, the limit is 1000/);
    await expect(ks.put('k', 'str' as unknown as Uint8Array)).rejects.toThrow(InvalidValueError);
    await expect(ks.put('k', Buffer.from('v'), { context: 'garbage!' })).rejects.toThrow(InvalidTokenError);
    const token = ks.read('ok')!.context;
    await expect(ks.put('k', Buffer.from('v'), { context: token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA') })).rejects.toThrow(InvalidTokenError);
    // a batch with one bad op is refused whole
    await expect(ks.write([{ type: 'put', key: 'fine', value: Buffer.from('v') }, { type: 'put', key: '', value: Buffer.from('v') }])).rejects.toThrow(InvalidKeyError);
    expect(ks.get('fine')).toBeUndefined();
    const after = ks.summary();
    expect(after.digest).toBe(before.digest);
    expect(after.clock.equals(before.clock)).toBe(true);
    // accepts exactly the limits
    await ks.put('x'.repeat(1024), Buffer.alloc(1000, 1));
    expect(ks.get('x'.repeat(1024))?.length).toBe(1000);
  });

  it('stores values up to 16 MiB by default', async () => {
    const { ks } = await fresh();
    const big = Buffer.alloc(16 * 1024 * 1024, 7);
    await ks.put('big', big);
    expect(Buffer.compare(ks.get('big')!, big)).toBe(0);
    await expect(ks.put('bigger', Buffer.alloc(16 * 1024 * 1024 + 1))).rejects.toThrow(InvalidValueError);
  });

  it('keeps replica id, clock, digest, count and values across close and reopen', async () => {
    const { ks, dir } = await fresh();
    for (let i = 0; i < 50; i++) await ks.put(`k${i}`, Buffer.from(`v${i}`));
    await ks.del('k7');
    const before = ks.summary();
    await ks.close();
    open.splice(open.indexOf(ks), 1);
    const again = await Keyspace.openDir(dir);
    open.push(again);
    const after = again.summary();
    expect(after.replicaId).toBe(before.replicaId);
    expect(after.clock.equals(before.clock)).toBe(true);
    expect(after.digest).toBe(before.digest);
    expect(after.keys).toBe(49);
    expect(txt(again.get('k42'))).toBe('v42');
    expect(again.recompute()).toMatchObject({ digest: after.digest, keys: 49, unreadable: 0 });
    // counters go on from where they were: the next write's dot is new
    const next = await again.put('k0', Buffer.from('again'));
    expect(next.dot.c).toBe(before.clock.base(before.replicaId) + 1);
  });

  it('gives each new data directory its own replica id', async () => {
    const a = await fresh();
    const b = await fresh();
    expect(a.ks.replicaId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.ks.replicaId).not.toBe(b.ks.replicaId);
  });

  it('group-commits concurrent writes: many acknowledgements share one sync', async () => {
    const { ks } = await fresh({ durability: 'strict' });
    const before = ks.commits;
    await Promise.all(Array.from({ length: 500 }, (_, i) => ks.put(`k${i}`, Buffer.from('v'))));
    const commits = ks.commits - before;
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThanOrEqual(5);
    expect(ks.count()).toBe(500);
  });

  it('a snapshot is one consistent moment while writes go on', async () => {
    const { ks } = await fresh({ durability: 'relaxed' });
    await ks.write(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: Buffer.from('a') })));
    const snap = ks.snapshot();
    const writing = Promise.all(
      Array.from({ length: 20 }, (_, j) =>
        ks.write(Array.from({ length: 30 }, (_, i) => ({ type: 'put' as const, key: `k${j * 30 + i}`, value: Buffer.from(`b${j}`) }))),
      ),
    );
    const copy = await fresh({ durability: 'relaxed' });
    let n = 0;
    for (const e of snap.entries()) {
      n++;
      if (n % 50 === 0) await new Promise((r) => setImmediate(r)); // let the writers run mid-stream
      await copy.ks.applyDelta({ entries: [e], claim: Clock.empty(), heads: snap.heads });
    }
    await copy.ks.applyDelta({ entries: [], claim: snap.clock, heads: snap.heads });
    snap.close();
    await writing;
    expect(n).toBe(300);
    expect(copy.ks.summary().digest).toBe(snap.digest); // the stream matches the snapshot's own digest
    expect(copy.ks.summary().digest).not.toBe(ks.summary().digest); // ...not the store after the writes
  });

  it('resumes a snapshot stream after a given key', async () => {
    const { ks } = await fresh();
    await ks.write(['a', 'b', 'c', 'd'].map((key) => ({ type: 'put' as const, key, value: Buffer.from(key) })));
    const snap = ks.snapshot();
    expect([...snap.entries(Buffer.from('b'))].map((e) => Buffer.from(e.key).toString())).toEqual(['c', 'd']);
    snap.close();
  });

  it('refuses a malformed delta whole and leaves the store unchanged', async () => {
    const { ks } = await fresh();
    await ks.put('k', Buffer.from('v'));
    const before = ks.summary();
    const other = testReplica();
    const good = encodeKeyState(localWrite(undefined, { r: other.r, c: 1 }, 1, Buffer.from('x')));
    const bad = Uint8Array.from(good);
    bad[0] = 9;
    const claim = Clock.fromIntervals([[other.r, 1, 2]]);
    const heads = [other.head(2)];
    await expect(ks.applyDelta({ entries: [{ key: Buffer.from('n1'), state: good }, { key: Buffer.from('n2'), state: bad }], claim, heads })).rejects.toThrow(DecodeError);
    await expect(ks.applyDelta({ entries: [{ key: Buffer.from([0xff, 0xfe]), state: good }], claim, heads })).rejects.toThrow(/UTF-8/);
    await expect(ks.applyDelta({ entries: [{ key: Buffer.alloc(0), state: good }], claim, heads })).rejects.toThrow(DecodeError);
    await expect(ks.applyDelta({ entries: [{ key: Buffer.from('n3'), state: good.subarray(0, 10) }], claim, heads })).rejects.toThrow(DecodeError);
    const after = ks.summary();
    expect(after.digest).toBe(before.digest);
    expect(after.clock.equals(before.clock)).toBe(true);
    expect(ks.get('n1')).toBeUndefined();
    // and the store still works
    await ks.applyDelta({ entries: [{ key: Buffer.from('n1'), state: good }], claim, heads });
    expect(txt(ks.get('n1'))).toBe('x');
  });

  it('refuses use after close with a StoreError', async () => {
    const { ks } = await fresh();
    await ks.close();
    expect(() => ks.get('a')).toThrow(StoreError);
    await expect(ks.put('a', Buffer.from('v'))).rejects.toThrow(StoreError);
  });
});
