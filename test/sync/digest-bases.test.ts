// DIGESTs against a base (core/clock-diff.ts, sync/digest-core.ts, sync/digest-bases.ts): a clock
// rebuilt from a base and a difference is exactly the one sent, whatever is lost, reordered or
// restarted; a base the receiver does not hold or a lying difference never yields a clock that a
// whole DIGEST could not have carried; two nodes in sync send a few dozen bytes a round.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reader, Writer } from '../../src/core/bytes.js';
import { Clock } from '../../src/core/clock.js';
import { applyClockDiff, clockDiffBytes, diffClock, readClockDiff, writeClockDiff } from '../../src/core/clock-diff.js';
import { decodeClock, encodeClock } from '../../src/core/codec.js';
import { DecodeError } from '../../src/errors.js';
import { DigestBases } from '../../src/sync/digest-bases.js';
import { applyCore, coreHash, diffCore, type DigestCore } from '../../src/sync/digest-core.js';
import { decodeMessage, encodeDigestDelta, END_MESSAGE, EXCHANGE_ACK_MESSAGE, MSG, type DigestMessage } from '../../src/sync/messages.js';
import { PexSchedule } from '../../src/sync/peer-exchange.js';
import { clock, throwsOnly } from '../core/arbitraries.js';

const R1 = '1'.repeat(32);
const R2 = '2'.repeat(32);

type Fields = Omit<DigestMessage, 'type'>;

const core = fc.record({
  digest: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  digestAt: fc.nat(),
  clock,
  frontier: clock,
  retiredHash: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  omitted: fc.uint8Array({ maxLength: 3 }),
});

const fields = (replicaId: string, c: Omit<DigestCore, 'replicaId'>): Fields => ({
  replicaId,
  digest: c.digest,
  digestAt: c.digestAt,
  clock: c.clock,
  frontier: c.frontier,
  forgotten: [],
  retired: { hash: c.retiredHash, omitted: c.omitted, records: [] },
});

/** The parts a DIGEST carries, comparable with toEqual. */
const shape = (m: Fields) => ({
  replicaId: m.replicaId,
  digest: [...m.digest],
  digestAt: m.digestAt,
  clock: encodeClock(m.clock),
  frontier: encodeClock(m.frontier),
  retired: { hash: [...m.retired.hash], omitted: [...m.retired.omitted], records: m.retired.records },
});

/** Delivers a DIGEST frame as the replicator does: NEED_FULL, then the whole one, when the base is gone. */
function deliver(to: DigestBases, from: string, frame: Uint8Array, whole: () => Uint8Array): { digest: DigestMessage; needFull: boolean } {
  const m = decodeMessage(frame);
  if (m.type !== MSG.digest && m.type !== MSG.digestDelta) throw new Error('not a DIGEST');
  const d = to.incoming(from, m);
  if (d !== null) return { digest: d, needFull: false };
  const w = decodeMessage(whole());
  if (w.type !== MSG.digest) throw new Error('the whole DIGEST is not whole');
  return { digest: to.incoming(from, w)!, needFull: true };
}

describe('clock differences', () => {
  it('rebuild the next clock from the base, through the wire, and are no larger than the clock', () => {
    fc.assert(
      fc.property(clock, clock, (base, next) => {
        const diff = diffClock(base, next);
        expect(applyClockDiff(base, diff).equals(next)).toBe(true);
        const w = new Writer();
        writeClockDiff(w, base, diff);
        const rd = new Reader(w.finish(), 'diff');
        const read = readClockDiff(rd);
        rd.end();
        expect(applyClockDiff(base, read).equals(next)).toBe(true);
        const added = next.replicas().filter((r) => base.max(r) === 0).length;
        const removed = base.replicas().filter((r) => next.max(r) === 0).length;
        expect(clockDiffBytes(base, diff)).toBeLessThanOrEqual(encodeClock(next).length + added + 4 * removed);
        if (base.equals(next)) expect(clockDiffBytes(base, diff)).toBe(1);
      }),
    );
  });

  it('from any bytes, yield a clock a whole DIGEST could carry, or DecodeError', () => {
    fc.assert(
      fc.property(clock, fc.uint8Array({ maxLength: 80 }), (base, bytes) => {
        throwsOnly(DecodeError, () => {
          const rd = new Reader(bytes, 'diff');
          const got = applyClockDiff(base, readClockDiff(rd));
          // what a receiver would decode had the same clock come whole
          expect(decodeClock(encodeClock(got)).equals(got)).toBe(true);
        });
      }),
    );
  });

  it('refuse an index outside the base and a replica named twice', () => {
    const base = Clock.fromIntervals([[R1, 1, 5]]);
    expect(() => applyClockDiff(base, [{ r: 3, runs: [[1, 2]] }])).toThrow(DecodeError);
    expect(() => applyClockDiff(base, [{ r: 0, runs: [[1, 9]] }, { r: R1, runs: [[1, 2]] }])).toThrow(/named twice/);
  });
});

