import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { abbreviates, RetiredTable } from '../../src/core/retired.js';
import { decodeMessage, encodeDigest, MSG, type RetiredPart } from '../../src/sync/messages.js';
import { dotSet, replica, REPLICAS } from './arbitraries.js';

const clockOf = (dots: [string, number][]) => {
  const c = Clock.empty();
  for (const [r, n] of dots) c.add(r, n);
  return c;
};
const tableOf = (entries: readonly (readonly [string, number])[], clock: Clock) => {
  const t = new RetiredTable();
  t.learn(entries, clock);
  return t;
};
const hex = (t: RetiredTable) => Buffer.from(t.hash()).toString('hex');

/** A clock whose replicas are either exactly [1..n] (a retired one looks like this) or have a gap. */
const clockArb = fc.array(fc.tuple(replica, fc.integer({ min: 1, max: 6 }), fc.boolean()), { maxLength: 8 }).map((list) => {
  const c = Clock.empty();
  for (const [r, n, whole] of list) {
    if (whole) c.addRange(r, 1, n);
    else c.add(r, n + 2); // 1..n+1 missing: nothing of r is exactly [1..c] until they come
  }
  return c;
});
/** Records a node may hear: real replicas at any counter, and replicas nobody has dots of. */
const forgedId = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex'));
const records = fc.array(fc.tuple(fc.oneof(replica, forgedId), fc.integer({ min: 1, max: 8 })), { maxLength: 12 });
/** What an honest node retires itself: replicas its clock holds exactly, at their counter. */
const honest = (clock: Clock, pick: boolean[]) =>
  clock
    .replicas()
    .filter((r, i) => pick[i % Math.max(1, pick.length)] === true && abbreviates(clock, r, clock.max(r)))
    .map((r) => [r, clock.max(r)] as [string, number]);

/** The DIGEST between two nodes whose tables are equal (steady state: nothing taught, entries left out). */
const steadyDigest = (t: RetiredTable, clock: Clock) => {
  const { clock: sent, omitted } = t.compress(clock);
  return encodeDigest({ replicaId: 'b'.repeat(32), digest: new Uint8Array(16), clock: sent, forgotten: [], retired: { hash: t.hash(), omitted, records: [] } }).length;
};

/** Two nodes teach each other what the other's clock can keep, `limit` a DIGEST, until equal or out of rounds. */
function exchange(a: RetiredTable, b: RetiredTable, clockA: Clock, clockB: Clock, limit: number, rounds = 60): number {
  for (let i = 0; i < rounds; i++) {
    a.prune(clockA);
    b.prune(clockB);
    if (hex(a) === hex(b)) return i;
    b.learn(a.teach(clockB, limit, i), clockB);
    a.learn(b.teach(clockA, limit, i), clockA);
  }
  return rounds;
}

