// Range reconciliation's messages (sync/recon-messages.ts): what is encoded decodes the same, and
// anything out of bounds or malformed is refused with a DecodeError before it reaches the core.
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { FANOUT, NODES } from '../../src/core/reconcile.js';
import { DecodeError } from '../../src/errors.js';
import { decodeRecon, encodeDiff, encodeFps, encodeNeed, encodeReconBegin, encodeReconHello, encodeReconStates, MAX_NEED, RECON } from '../../src/sync/recon-messages.js';

const since = Clock.fromIntervals([['ab'.repeat(16), 1, 40]]);

describe('reconciliation messages', () => {
  it('round-trip', () => {
    expect(decodeRecon(encodeReconBegin({ at: 1_800_000_000_000, word: 3, since }))).toMatchObject({ type: RECON.begin, at: 1_800_000_000_000, word: 3 });
    expect(decodeRecon(encodeReconBegin({ at: 5, word: 0 }))).toEqual({ type: RECON.begin, at: 5, word: 0 });
    expect(decodeRecon(encodeReconHello({ clock: since, frontier: Clock.empty(), keys: 7, heads: [] }))).toMatchObject({ type: RECON.hello, keys: 7, heads: [] });
    const fps = Uint32Array.from({ length: FANOUT }, (_, i) => 0xfffffff0 + i);
    expect(decodeRecon(encodeFps([{ parent: 17, fps }]))).toEqual({ type: RECON.fps, groups: [{ parent: 17, fps }] });
    const diffs = [{ differ: 0b1011, listed: 0b0011, lists: [Uint32Array.of(1, 2), Uint32Array.of()] }];
    expect(decodeRecon(encodeDiff(diffs))).toEqual({ type: RECON.diff, diffs });
    expect(decodeRecon(encodeNeed([0, 0xffffffff]))).toEqual({ type: RECON.need, hashes: [0, 0xffffffff] });
    const entries = [{ key: Buffer.from('k'), state: Uint8Array.of(1, 2, 3) }];
    expect(decodeRecon(encodeReconStates([], entries))).toMatchObject({ type: RECON.states, heads: [], entries: [{ key: Uint8Array.from(entries[0]!.key) }] });
  });

  it('refuses what is out of bounds or malformed', () => {
    const bad: Uint8Array[] = [
      Uint8Array.of(RECON.begin, 2, 0, 0, 0), // unknown version
      Uint8Array.of(RECON.begin, 1, 0, 4, 0), // word past 3
      Uint8Array.of(RECON.begin, 1, 0, 0, 2), // bad flag
      encodeFps([{ parent: NODES - 1, fps: new Uint32Array(FANOUT) }]), // a leaf has no children
      encodeDiff([{ differ: 0b01, listed: 0b10, lists: [Uint32Array.of()] }]), // lists a range not said to differ
      encodeDiff([{ differ: 1 << FANOUT, listed: 0, lists: [] }]), // a child past the fanout
      encodeNeed(Array.from({ length: MAX_NEED + 1 }, (_, i) => i)),
      Uint8Array.of(...encodeNeed([1]), 0), // trailing byte
      Uint8Array.of(27),
    ];
    for (const f of bad) expect(() => decodeRecon(f), Buffer.from(f.subarray(0, 8)).toString('hex')).toThrow(DecodeError);
  });
});