describe('DIGEST cores against a base', () => {
  it('rebuild exactly the core sent, with the same hash, through the wire', () => {
    fc.assert(
      fc.property(core, core, (b, n) => {
        const base = { replicaId: R1, ...b };
        const next = { replicaId: R1, ...n };
        const h = coreHash(base);
        const frame = decodeMessage(encodeDigestDelta(base, { core: diffCore(base, h, next), forgotten: [], records: [] }));
        if (frame.type !== MSG.digestDelta) throw new Error('not a DIGEST against a base');
        expect(frame.core.base).toBe(h);
        expect(coreHash(applyCore(base, frame.core))).toBe(coreHash(next));
      }),
    );
  });

  it('decode only as DecodeError when damaged', () => {
    const base: DigestCore = { replicaId: R1, digest: new Uint8Array(16), digestAt: 5, clock: Clock.fromIntervals([[R1, 1, 9], [R2, 1, 3]]), frontier: Clock.empty(), retiredHash: new Uint8Array(16), omitted: new Uint8Array(0) };
    const next = { ...base, clock: Clock.fromIntervals([[R1, 1, 12], [R2, 1, 3]]), digest: new Uint8Array(16).fill(1) };
    const valid = encodeDigestDelta(base, { heard: 'ab'.repeat(8), core: diffCore(base, coreHash(base), next), forgotten: [], records: [[R2, 3]] });
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (pos, x, cut) => {
        const bad = cut ? valid.subarray(0, pos % valid.length) : Uint8Array.from(valid);
        if (!cut) bad[pos % bad.length]! ^= x;
        throwsOnly(DecodeError, () => {
          const m = decodeMessage(bad);
          if (m.type === MSG.digestDelta) applyCore(base, m.core);
        });
      }),
    );
  });
});

