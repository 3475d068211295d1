// The decision behind a peer's GC frontier that this node lacks part of (sync/catch-up.ts): only a
// node restored from a backup takes the peer's word; any other keeps all it holds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CATCH_UP_EVERY_MS, onBehind } from '../../src/sync/catch-up.js';

describe('onBehind', () => {
  it('never catches up (drops what the peer lacks) unless this node was restored from a backup', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.option(fc.nat(1e9), { nil: undefined }), fc.nat(1e9), (gone, busy, lastTry, now) => {
        const action = onBehind({ gone, restored: false, busy, lastTry, now });
        expect(action).toBe(gone ? 'gone' : 'refuse');
      }),
    );
  });

  it('a restored node catches up, one peer at a time, at most once a minute from each', () => {
    expect(onBehind({ gone: false, restored: true, busy: false, lastTry: undefined, now: 5 })).toBe('catch-up');
    expect(onBehind({ gone: false, restored: true, busy: true, lastTry: undefined, now: 5 })).toBe('wait');
    expect(onBehind({ gone: false, restored: true, busy: false, lastTry: 1000, now: 1000 + CATCH_UP_EVERY_MS - 1 })).toBe('wait');
    expect(onBehind({ gone: false, restored: true, busy: false, lastTry: 1000, now: 1000 + CATCH_UP_EVERY_MS })).toBe('catch-up');
    expect(onBehind({ gone: true, restored: true, busy: false, lastTry: undefined, now: 5 })).toBe('gone');
  });
});
