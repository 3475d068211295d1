// Pushed batches cut to the DELTA limits: every chunk within the limits, claiming exactly the dots
// it carries, carrying the heads of the replicas it names; applied in any order, they give the
// receiver everything.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Keyspace } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';

const open = () => Keyspace.open(new MemoryBackend(), { now: () => 1_000_000 });

describe('push chunks', () => {
  it('stay within the limits, claim exactly what they carry, and bring a peer everything in any order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 64, max: 4096 }), fc.integer(), async (n, maxEntries, maxBytes, seed) => {
        const from = await open();
        const to = await open();
        const keys = Array.from({ length: n }, (_, i) => `k/${i}`);
        await from.write(keys.map((key, i) => ({ type: 'put' as const, key, value: Buffer.alloc(i % 97, 1) })));
        const chunks = [...from.pushChunks(keys, { maxEntries, maxBytes })];
        expect(chunks.reduce((sum, c) => sum + c.entries.length, 0)).toBe(n);
        for (const c of chunks) {
          expect(c.entries.length).toBeLessThanOrEqual(maxEntries);
          const bytes = c.entries.reduce((sum, e) => sum + e.key.length + e.state.length, 0);
          const last = c.entries.at(-1)!;
          expect(bytes - last.key.length - last.state.length).toBeLessThan(maxBytes); // over only by its last entry
          expect(c.claim.size()).toBe(c.entries.length); // one put each: its one dot
          expect(c.heads?.length).toBe(1);
        }
        // applied in a shuffled order
        const order = chunks.map((c, i) => ({ c, k: (Math.imul(i + 1, seed | 1) >>> 0) % 1009 })).sort((x, y) => x.k - y.k);
        for (const { c } of order) await to.applyDelta(c);
        expect(to.summary().digest).toBe(from.summary().digest);
        expect(to.summary().clock.equals(from.summary().clock)).toBe(true);
        await Promise.all([from.close(), to.close()]);
      }),
      { numRuns: 40 },
    );
  });
});
