import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { encodeKeyState } from '../../src/core/codec.js';
import { forgetSignatureValid, newOperatorKey, signForget } from '../../src/core/forget-record.js';
import { localWrite } from '../../src/core/key-state.js';
import { DecodeError } from '../../src/errors.js';
import { throwsOnly } from '../core/arbitraries.js';
import {
  encodeBusy,
  VERIFY_MESSAGE,
  FORGOTTEN_MESSAGE,
  decodeMessage,
  encodeAck,
  encodeDigest,
  encodePeers,
  NEED_FULL_MESSAGE,
  encodeEntries,
  encodeSnapBegin,
  encodeSnapChunk,
  encodeSnapRequest,
  END_MESSAGE,
  MSG,
  SNAP_END_MESSAGE,
} from '../../src/sync/messages.js';

const R = 'ab'.repeat(16);
const clock = Clock.fromIntervals([
  [R, 1, 10],
  [R, 12, 12],
]);
const state = encodeKeyState(localWrite(undefined, { r: R, c: 3 }, 99, Buffer.from('value')));

describe('sync messages', () => {
  it('round-trip', () => {
    const digest = new Uint8Array(16).fill(7);
    const gone = signForget(newOperatorKey().key, '12D3KooWgone', 1_700_000_000_000);
    const d = decodeMessage(encodeDigest({ replicaId: R, digest, clock, forgotten: [gone], heard: '0123456789abcdef' }));
    expect(d.type).toBe(MSG.digest);
    if (d.type !== MSG.digest) return;
    expect(d.replicaId).toBe(R);
    expect([...d.digest]).toEqual([...digest]);
    expect(d.clock.equals(clock)).toBe(true);
    expect(d.heard).toBe('0123456789abcdef');
    expect(d.forgotten).toEqual([gone]);
    expect(forgetSignatureValid(d.forgotten[0]!)).toBe(true);

    for (const type of [MSG.delta, MSG.push] as const) {
      const m = decodeMessage(encodeEntries(type, { claim: clock, entries: [{ key: Buffer.from('k'), state }] }));
      expect(m.type).toBe(type);
      if (m.type !== MSG.delta && m.type !== MSG.push) return;
      expect(m.claim.equals(clock)).toBe(true);
      expect(Buffer.from(m.entries[0]!.key).toString()).toBe('k');
      expect(Buffer.compare(m.entries[0]!.state, state)).toBe(0);
    }
    expect(decodeMessage(END_MESSAGE)).toEqual({ type: MSG.end });
    expect(decodeMessage(encodePeers(['/ip4/127.0.0.1/tcp/1/p2p/x']))).toEqual({ type: MSG.peers, addrs: ['/ip4/127.0.0.1/tcp/1/p2p/x'] });
    expect(decodeMessage(NEED_FULL_MESSAGE)).toEqual({ type: MSG.needFull });
    expect(decodeMessage(encodeAck(42))).toEqual({ type: MSG.ack, seq: 42 });
    expect(decodeMessage(encodeBusy(false))).toEqual({ type: MSG.busy, hasData: false });
    expect(decodeMessage(encodeBusy(true))).toEqual({ type: MSG.busy, hasData: true });
    expect(() => decodeMessage(Uint8Array.of(MSG.busy, 2))).toThrow(/BUSY flag/);
    expect(decodeMessage(VERIFY_MESSAGE)).toEqual({ type: MSG.verify });
    expect(decodeMessage(FORGOTTEN_MESSAGE)).toEqual({ type: MSG.forgotten });
    expect(() => decodeMessage(Uint8Array.of(MSG.verify, 0))).toThrow(/trailing/);
    expect(decodeMessage(SNAP_END_MESSAGE)).toEqual({ type: MSG.snapEnd });
    const req = decodeMessage(encodeSnapRequest(Buffer.from('after-me')));
    expect(req.type === MSG.snapRequest && Buffer.from(req.after).toString()).toBe('after-me');
    expect(req.type === MSG.snapRequest && req.since).toBe(undefined);
    const narrow = decodeMessage(encodeSnapRequest(new Uint8Array(0), clock));
    expect(narrow.type === MSG.snapRequest && narrow.after.length === 0 && narrow.since?.equals(clock)).toBe(true);
    const begin = decodeMessage(encodeSnapBegin(clock, 1234, []));
    expect(begin.type === MSG.snapBegin && begin.keys === 1234 && begin.clock.equals(clock)).toBe(true);
    const chunk = decodeMessage(encodeSnapChunk([{ key: Buffer.from('k'), state }]));
    expect(chunk.type === MSG.snapChunk && chunk.entries.length).toBe(1);
  });

  it('refuses any malformed frame with DecodeError, never another error', () => {
    const valid = [
      encodeDigest({ replicaId: R, digest: new Uint8Array(16), clock, forgotten: [signForget(newOperatorKey().key, 'x', 1)] }),
      encodePeers(['/ip4/1.2.3.4/tcp/5']),
      encodeEntries(MSG.delta, { claim: clock, entries: [{ key: Buffer.from('key'), state }] }),
      END_MESSAGE,
    ];
    fc.assert(
      fc.property(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (m, pos, x, cut) => {
        const bad = cut ? m.subarray(0, pos % m.length) : Uint8Array.from(m);
        if (!cut) bad[pos % bad.length]! ^= x;
        throwsOnly(DecodeError, () => decodeMessage(bad));
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => throwsOnly(DecodeError, () => decodeMessage(b))),
    );
    expect(() => decodeMessage(Uint8Array.of(99))).toThrow(/unknown message type 99/);
    expect(() => decodeMessage(Uint8Array.of(MSG.end, 0))).toThrow(/trailing/);
  });
});
