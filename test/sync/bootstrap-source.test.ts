import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseSource, type SourceInput, type Supply } from '../../src/sync/bootstrap-source.js';
import { LogLimiter } from '../../src/log-limiter.js';

const input = (supply: Record<string, Supply>, over: Partial<SourceInput> = {}): SourceInput => ({
  supply: new Map(Object.entries(supply)),
  failedAt: new Map(),
  now: 1000,
  emptySince: null,
  graceMs: 500,
  partial: false,
  ...over,
});

describe('choosing a bootstrap source', () => {
  it('streams from a peer with data, the one that failed longest ago first', () => {
    expect(chooseSource(input({ a: 'empty', b: 'data', c: 'partial' }))).toEqual({ action: 'stream', peer: 'b' });
    const failedAt = new Map([['b', 900]]);
    expect(chooseSource(input({ b: 'data', d: 'data' }, { failedAt }))).toEqual({ action: 'stream', peer: 'd' });
  });

  it('waits while a peer is receiving data or has not answered', () => {
    expect(chooseSource(input({ a: 'empty', c: 'partial' }))).toEqual({ action: 'wait', emptySince: null });
    expect(chooseSource(input({ a: 'empty', u: 'unknown' }))).toEqual({ action: 'wait', emptySince: null });
    expect(chooseSource(input({}))).toEqual({ action: 'wait', emptySince: null });
  });

  it('gives up on a snapshot when every peer stays empty for the grace period (a new cluster)', () => {
    const first = chooseSource(input({ a: 'empty', b: 'empty' }));
    expect(first).toEqual({ action: 'wait', emptySince: 1000 });
    expect(chooseSource(input({ a: 'empty', b: 'empty' }, { now: 1499, emptySince: 1000 }))).toEqual({ action: 'wait', emptySince: 1000 });
    expect(chooseSource(input({ a: 'empty', b: 'empty' }, { now: 1500, emptySince: 1000 }))).toEqual({ action: 'none' });
    // but not when this node already stored part of a snapshot: that data exists somewhere
    expect(chooseSource(input({ a: 'empty' }, { now: 99_999, emptySince: 0, partial: true })).action).toBe('wait');
  });

  it('never gives up while any peer has data or part of it, whatever the times', () => {
    const supply = fc.dictionary(fc.string({ minLength: 1, maxLength: 3 }), fc.constantFrom<Supply>('data', 'partial', 'empty', 'unknown'), { minKeys: 1 });
    fc.assert(
      fc.property(supply, fc.nat(), fc.option(fc.nat()), fc.boolean(), (s, now, emptySince, partial) => {
        const d = chooseSource(input(s, { now, emptySince, partial }));
        const values = Object.values(s);
        if (values.includes('data')) expect(d.action).toBe('stream');
        if (d.action === 'stream') expect(s[d.peer]).toBe('data');
        if (d.action === 'none') expect(values.every((v) => v === 'empty') && !partial).toBe(true);
      }),
    );
  });
});

describe('rate-limited warnings', () => {
  it('lets one line per key per window through and counts the rest', () => {
    const l = new LogLimiter(60_000);
    expect(l.take('dial|a', 0)).toBe(0);
    expect(l.take('dial|a', 1)).toBeNull();
    expect(l.take('dial|a', 59_999)).toBeNull();
    expect(l.take('dial|b', 2)).toBe(0); // another peer has its own budget
    expect(l.take('dial|a', 60_000)).toBe(2);
    expect(l.take('dial|a', 60_001)).toBeNull();
  });
});
