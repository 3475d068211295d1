// Writes of one turn go to the store as one call, in order, each caller getting its own results.
import { describe, expect, it } from 'vitest';
import type { WriteOp, WriteResult } from '../../src/store/keyspace.js';
import { MAX_BATCH_OPS, WriteBatcher } from '../../src/resp/write-batcher.js';

const put = (key: string): WriteOp => ({ type: 'put', key, value: Buffer.from('v') });

describe('WriteBatcher', () => {
  it('sends the writes of one turn as one call and splits the results', async () => {
    const calls: string[][] = [];
    let c = 0;
    const b = new WriteBatcher(async (ops) => {
      calls.push(ops.map((o) => o.key));
      return ops.map((o): WriteResult => ({ key: o.key, dot: { r: 'aa', c: ++c } }));
    });
    const [x, y, z] = await Promise.all([b.add([put('a')]), b.add([put('b'), put('c')]), b.add([put('d')])]);
    expect(calls).toEqual([['a', 'b', 'c', 'd']]);
    expect(x!.map((r) => r.dot.c)).toEqual([1]);
    expect(y!.map((r) => r.key)).toEqual(['b', 'c']);
    expect(z!.map((r) => r.dot.c)).toEqual([4]);
    await b.add([put('e')]);
    expect(calls).toEqual([['a', 'b', 'c', 'd'], ['e']]);
  });

  it('fails every write of a batch the store refuses, and starts a new batch past the limit', async () => {
    const sizes: number[] = [];
    const b = new WriteBatcher(async (ops) => {
      sizes.push(ops.length);
      throw new Error('disk full');
    });
    const big = Array.from({ length: MAX_BATCH_OPS }, (_, i) => put(`k${i}`));
    const results = await Promise.allSettled([b.add([put('first')]), b.add(big)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(sizes).toEqual([1, MAX_BATCH_OPS]);
  });
});
