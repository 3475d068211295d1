import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { WriteConcern } from '../../src/sync/write-concern.js';
import { WriteConcernError } from '../../src/errors.js';

const R = 'ab'.repeat(16);

describe('WriteConcern', () => {
  it('counts the writer plus every peer whose holdings cover the write', async () => {
    const peers = [Clock.empty(), Clock.empty()];
    const wc = new WriteConcern(() => peers);
    const dots = Clock.fromIntervals([[R, 5, 6]]);
    expect(wc.count(dots)).toBe(1);
    const waiting = wc.wait(dots, 3, 10_000);
    peers[0]!.addRange(R, 1, 6);
    wc.changed();
    peers[1]!.addRange(R, 5, 5); // covers only part of the write: not yet
    wc.changed();
    expect(wc.count(dots)).toBe(2);
    peers[1]!.add(R, 6);
    wc.changed();
    await expect(waiting).resolves.toBe(3);
    await expect(wc.wait(dots, 1, 1)).resolves.toBe(3);
  });

  it('pending: every dot a waiting write still needs, until it is met or times out', async () => {
    const held = Clock.empty();
    const wc = new WriteConcern(() => [held]);
    expect(wc.pending().isEmpty()).toBe(true);
    const met = wc.wait(Clock.fromIntervals([[R, 1, 1]]), 2, 10_000);
    const late = wc.wait(Clock.fromIntervals([[R, 3, 4]]), 2, 30).catch((e: unknown) => e);
    expect(wc.pending().equals(Clock.fromIntervals([[R, 1, 1], [R, 3, 4]]))).toBe(true);
    held.add(R, 1);
    wc.changed();
    await expect(met).resolves.toBe(2);
    expect(wc.pending().equals(Clock.fromIntervals([[R, 3, 4]]))).toBe(true);
    expect(await late).toBeInstanceOf(WriteConcernError);
    expect(wc.pending().isEmpty()).toBe(true);
  });

  it('times out with how many replicas hold the write', async () => {
    const wc = new WriteConcern(() => [Clock.fromIntervals([[R, 1, 9]])]);
    const err = await wc.wait(Clock.fromIntervals([[R, 10, 10]]), 2, 20).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WriteConcernError);
    expect((err as WriteConcernError).acked).toBe(1);
    expect((err as Error).message).toMatch(/1 of 2 replicas/);
  });
});
