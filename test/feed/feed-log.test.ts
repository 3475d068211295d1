import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FeedRing, formatPosition, hasPrefix, parsePosition, resumeFrom, WatchQueue, type FeedEntry } from '../../src/feed/feed-log.js';

const entry = (seq: number, size = 10): FeedEntry => ({ seq, key: Buffer.from(`k${seq}`), size });
const EPOCH = '0123456789abcdef';

describe('feed positions', () => {
  it('format and parse are inverse; anything else is refused', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{16}$/), fc.nat({ max: Number.MAX_SAFE_INTEGER }), (epoch, seq) => {
        expect(parsePosition(formatPosition({ epoch, seq }))).toEqual({ epoch, seq });
      }),
    );
    for (const bad of ['', 'abc', `${EPOCH}`, `${EPOCH}:`, `${EPOCH}:-1`, `${EPOCH}:1.5`, `${EPOCH.toUpperCase()}:1`, `${EPOCH}0:1`, `${EPOCH}:1e3`]) {
      expect(parsePosition(bad), bad).toBeUndefined();
    }
  });
});

describe('FeedRing', () => {
  it('holds at most maxEntries and maxBytes, newest first kept, and resumes exactly after a held position', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.oneof(fc.record({ push: fc.integer({ min: 1, max: 50 }) }), fc.record({ unrecorded: fc.integer({ min: 1, max: 5 }) })), { maxLength: 60 }),
        (maxEntries, maxBytes, ops) => {
          const ring = new FeedRing<FeedEntry>(maxEntries, maxBytes);
          const pushed: FeedEntry[] = [];
          let lastUnrecorded = 0;
          for (const op of ops) {
            if ('push' in op) {
              const e = entry(ring.head + 1, op.push);
              ring.push(e);
              pushed.push(e);
            } else {
              ring.passUnrecorded(op.unrecorded);
              lastUnrecorded = ring.head;
            }
            expect(ring.size).toBeLessThanOrEqual(maxEntries);
            expect(ring.heldBytes <= maxBytes || ring.size === 1).toBe(true);
          }
          const held = ring.after(ring.head)!;
          expect(held).toEqual([]);
          // every position from the oldest held one's predecessor to the head resumes with exactly the changes after it
          const heldAll = pushed.filter((e) => e.seq > lastUnrecorded).slice(-ring.size);
          const from = heldAll.length === 0 ? ring.head : heldAll[0]!.seq - 1;
          for (let s = from; s <= ring.head; s++) expect(ring.after(s)!.map((e) => e.seq)).toEqual(heldAll.filter((e) => e.seq > s).map((e) => e.seq));
          // before that, or past the head: not resumable
          if (from > 0) expect(ring.after(from - 1)).toBeUndefined();
          expect(ring.after(ring.head + 1)).toBeUndefined();
        },
      ),
    );
  });

  it('refuses an entry out of order', () => {
    const ring = new FeedRing<FeedEntry>(10, 1000);
    ring.push(entry(1));
    expect(() => ring.push(entry(3))).toThrow(RangeError);
  });

  it('keeps compacting as entries pass through (no growth with a long history)', () => {
    const ring = new FeedRing<FeedEntry>(100, 1e9);
    for (let i = 1; i <= 100_000; i++) ring.push(entry(i, 1));
    expect(ring.size).toBe(100);
    expect(ring.after(99_900)!.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => 99_901 + i));
    expect(ring.after(99_899)).toBeUndefined();
  });
});

describe('resumeFrom', () => {
  const ring = new FeedRing<FeedEntry>(3, 1000);
  for (let i = 1; i <= 5; i++) ring.push(entry(i));

  it('without a position: nothing missed, nothing replayed', () => {
    expect(resumeFrom(undefined, EPOCH, ring)).toEqual({ missed: null, replay: [] });
  });
  it('another epoch: the daemon restarted', () => {
    expect(resumeFrom({ epoch: 'ffffffffffffffff', seq: 4 }, EPOCH, ring)).toEqual({ missed: 'restarted', replay: [] });
  });
  it('a held position: the changes after it', () => {
    expect(resumeFrom({ epoch: EPOCH, seq: 3 }, EPOCH, ring).replay.map((e) => e.seq)).toEqual([4, 5]);
    expect(resumeFrom({ epoch: EPOCH, seq: 5 }, EPOCH, ring)).toEqual({ missed: null, replay: [] });
  });
  it('a position whose changes left the ring: evicted; one past the head, which this feed never gave: unknown', () => {
    expect(resumeFrom({ epoch: EPOCH, seq: 1 }, EPOCH, ring).missed).toBe('evicted');
    expect(resumeFrom({ epoch: EPOCH, seq: 6 }, EPOCH, ring).missed).toBe('unknown');
    expect(resumeFrom({ epoch: EPOCH, seq: 99_999 }, EPOCH, ring).missed).toBe('unknown');
  });
});

describe('WatchQueue', () => {
  it('takes entries up to its bounds; past them it empties and marks itself overflowed', () => {
    const q = new WatchQueue<FeedEntry>(3, 25);
    expect(q.push(entry(1))).toBe(true);
    expect(q.push(entry(2))).toBe(true);
    expect(q.push(entry(3))).toBe(false); // 30 bytes > 25
    expect(q.overflowed).toBe(true);
    expect(q.length).toBe(0);
    q.overflowed = false;
    for (let i = 4; i <= 5; i++) expect(q.push(entry(i, 1))).toBe(true);
    expect(q.push(entry(6, 1))).toBe(true);
    expect(q.push(entry(7, 1))).toBe(false); // a fourth entry
    expect(q.shift()).toBeUndefined();
  });

  it('always lets one entry in, however large', () => {
    const q = new WatchQueue<FeedEntry>(3, 10);
    expect(q.push(entry(1, 1000))).toBe(true);
    expect(q.shift()!.seq).toBe(1);
  });

  it('gives entries back in order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10 }), { maxLength: 40 }), (sizes) => {
        const q = new WatchQueue<FeedEntry>(1000, 1e9);
        sizes.forEach((s, i) => q.push(entry(i + 1, s)));
        const out: number[] = [];
        for (let e = q.shift(); e !== undefined; e = q.shift()) out.push(e.seq);
        expect(out).toEqual(sizes.map((_, i) => i + 1));
      }),
    );
  });
});

describe('hasPrefix', () => {
  it('matches byte prefixes', () => {
    const b = (s: string) => Buffer.from(s);
    expect(hasPrefix(b('user:1'), b('user:'))).toBe(true);
    expect(hasPrefix(b('user:1'), b(''))).toBe(true);
    expect(hasPrefix(b('use'), b('user:'))).toBe(false);
    expect(hasPrefix(b('users'), b('user:'))).toBe(false);
  });
});
