// States from a peer that would make a key unreadable (a flood of siblings) or push the node's
// hybrid logical clock to the integer limit (after which no write could be timestamped) are refused
// whole, before anything is stored; honest states within the bounds pass.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { encodeKeyState } from '../../src/core/codec.js';
import { HLC_LOGICAL_BITS } from '../../src/core/hlc.js';
import type { Sibling } from '../../src/core/key-state.js';
import { DecodeError } from '../../src/errors.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { testReplicas } from '../helpers/replicas.js';

const dirs: string[] = [];
const open: Keyspace[] = [];
afterEach(async () => {
  for (const ks of open.splice(0)) await ks.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const NOW = 1_800_000_000_000;

async function fresh(): Promise<Keyspace> {
  const dir = mkdtempSync(join(tmpdir(), 'replikv-limits-'));
  dirs.push(dir);
  const ks = await Keyspace.openDir(dir, { now: () => NOW, maxSiblings: 100, maxClockSkewMs: 60_000 });
  open.push(ks);
  return ks;
}

// real replicas, with signed heads at counter 1: these tests are about siblings and timestamps
const REPLICAS = testReplicas(160);
const replica = (i: number) => REPLICAS[i - 1]!.r;
const heads = REPLICAS.map((x) => x.head(1));

/** A state with `n` concurrent siblings, one from each of n replicas, at timestamp `hlc`. */
function siblings(n: number, hlc: number): Uint8Array {
  const sibs: Sibling[] = Array.from({ length: n }, (_, i) => ({ r: replica(i + 1), c: 1, hlc, value: Buffer.from(`v${i}`) }));
  return encodeKeyState({ ctx: sibs.map((s) => [s.r, 1] as const).sort(([a], [b]) => (a < b ? -1 : 1)), sibs: [...sibs].sort((a, b) => (a.r < b.r ? -1 : 1)) });
}

const claimOf = (n: number) => Clock.fromIntervals(Array.from({ length: n }, (_, i) => [replica(i + 1), 1, 1] as [string, number, number]));

describe('bounds on what a peer may send', () => {
  it('refuses a key with more siblings than maxSiblings, whole, and stores nothing of the chunk', async () => {
    const ks = await fresh();
    const before = ks.summary();
    const chunk = { entries: [{ key: Buffer.from('fine'), state: siblings(1, NOW * HLC_LOGICAL_BITS) }, { key: Buffer.from('flood'), state: siblings(101, NOW * HLC_LOGICAL_BITS) }], claim: claimOf(101), heads };
    await expect(ks.applyDelta(chunk)).rejects.toThrow(DecodeError);
    await expect(ks.applyDelta(chunk)).rejects.toThrow(/101 siblings exceeds the limit of 100 \(maxSiblings\)/);
    const after = ks.summary();
    expect(after.digest).toBe(before.digest);
    expect(after.clock.isEmpty()).toBe(true); // the claim was not taken either
    expect(ks.read('fine')).toBeUndefined();
    // at the limit it is accepted
    await ks.applyDelta({ entries: [{ key: Buffer.from('many'), state: siblings(100, NOW * HLC_LOGICAL_BITS) }], claim: claimOf(100), heads });
    expect(ks.read('many')!.siblings).toHaveLength(100);
  });

  it('refuses a merge that would take a key past maxSiblings', async () => {
    const ks = await fresh();
    await ks.applyDelta({ entries: [{ key: Buffer.from('k'), state: siblings(60, NOW * HLC_LOGICAL_BITS) }], claim: claimOf(60), heads });
    const other = Array.from({ length: 60 }, (_, i) => ({ r: replica(101 + i), c: 1, hlc: NOW * HLC_LOGICAL_BITS, value: Buffer.from('w') }));
    const state = encodeKeyState({ ctx: other.map((s) => [s.r, 1] as const), sibs: other }); // replica(101..160) are sorted
    await expect(ks.applyDelta({ entries: [{ key: Buffer.from('k'), state }], claim: Clock.empty(), heads })).rejects.toThrow(/120 siblings exceed the limit of 100/);
    expect(ks.read('k')!.siblings).toHaveLength(60);
  });

  it('refuses a timestamp beyond the allowed clock skew, so the node can still timestamp its writes', async () => {
    const ks = await fresh();
    const before = ks.summary();
    for (const hlc of [Number.MAX_SAFE_INTEGER, (NOW + 61_000) * HLC_LOGICAL_BITS]) {
      await expect(ks.applyDelta({ entries: [{ key: Buffer.from('future'), state: siblings(1, hlc) }], claim: claimOf(1), heads })).rejects.toThrow(/ahead of this node's clock than the allowed skew \(maxClockSkewMs\)/);
    }
    expect(ks.summary().digest).toBe(before.digest);
    // within the skew: accepted
    await ks.applyDelta({ entries: [{ key: Buffer.from('soon'), state: siblings(1, (NOW + 59_000) * HLC_LOGICAL_BITS) }], claim: claimOf(1), heads });
    // and local writes go on, timestamped above what was seen
    const w = await ks.put('mine', Buffer.from('x'));
    expect(w.dot.c).toBe(1);
    const mine = ks.read('mine')!.siblings[0]!;
    expect(mine.hlc).toBeGreaterThan((NOW + 59_000) * HLC_LOGICAL_BITS);
    expect(Number.isSafeInteger(mine.hlc)).toBe(true);
  });
});
