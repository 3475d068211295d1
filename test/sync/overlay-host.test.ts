// chunkId: the id the overlay's tree knows a pushed chunk by (a dot of its claim).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { chunkId } from '../../src/sync/overlay-host.js';

const replica = fc.constantFrom('a'.repeat(32), 'b'.repeat(32), 'c'.repeat(32));
const dots = fc.array(fc.tuple(replica, fc.integer({ min: 1, max: 50 })), { maxLength: 20 });

function clockOf(ds: [string, number][]): Clock {
  const c = Clock.empty();
  for (const [r, n] of ds) c.add(r, n);
  return c;
}

describe('chunkId', () => {
  it('is a dot of the claim, the highest counter of its replica, and does not depend on the order dots were added', () => {
    fc.assert(
      fc.property(dots, (ds) => {
        const id = chunkId(clockOf(ds));
        if (ds.length === 0) {
          expect(id).toBeUndefined();
          return;
        }
        const claim = clockOf(ds);
        expect(claim.covers(id!.r, id!.c)).toBe(true);
        expect(id!.c).toBe(claim.max(id!.r));
        expect(chunkId(clockOf([...ds].reverse()))).toEqual(id);
      }),
    );
  });

  it('of a chunk of one replica is its newest dot; of a mixed one, the replica with the most dots', () => {
    expect(chunkId(clockOf([['a'.repeat(32), 3], ['a'.repeat(32), 7]]))).toEqual({ r: 'a'.repeat(32), c: 7 });
    expect(chunkId(clockOf([['a'.repeat(32), 3], ['a'.repeat(32), 4], ['b'.repeat(32), 90]]))).toEqual({ r: 'a'.repeat(32), c: 4 });
    expect(chunkId(clockOf([['b'.repeat(32), 5], ['a'.repeat(32), 5]]))).toEqual({ r: 'a'.repeat(32), c: 5 });
  });
});
