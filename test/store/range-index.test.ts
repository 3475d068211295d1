// The range index (store/range-index.ts) stays in step with the state digest through writes,
// deletes, expiries, cutoff moves and garbage collection: its leaves XOR to the digest and equal a
// fresh build from the states, on the memory backend (random histories) and on LMDB.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Digest } from '../../src/core/digest.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import { RangeIndex } from '../../src/store/range-index.js';

const T0 = 1_800_000_000_000;
const time = { now: T0 };
const open: Keyspace[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const ks of open.splice(0)) await ks.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The index as kept, against the digest and a fresh build at the same cutoff. */
async function check(ks: Keyspace): Promise<void> {
  const at = ks.summary().digestAt;
  const view = (await ks.rangeView(at))!;
  try {
    const fresh = RangeIndex.build(view.snap, at);
    expect(Buffer.from(view.index.words.buffer).equals(Buffer.from(fresh.words.buffer))).toBe(true);
    expect([...view.index.counts]).toEqual([...fresh.counts]);
    const total = new Digest();
    total.xor(view.index.total());
    expect(total.hex()).toBe(ks.summary().digest);
  } finally {
    view.snap.close();
  }
}

const op = fc.oneof(
  fc.record({ type: fc.constant('put' as const), k: fc.nat(40), v: fc.string({ maxLength: 8 }), ttl: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }) }),
  fc.record({ type: fc.constant('del' as const), k: fc.nat(40) }),
  fc.record({ type: fc.constant('time' as const), ms: fc.integer({ min: 1, max: 3000 }) }),
  fc.record({ type: fc.constant('gc' as const) }),
);

type Op = { type: string; k?: number; v?: string; ttl?: number | undefined; ms?: number };
async function run(ks: Keyspace, ops: readonly Op[]): Promise<void> {
  for (const o of ops) {
    if (o.type === 'put') await ks.write([{ type: 'put', key: `k${o.k}`, value: Buffer.from(o.v!), ...(o.ttl === undefined ? {} : { expireAt: time.now + o.ttl }) }]);
    else if (o.type === 'del') await ks.write([{ type: 'del', key: `k${o.k}` }]);
    else if (o.type === 'time') {
      time.now += o.ms!;
      await ks.advanceDigestCutoff();
    } else await ks.collectGarbage(ks.summary().clock);
  }
}

describe('range index', () => {
  it('stays equal to a fresh build and XORs to the digest, whatever the history (memory backend)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.nat(40), async (ops, buildAfter) => {
        time.now = T0;
        const ks = await Keyspace.open(new MemoryBackend(), { now: () => time.now });
        open.push(ks);
        await run(ks, ops.slice(0, buildAfter)); // the index is built on first use, mid-history
        await check(ks);
        await run(ks, ops.slice(buildAfter));
        await check(ks);
      }),
      { numRuns: 60 },
    );
  });

  it('is built a batch a turn while writes go on, and takes them in (LMDB)', async () => {
    time.now = T0;
    const dir = mkdtempSync(join(tmpdir(), 'replikv-ranges-'));
    dirs.push(dir);
    const ks = await Keyspace.openDir(dir, { now: () => time.now });
    open.push(ks);
    for (let b = 0; b < 5; b++) await ks.write(Array.from({ length: 4000 }, (_, i) => ({ type: 'put' as const, key: `k${b * 4000 + i}`, value: Buffer.from(`v${i}`) })));
    let turns = 0;
    let built = false;
    const building = ks.rangeView(time.now).then((v) => {
      v!.snap.close();
      built = true;
    });
    // writes land while the build takes its turns (five batches of 4,096 keys)
    for (let i = 0; !built; i++) {
      await ks.write([{ type: 'put', key: `k${(i * 7919) % 20_000}`, value: Buffer.from(`w${i}`) }, { type: 'del', key: `k${(i * 104_729) % 20_000}` }]);
      turns++;
    }
    await building;
    expect(turns).toBeGreaterThan(0);
    await check(ks);
  });

  it('stays in step on LMDB, and a view at a later cutoff equals a build there', async () => {
    time.now = T0;
    const dir = mkdtempSync(join(tmpdir(), 'replikv-ranges-'));
    dirs.push(dir);
    const ks = await Keyspace.openDir(dir, { now: () => time.now });
    open.push(ks);
    await ks.write(Array.from({ length: 500 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: Buffer.from(`v${i}`), ...(i % 7 === 0 ? { expireAt: T0 + 10 * i } : {}) })));
    await check(ks);
    await Promise.all(Array.from({ length: 50 }, (_, i) => ks.write([{ type: 'del', key: `k${i * 3}` }])));
    time.now = T0 + 2000;
    await ks.advanceDigestCutoff();
    await check(ks);
    const later = T0 + 4000;
    const view = (await ks.rangeView(later))!;
    try {
      const fresh = RangeIndex.build(view.snap, later);
      expect(Buffer.from(view.index.words.buffer).equals(Buffer.from(fresh.words.buffer))).toBe(true);
    } finally {
      view.snap.close();
    }
  });
});
