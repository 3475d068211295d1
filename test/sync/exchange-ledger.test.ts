import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { ExchangeLedger, ExchangeOrderError } from '../../src/sync/exchange-ledger.js';
import { decodeMessage, EXCHANGE_ACK_MESSAGE, EXCHANGE_ACK_SEQ, MSG } from '../../src/sync/messages.js';

const R = 'ab'.repeat(16);
const S = 'cd'.repeat(16);
const DELTA = { type: MSG.delta, seq: 0 };
const END = { type: MSG.end };
const ACK = { type: MSG.ack, seq: EXCHANGE_ACK_SEQ };

describe('ExchangeLedger', () => {
  it('the exchange ACK is an ACK with the reserved sequence number no PUSH uses', () => {
    expect(decodeMessage(EXCHANGE_ACK_MESSAGE)).toEqual({ type: MSG.ack, seq: 0 });
  });

  it('credits the union of the claims sent, once the peer acknowledged them after our END', () => {
    const l = new ExchangeLedger();
    l.sent(Clock.fromIntervals([[R, 1, 5]]));
    l.sent(Clock.fromIntervals([[S, 3, 3]]));
    expect(l.received(DELTA)).toBe('delta');
    expect(l.received(END)).toBe('end');
    expect(l.owed).toBe(true);
    expect(l.credit().isEmpty()).toBe(true); // their END is not an acknowledgement
    l.sentEnd();
    expect(l.received(ACK)).toBe('ack');
    expect(l.owed).toBe(false);
    expect(l.credit().equals(Clock.fromIntervals([[R, 1, 5], [S, 3, 3]]))).toBe(true);
  });

  it('accepts the ACK before the peer\'s END, never before ours', () => {
    const early = new ExchangeLedger();
    early.sent(Clock.fromIntervals([[R, 1, 1]]));
    expect(() => early.received(ACK)).toThrow(/before this node sent END/);
    expect(early.credit().isEmpty()).toBe(true);

    const l = new ExchangeLedger();
    l.sent(Clock.fromIntervals([[R, 1, 1]]));
    l.sentEnd();
    expect(l.received(DELTA)).toBe('delta');
    expect(l.received(ACK)).toBe('ack');
    expect(l.received(DELTA)).toBe('delta');
    expect(l.received(END)).toBe('end');
    expect(l.credit().equals(Clock.fromIntervals([[R, 1, 1]]))).toBe(true);
  });

  it('refuses what is out of place: a second ACK or END, a DELTA after END, a PUSH sequence number, other types', () => {
    const fresh = (): ExchangeLedger => {
      const l = new ExchangeLedger();
      l.sentEnd();
      return l;
    };
    const twice = fresh();
    twice.received(ACK);
    expect(() => twice.received(ACK)).toThrow(/second ACK/);
    const ended = fresh();
    ended.received(END);
    expect(() => ended.received(END)).toThrow(/expected ACK, got message type 3 after END/);
    expect(() => ended.received(DELTA)).toThrow(/expected ACK, got message type 2 after END/);
    expect(() => fresh().received({ type: MSG.ack, seq: 1 })).toThrow(/ACK 1 in a sync exchange/);
    for (const type of [MSG.digest, MSG.push, MSG.snapChunk, MSG.verify]) {
      expect(() => fresh().received({ type })).toThrow(ExchangeOrderError);
    }
  });

  it('an owed ACK is only one for something sent', () => {
    const l = new ExchangeLedger();
    l.sentEnd();
    expect(l.owed).toBe(false);
  });

  it('property: the credit is exactly the claims sent when an in-order ACK came, and nothing otherwise', () => {
    const claim = fc
      .array(fc.tuple(fc.constantFrom(R, S), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 5 })), { maxLength: 4 })
      .map((runs) => Clock.fromIntervals(runs.map(([r, from, len]) => [r, from, from + len] as [string, number, number])));
    const event = fc.oneof(
      claim.map((c) => ({ kind: 'sent' as const, c })),
      fc.constant({ kind: 'sentEnd' as const }),
      fc.constantFrom(DELTA, END, ACK, { type: MSG.ack, seq: 7 }, { type: MSG.digest }).map((m) => ({ kind: 'recv' as const, m })),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 12 }), (events) => {
        const l = new ExchangeLedger();
        const sent = Clock.empty();
        let ourEnd = false;
        let theirEnd = false;
        let acked = false;
        for (const e of events) {
          if (e.kind === 'sent') {
            if (ourEnd) continue; // the replicator never sends a DELTA after END
            l.sent(e.c);
            sent.merge(e.c);
          } else if (e.kind === 'sentEnd') {
            l.sentEnd();
            ourEnd = true;
          } else {
            const m = e.m;
            const ok =
              (m.type === MSG.delta && !theirEnd) ||
              (m.type === MSG.end && !theirEnd) ||
              (m.type === MSG.ack && m.seq === EXCHANGE_ACK_SEQ && ourEnd && !acked);
            if (!ok) {
              expect(() => l.received(m)).toThrow(ExchangeOrderError);
              break; // the stream is closed
            }
            l.received(m);
            if (m.type === MSG.end) theirEnd = true;
            if (m.type === MSG.ack) acked = true;
          }
        }
        expect(l.credit().equals(acked ? sent : Clock.empty())).toBe(true);
        expect(l.owed).toBe(!acked && !sent.isEmpty());
      }),
    );
  });
});