describe('retired replicas', () => {
  it('an equal table makes a compressed clock whole, exactly', () => {
    fc.assert(
      fc.property(clockArb, records, (clock, list) => {
        const sender = tableOf(list, clock);
        const receiver = tableOf([...list].reverse(), clock); // same records, any order
        expect(hex(receiver)).toBe(hex(sender));
        const { clock: sent, omitted } = sender.compress(clock);
        expect(receiver.expand(sent, omitted)!.equals(clock)).toBe(true);
        // only exact [1..c] entries of the table are left out
        for (const r of clock.replicas()) if (sent.max(r) === 0) expect(sender.entries()).toContainEqual([r, clock.max(r)]);
      }),
    );
  });

  it('a receiver never reads into a clock more than the sender holds, whatever table the bitmap names', () => {
    fc.assert(
      fc.property(dotSet, clockArb, records, records, fc.uint8Array({ maxLength: 2 }), (dots, other, mine, theirs, bitmap) => {
        const clock = clockOf(dots);
        const sender = tableOf(theirs, clock);
        const receiver = tableOf(mine, other);
        const { clock: sent, omitted } = sender.compress(clock);
        // the receiver expands only with an equal table (the replicator compares hashes first)
        if (hex(sender) === hex(receiver)) expect(receiver.expand(sent, omitted)!.equals(clock)).toBe(true);
        // a bitmap that does not fit, or marks an entry the clock still holds, is refused
        const forged = receiver.expand(clock, bitmap);
        if (forged !== null) for (const r of forged.replicas()) if (clock.max(r) > 0) expect(forged.runs(r)).toEqual(clock.runs(r));
      }),
    );
  });

  it('a record is kept only with evidence: the clock holds exactly [1..c], and a replica that writes again drops out', () => {
    fc.assert(
      fc.property(clockArb, records, fc.array(fc.tuple(replica, fc.integer({ min: 1, max: 10 })), { maxLength: 6 }), (clock, heard, later) => {
        const t = new RetiredTable();
        const { added, unproven } = t.learn(heard, clock);
        expect(unproven).toBe(heard.filter(([r, c]) => !abbreviates(clock, r, c)).length);
        expect(added).toBeLessThanOrEqual(heard.length - unproven);
        for (const [r, c] of t.entries()) expect(abbreviates(clock, r, c)).toBe(true);
        expect(t.size).toBeLessThanOrEqual(clock.replicas().length); // never larger than the clock it shortens
        // the clock grows (writes arrive): what it no longer holds exactly goes, the rest stays
        const grown = clock.clone();
        for (const [r, c] of later) grown.add(r, c);
        const before = t.entries().slice();
        t.prune(grown);
        expect(t.entries()).toEqual(before.filter(([r, c]) => abbreviates(grown, r, c)));
      }),
    );
  });

  it('two honest nodes that heard different forged records end with equal tables once their clocks agree', () => {
    fc.assert(
      fc.property(clockArb, clockArb, records, records, fc.array(fc.boolean()), fc.integer({ min: 1, max: 4 }), (ca, cb, heardA, heardB, pick, limit) => {
        const a = tableOf([...honest(ca, pick), ...heardA], ca);
        const b = tableOf([...honest(cb, pick), ...heardB], cb);
        exchange(a, b, ca, cb, limit, 3); // while the clocks still differ: whatever happens
        const clock = ca.clone().merge(cb); // anti-entropy brings both to one clock
        const rounds = exchange(a, b, clock, clock.clone(), limit);
        expect(hex(a)).toBe(hex(b));
        expect(rounds).toBeLessThan(60);
        // equal hashes: the next DIGESTs teach nothing, so the exchange is over
        for (const [r, c] of a.entries()) expect(abbreviates(clock, r, c)).toBe(true);
      }),
    );
  });

  it('forged records never make the DIGEST between two honest nodes longer', () => {
    fc.assert(
      fc.property(clockArb, records, records, fc.array(fc.boolean()), (clock, forgedA, forgedB, pick) => {
        const retired = honest(clock, pick);
        // without the attacker: both retired the same replicas and agree
        const plain = tableOf(retired, clock);
        // with it: each heard other forged records, then they taught each other
        const a = tableOf([...retired, ...forgedA], clock);
        const b = tableOf([...retired, ...forgedB], clock);
        exchange(a, b, clock, clock, 4096);
        expect(hex(a)).toBe(hex(b));
        expect(steadyDigest(a, clock)).toBeLessThanOrEqual(steadyDigest(plain, clock));
        // and a record for a replica nobody has dots of is never kept
        for (const [r] of a.entries()) expect(REPLICAS).toContain(r);
      }),
    );
  });

  it('a peer is taught only what its clock can keep, at most `limit` a DIGEST, and a long table in turns', () => {
    fc.assert(
      fc.property(clockArb, clockArb, records, fc.integer({ min: 1, max: 3 }), (ours, theirs, heard, limit) => {
        const t = tableOf([...honest(ours, [true]), ...heard], ours);
        const fit = t.entries().filter(([r, c]) => abbreviates(theirs, r, c));
        const seen = new Set<string>();
        for (let round = 0; round < fit.length; round++) {
          const taught = t.teach(theirs, limit, round);
          expect(taught.length).toBe(Math.min(limit, fit.length));
          for (const e of taught) expect(fit).toContainEqual(e);
          for (const [r] of taught) seen.add(r);
        }
        expect(seen.size).toBe(fit.length);
      }),
    );
  });

  it('a DIGEST carries the table hash, the bitmap and the entries taught', () => {
    const clock = clockOf([
      ['0'.repeat(31) + '1', 1],
      ['0'.repeat(31) + '1', 2],
      ['0'.repeat(31) + '1', 3],
      ['0'.repeat(31) + '1', 4],
      ['0'.repeat(31) + '1', 5],
      ['a'.repeat(32), 9],
      ['f'.repeat(31) + '0', 1],
    ]);
    const t = tableOf(
      [
        ['0'.repeat(31) + '1', 5],
        ['a'.repeat(32), 9], // only dot 9 held: no evidence
        ['f'.repeat(31) + '0', 1],
      ],
      clock,
    );
    expect(t.entries()).toEqual([
      ['0'.repeat(31) + '1', 5],
      ['f'.repeat(31) + '0', 1],
    ]);
    const { clock: sent, omitted } = t.compress(clock);
    expect(sent.replicas()).toEqual(['a'.repeat(32)]);
    const retired: RetiredPart = { hash: t.hash(), omitted, records: t.entries() };
    const m = decodeMessage(encodeDigest({ replicaId: 'b'.repeat(32), digest: new Uint8Array(16), clock: sent, forgotten: [], retired }));
    if (m.type !== MSG.digest) throw new Error('not a digest');
    expect(m.retired.records).toEqual(t.entries());
    expect(t.expand(m.clock, m.retired.omitted)!.equals(clock)).toBe(true);
  });
});
