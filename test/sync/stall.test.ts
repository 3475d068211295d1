import { describe, expect, it } from 'vitest';
import { bytesMoved, checkStall, type StallState } from '../../src/sync/stall.js';

const IDLE = 30_000;

/** Runs checks at the given (time, bytes moved, busy) points; returns whether each one stalled. */
function run(points: [number, number, boolean][]): boolean[] {
  let state: StallState = { moved: 0, at: 0 };
  return points.map(([now, moved, busy]) => {
    const r = checkStall(state, moved, busy, now, IDLE);
    state = r.state;
    return r.stalled;
  });
}

describe('checkStall: liveness by bytes moved, not by whole frames', () => {
  it('a slow transfer whose bytes keep trickling in never stalls, however long its frame takes', () => {
    // 16 MiB at 1 KiB per 10 s: no frame completes in the whole hour, yet bytes move at every check.
    const points: [number, number, boolean][] = Array.from({ length: 360 }, (_, i) => [(i + 1) * 10_000, (i + 1) * 1024, true]);
    expect(run(points).some(Boolean)).toBe(false);
  });

  it('stalls once no byte moved for longer than the bound, and not a moment before', () => {
    expect(run([[10_000, 500, true], [20_000, 500, true], [40_000, 500, true], [40_001, 500, true]])).toEqual([false, false, false, true]);
  });

  it('an idle stream that owes nothing (a push stream between pushes) does not stall, and the clock starts when it owes again', () => {
    expect(run([[100_000, 0, false], [200_000, 0, false], [200_000, 0, true], [230_000, 0, true], [230_001, 0, true]])).toEqual([false, false, false, false, true]);
  });

  it('progress in either direction resets the clock', () => {
    // received grows, then only sent bytes leave the write buffer
    const a = bytesMoved(100, 0, 0);
    const b = bytesMoved(100, 16 << 20, 16 << 20); // 16 MiB handed to the stream, none taken yet
    const c = bytesMoved(100, 16 << 20, (16 << 20) - 4096); // the peer took 4 KiB
    expect(b).toBe(a);
    expect(c).toBeGreaterThan(b);
    expect(run([[25_000, a, true], [50_000, b, true], [75_000, c, true], [100_000, c, true], [105_001, c, true]])).toEqual([false, false, false, false, true]);
  });
});