describe('DigestBases: which DIGESTs each side holds', () => {
  type Op =
    | { op: 'change'; who: 0 | 1; c: Omit<DigestCore, 'replicaId'> }
    | { op: 'send'; who: 0 | 1 }
    | { op: 'deliver'; i: number }
    | { op: 'lose'; i: number }
    | { op: 'restart'; who: 0 | 1 }
    | { op: 'reconnect' };
  const who = fc.constantFrom(0 as const, 1 as const);
  // mostly rounds (a send, soon delivered), with changes, losses, reordering, restarts and reconnections among them
  const op: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('change' as const), who, c: core }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('send' as const), who }), weight: 6 },
    { arbitrary: fc.record({ op: fc.constant('deliver' as const), i: fc.nat() }), weight: 6 },
    { arbitrary: fc.record({ op: fc.constant('lose' as const), i: fc.nat() }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('restart' as const), who }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('reconnect' as const) }), weight: 1 },
  );

  it('every DIGEST delivered, in any order, after losses and restarts, is rebuilt as sent', () => {
    const seen = { deltas: 0, needFull: 0 };
    fc.assert(
      fc.property(core, core, fc.array(op, { minLength: 20, maxLength: 80 }), (c0, c1, ops) => {
        const names = ['a', 'b'];
        const ids = [R1, R2];
        const nodes = [new DigestBases(), new DigestBases()];
        const now: Fields[] = [fields(R1, c0), fields(R2, c1)];
        const flight: { from: 0 | 1; frame: Uint8Array; whole: () => Uint8Array; sent: ReturnType<typeof shape> }[] = [];
        for (const o of ops) {
          if (o.op === 'change') now[o.who] = fields(ids[o.who]!, o.c);
          if (o.op === 'send') {
            const out = nodes[o.who]!.outgoing(names[1 - o.who]!, now[o.who]!);
            flight.push({ from: o.who, frame: out.frame, whole: out.whole, sent: shape(now[o.who]!) });
          }
          if ((o.op === 'deliver' || o.op === 'lose') && flight.length > 0) {
            const [f] = flight.splice(o.i % flight.length, 1);
            if (o.op !== 'deliver') continue;
            const got = deliver(nodes[1 - f!.from]!, names[f!.from]!, f!.frame, f!.whole);
            expect(shape(got.digest)).toEqual(f!.sent);
            if (decodeMessage(f!.frame).type === MSG.digestDelta) seen[got.needFull ? 'needFull' : 'deltas']++;
          }
          if (o.op === 'restart') nodes[o.who] = new DigestBases();
          if (o.op === 'reconnect') nodes.forEach((n, i) => n.forgetPeer(names[1 - i]!));
        }
      }),
      { numRuns: 300 },
    );
    // not vacuous: differences were rebuilt, and lost bases were asked for whole
    expect(seen.deltas).toBeGreaterThan(50);
    expect(seen.needFull).toBeGreaterThan(5);
  });

  it('a base it does not hold, or a hash a peer made up, asks for the whole DIGEST', () => {
    const [a, b] = [new DigestBases(), new DigestBases()];
    const c: DigestCore = { replicaId: R1, digest: new Uint8Array(16), digestAt: 1, clock: Clock.fromIntervals([[R1, 1, 4]]), frontier: Clock.empty(), retiredHash: new Uint8Array(16), omitted: new Uint8Array(0) };
    const m = fields(R1, c);
    expect(deliver(b, 'a', a.outgoing('b', m).frame, () => new Uint8Array()).needFull).toBe(false); // whole, first of all
    const reply = b.outgoing('a', { ...m, replicaId: R2 });
    deliver(a, 'b', reply.frame, reply.whole); // a now knows b holds its DIGEST
    const next = a.outgoing('b', { ...m, clock: Clock.fromIntervals([[R1, 1, 5]]) });
    expect(next.delta).toBe(true);
    const fresh = new DigestBases(); // b restarted
    expect(deliver(fresh, 'a', next.frame, next.whole).needFull).toBe(true);
    const lie = decodeMessage(encodeDigestDelta(c, { core: { base: randomBytes(8).toString('hex'), clock: [{ r: 0, runs: [[1, 2 ** 40]] }], frontier: [] }, forgotten: [], records: [] }));
    if (lie.type !== MSG.digestDelta) throw new Error('not a DIGEST against a base');
    expect(b.incoming('a', lie)).toBeNull();
  });

  it('two nodes in sync exchange at most 128 bytes a round, both ways, at 3 and at 500 members', () => {
    for (const members of [3, 500]) {
      const replicas = Array.from({ length: members }, () => randomBytes(16).toString('hex'));
      const clock = Clock.fromIntervals(replicas.map((r, i) => [r, 1, 1_000_000 + i] as [string, number, number]));
      const at = (r: string): Fields => fields(r, { digest: new Uint8Array(16).fill(9), digestAt: 1_765_000_000_000, clock, frontier: clock, retiredHash: new Uint8Array(16), omitted: new Uint8Array(0) });
      const [a, b] = [new DigestBases(), new DigestBases()];
      const framed = (m: Uint8Array) => m.length + (m.length < 128 ? 1 : 2);
      const sizes: number[] = [];
      for (let round = 0; round < 4; round++) {
        const ask = a.outgoing('b', at(replicas[0]!));
        deliver(b, 'a', ask.frame, ask.whole);
        const answer = b.outgoing('a', at(replicas[1]!));
        deliver(a, 'b', answer.frame, answer.whole);
        sizes.push(framed(ask.frame) + framed(answer.frame) + 2 * framed(END_MESSAGE) + 2 * framed(EXCHANGE_ACK_MESSAGE));
      }
      expect(sizes[0]).toBeGreaterThan(128 * (members > 3 ? 10 : 1)); // the first is whole
      expect(sizes.slice(2).every((s) => s <= 128)).toBe(true);
    }
  });
});

describe('PexSchedule', () => {
  it('sends the list once per connection, then only when it changed, at most every tenth tick', () => {
    const p = new PexSchedule(10);
    expect(p.due('x', 1, ['a', 'b'])).toBe(true);
    expect(p.due('x', 50, ['b', 'a'])).toBe(false); // the same list in another order
    expect(p.due('x', 55, ['a'])).toBe(true);
    expect(p.due('x', 56, ['c'])).toBe(false); // changed again, but too soon
    expect(p.due('x', 65, ['c'])).toBe(true);
    p.forget('x'); // a new connection
    expect(p.due('x', 66, ['c'])).toBe(true);
    p.failed('x', 66); // it did not arrive: again ten ticks later, not at once
    expect(p.due('x', 67, ['c'])).toBe(false);
    expect(p.due('x', 76, ['c'])).toBe(true);
  });
});
