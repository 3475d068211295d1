// The count of keys whose values all expire (countExpiring, INFO keyspace's expires): kept in step
// by every change set, it always equals a fresh count of the store (reopened), over writes with and
// without a TTL, expire and persist, stale contexts (a lasting and an expiring value side by side),
// deletes, merged deltas from another replica and garbage collection of expired values.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Keyspace } from '../../src/store/keyspace.js';
import { runOp } from '../helpers/two-replicas.js';

const dirs: string[] = [];
const open: Keyspace[] = [];
afterEach(async () => {
  for (const ks of open.splice(0)) await ks.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

let now = 1_000_000;
const clock = () => now;

async function fresh(): Promise<{ ks: Keyspace; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'replikv-exp-'));
  dirs.push(dir);
  const ks = await Keyspace.openDir(dir, { countExpiring: true, now: clock, durability: 'relaxed' });
  open.push(ks);
  return { ks, dir };
}

/** What a fresh count finds: reopen the store. */
async function recounted(ks: Keyspace, dir: string): Promise<number | null> {
  await ks.close();
  const again = await Keyspace.openDir(dir, { countExpiring: true, now: clock });
  open.push(again);
  return again.expiringKeys();
}

describe('the count of keys whose values all expire', () => {
  it('counts a key with only expiring values, not one with a lasting value beside them', async () => {
    const { ks, dir } = await fresh();
    expect(ks.expiringKeys()).toBe(0);
    await ks.write([{ type: 'put', key: 'ttl', value: Buffer.from('v'), expireAt: now + 60_000 }]);
    await ks.put('plain', Buffer.from('v'));
    expect(ks.expiringKeys()).toBe(1);
    expect(ks.count()).toBe(1); // the live count leaves it out: the two together are every key
    // two concurrent expiring values: one key
    const seen = ks.read('ttl')!.context;
    await ks.write([{ type: 'put', key: 'ttl', value: Buffer.from('w'), expireAt: now + 90_000, context: seen }]);
    await ks.write([{ type: 'put', key: 'ttl', value: Buffer.from('x'), expireAt: now + 30_000, context: seen }]);
    expect(ks.read('ttl')!.siblings).toHaveLength(2);
    expect(ks.expiringKeys()).toBe(1);
    // a lasting value concurrent with an expiring one: lasting (counted live), not expiring
    const plainSeen = ks.read('plain')!.context;
    await ks.expire('plain', now + 10_000);
    await ks.put('plain', Buffer.from('lasting'), { context: plainSeen });
    expect(ks.read('plain')!.siblings).toHaveLength(2);
    expect(ks.expiringKeys()).toBe(1);
    expect(await recounted(ks, dir)).toBe(1);
  });

  it('counts a key whose values expired until garbage collection removes them', async () => {
    const { ks, dir } = await fresh();
    await ks.write([{ type: 'put', key: 'short', value: Buffer.from('v'), expireAt: now + 10 }]);
    await ks.write([{ type: 'put', key: 'long', value: Buffer.from('v'), expireAt: now + 60_000 }]);
    now += 20;
    expect(ks.get('short')).toBeUndefined();
    expect(ks.expiringKeys()).toBe(2);
    const r = await ks.collectGarbage(ks.summary().clock); // alone: everything it wrote is stable
    expect(r.keys).toBe(1);
    expect(ks.expiringKeys()).toBe(1);
    expect(await recounted(ks, dir)).toBe(1);
  });

  it('is not kept unless asked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'replikv-exp-'));
    dirs.push(dir);
    const ks = await Keyspace.openDir(dir);
    open.push(ks);
    await ks.write([{ type: 'put', key: 'ttl', value: Buffer.from('v'), expireAt: now + 60_000 }]);
    expect(ks.expiringKeys()).toBeNull();
  });

  it('always equals a fresh count, over writes, merges from another replica and collection', async () => {
    const on = fc.integer({ min: 0, max: 1 });
    const key = fc.integer({ min: 0, max: 5 });
    const op = fc.oneof(
      { arbitrary: fc.record({ t: fc.constant('sync' as const), on }), weight: 2 },
      { arbitrary: fc.record({ t: fc.constant('gc' as const), on }), weight: 2 },
      fc.record({ t: fc.constant('put' as const), on, key, stale: fc.boolean(), ttl: fc.option(fc.integer({ min: 1, max: 10 })) }),
      fc.record({ t: fc.constant('del' as const), on, key, stale: fc.boolean() }),
      fc.record({ t: fc.constant('expire' as const), on, key, ttl: fc.option(fc.integer({ min: 1, max: 10 })) }),
      fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 5, max: 40 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const nodes = [await fresh(), await fresh()];
        const ks = nodes.map((n) => n.ks);
        const first = new Map<string, string>(); // a context from a key's first read, for stale writes
        for (const o of ops) {
          if (o.t === 'tick') {
            now += o.ms;
            continue;
          }
          if (o.t === 'expire') await nodes[o.on]!.ks.expire(`k${o.key}`, o.ttl === null ? null : now + o.ttl);
          else if (o.t === 'put') await runOp(ks, { ...o, ...(o.ttl === null ? {} : { expireAt: now + o.ttl }) }, first);
          else await runOp(ks, o, first);
        }
        for (const { ks, dir } of nodes) {
          const kept = ks.expiringKeys();
          expect(kept).toEqual(await recounted(ks, dir));
        }
        for (const ks of open.splice(0)) await ks.close().catch(() => undefined);
      }),
      { numRuns: 30 },
    );
  }, 120_000);
});
