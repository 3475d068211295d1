import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { RetiredTable } from '../../src/core/retired.js';
import { decodeMessage, encodeDigest, MSG } from '../../src/sync/messages.js';
import { dotSet, replica } from './arbitraries.js';

const clockOf = (dots: [string, number][]) => {
  const c = Clock.empty();
  for (const [r, n] of dots) c.add(r, n);
  return c;
};
const tableOf = (entries: [string, number][]) => {
  const t = new RetiredTable();
  for (const [r, c] of entries) t.add(r, c);
  return t;
};
const entries = fc.array(fc.tuple(replica, fc.integer({ min: 1, max: 40 })), { maxLength: 6 });

describe('retired replicas', () => {
  it('an equal table makes a compressed clock whole, exactly', () => {
    fc.assert(
      fc.property(dotSet, entries, (dots, list) => {
        const clock = clockOf(dots);
        const sender = tableOf(list);
        const receiver = tableOf([...list].reverse()); // same entries, any order
        expect(Buffer.from(receiver.hash())).toEqual(Buffer.from(sender.hash()));
        const { clock: sent, omitted } = sender.compress(clock);
        expect(receiver.expand(sent, omitted)!.equals(clock)).toBe(true);
        // only exact [1..c] entries are left out
        for (const r of clock.replicas()) {
          if (sent.max(r) === 0) expect(clock.runs(r)).toEqual([[1, list.filter(([x]) => x === r).reduce((m, [, c]) => Math.max(m, c), 0)]]);
        }
      }),
    );
  });

  it('a receiver never reads into a clock more than the sender holds, whatever table the bitmap names', () => {
    fc.assert(
      fc.property(dotSet, entries, entries, fc.uint8Array({ maxLength: 2 }), (dots, mine, theirs, bitmap) => {
        const clock = clockOf(dots);
        const sender = tableOf(theirs);
        const receiver = tableOf(mine);
        const { clock: sent, omitted } = sender.compress(clock);
        // the receiver expands only with an equal table (the replicator compares hashes first)
        if (Buffer.compare(Buffer.from(sender.hash()), Buffer.from(receiver.hash())) === 0) {
          expect(receiver.expand(sent, omitted)!.equals(clock)).toBe(true);
        }
        // a bitmap that does not fit, or marks an entry the clock still holds, is refused
        const forged = receiver.expand(clock, bitmap);
        if (forged !== null) {
          for (const r of forged.replicas()) if (clock.max(r) > 0) expect(forged.runs(r)).toEqual(clock.runs(r));
        }
      }),
    );
  });

  it('tables merge by union, the higher counter winning, whatever the order', () => {
    fc.assert(
      fc.property(entries, entries, (a, b) => {
        const ab = tableOf([...a, ...b]);
        const ba = tableOf([...b, ...a]);
        expect(ab.entries()).toEqual(ba.entries());
        expect(Buffer.from(ab.hash())).toEqual(Buffer.from(ba.hash()));
      }),
    );
  });

  it('a DIGEST carries the table hash, the bitmap and the entries taught', () => {
    const t = tableOf([
      ['0'.repeat(31) + '1', 5],
      ['a'.repeat(32), 9],
    ]);
    const clock = clockOf([
      ['0'.repeat(31) + '1', 1],
      ['0'.repeat(31) + '1', 2],
      ['0'.repeat(31) + '1', 3],
      ['0'.repeat(31) + '1', 4],
      ['0'.repeat(31) + '1', 5],
      ['f'.repeat(31) + '0', 1],
    ]);
    const { clock: sent, omitted } = t.compress(clock);
    expect(sent.replicas()).toEqual(['f'.repeat(31) + '0']);
    const m = decodeMessage(
      encodeDigest({ replicaId: 'b'.repeat(32), digest: new Uint8Array(16), clock: sent, peers: [], forgotten: [], retired: { hash: t.hash(), omitted, records: t.entries() } }),
    );
    if (m.type !== MSG.digest) throw new Error('not a digest');
    expect(m.retired.records).toEqual(t.entries());
    expect(t.expand(m.clock, m.retired.omitted)!.equals(clock)).toBe(true);
  });
});
