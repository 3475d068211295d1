import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../src/errors.js';
import { decodeOverlay, encodeOverlay, MAX_SHUFFLE_NODES, OVERLAY_MSG, type OverlayMessage } from '../../src/overlay/messages.js';
import { throwsOnly } from '../core/arbitraries.js';

const text = fc.string({ minLength: 1, maxLength: 40 });
const addrs = fc.array(text, { maxLength: 3 });
const peer = fc.record({ id: text, addrs });
const dot = fc.record({ r: fc.stringMatching(/^[0-9a-f]{32}$/), c: fc.integer({ min: 1, max: 2 ** 40 }) });
const ttl = fc.integer({ min: 0, max: 16 });
const round = fc.integer({ min: 0, max: 4096 });

const message: fc.Arbitrary<OverlayMessage> = fc.oneof(
  fc.record({ type: fc.constant(OVERLAY_MSG.join), addrs }),
  fc.record({ type: fc.constant(OVERLAY_MSG.forwardJoin), peer, ttl }),
  fc.record({ type: fc.constant(OVERLAY_MSG.neighbor), high: fc.boolean(), reply: fc.boolean(), addrs }),
  fc.record({ type: fc.constant(OVERLAY_MSG.disconnect), alive: fc.boolean() }),
  fc.record({ type: fc.constant(OVERLAY_MSG.shuffle), origin: peer, nodes: fc.array(peer, { maxLength: MAX_SHUFFLE_NODES }), ttl }),
  fc.record({ type: fc.constant(OVERLAY_MSG.shuffleReply), nodes: fc.array(peer, { maxLength: 8 }) }),
  fc.record({ type: fc.constant(OVERLAY_MSG.gossip), id: dot, round, payload: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ type: fc.constant(OVERLAY_MSG.ihave), entries: fc.array(fc.record({ id: dot, round, fetch: fc.boolean() }), { maxLength: 10 }) }),
  fc.record({ type: fc.constant(OVERLAY_MSG.graft), id: dot, round, want: fc.boolean() }),
  fc.record({ type: fc.constant(OVERLAY_MSG.prune), origin: fc.stringMatching(/^[0-9a-f]{32}$/) }),
);

describe('overlay messages', () => {
  it('decode(encode(m)) is m for every message', () => {
    fc.assert(
      fc.property(message, (m) => {
        const back = decodeOverlay(encodeOverlay(m));
        expect(back).toEqual(m);
      }),
    );
  });

  it('a decode of arbitrary bytes throws nothing but DecodeError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => throwsOnly(DecodeError, () => decodeOverlay(b))));
  });

  it('a decode of a valid message with bytes changed, cut or added throws nothing but DecodeError', () => {
    fc.assert(
      fc.property(message, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2 }), (m, at, byte, how) => {
        const b = encodeOverlay(m).slice();
        const i = at % b.length;
        const changed = how === 0 ? (b.set([byte], i), b) : how === 1 ? b.subarray(0, i) : Uint8Array.from([...b, byte]);
        throwsOnly(DecodeError, () => decodeOverlay(changed));
      }),
    );
  });

  it('refuses oversized lists, long walks, trailing bytes and unknown types', () => {
    const tooMany = encodeOverlay({ type: OVERLAY_MSG.shuffleReply, nodes: [] }).slice();
    tooMany[1] = MAX_SHUFFLE_NODES + 1;
    expect(() => decodeOverlay(tooMany)).toThrow(DecodeError);
    const walk = encodeOverlay({ type: OVERLAY_MSG.forwardJoin, peer: { id: 'p', addrs: [] }, ttl: 1 }).slice();
    walk[walk.length - 1] = 17;
    expect(() => decodeOverlay(walk)).toThrow(/ttl 17/);
    expect(() => decodeOverlay(Uint8Array.from([...encodeOverlay({ type: OVERLAY_MSG.prune, origin: 'ab'.repeat(16) }), 0]))).toThrow(/trailing/);
    expect(() => decodeOverlay(Uint8Array.of(60))).toThrow(/unknown overlay message type 60/);
  });
});
