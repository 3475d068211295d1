// Framing of the backup stream and chunk files: frames survive any split of the bytes, the head
// round-trips, and truncated or oversized input is refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeHead, encodeHead, FrameSplitter, MAX_FRAME_BYTES, prefix, splitFrames } from '../../src/backup/frames.js';
import { Clock } from '../../src/core/clock.js';
import { DecodeError } from '../../src/errors.js';
import { dotSet } from '../core/arbitraries.js';

const frame = fc.uint8Array({ maxLength: 300 });

describe('backup frames', () => {
  it('frames come out whole and in order however the bytes are cut', () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1 }), (frames, cuts) => {
        const bytes = Buffer.concat(frames.flatMap((f) => [prefix(f), Buffer.from(f)]));
        const s = new FrameSplitter();
        const out: Buffer[] = [];
        for (let pos = 0, i = 0; pos < bytes.length; i++) {
          const n = cuts[i % cuts.length]!;
          out.push(...[...s.push(bytes.subarray(pos, pos + n))].map((b) => Buffer.from(b)));
          pos += n;
        }
        expect(out.map((b) => [...b])).toEqual(frames.map((f) => [...f]));
        expect(s.partial).toBe(false);
      }),
    );
  });

  it('round-trips the head', () => {
    fc.assert(
      fc.property(dotSet, dotSet, fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat(), (dots, collected, digest, keys) => {
        const clock = Clock.empty();
        for (const [r, c] of dots) clock.add(r, c);
        const frontier = Clock.empty();
        for (const [r, c] of collected) frontier.add(r, c);
        const h = decodeHead(encodeHead({ clock, digest: Buffer.from(digest).toString('hex'), keys, frontier }));
        expect(h.clock.toJSON()).toEqual(clock.toJSON());
        expect(h.frontier.toJSON()).toEqual(frontier.toJSON());
        expect(h.digest).toBe(Buffer.from(digest).toString('hex'));
        expect(h.keys).toBe(keys);
      }),
    );
  });

  it('refuses a truncated buffer, an oversized length and a head of the wrong type', () => {
    const whole = Buffer.concat([prefix(Buffer.from('abc')), Buffer.from('abc')]);
    expect(() => splitFrames(whole.subarray(0, 5))).toThrow(DecodeError);
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(MAX_FRAME_BYTES + 1);
    expect(() => splitFrames(huge)).toThrow(/exceeds the limit/);
    expect(() => decodeHead(Uint8Array.of(2, 1))).toThrow(DecodeError);
  });
});
