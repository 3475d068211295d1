import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { encodeKeyState } from '../../src/core/codec.js';
import { localWrite, merge, type KeyState } from '../../src/core/key-state.js';
import { repairKey } from '../../src/core/repair.js';
import { keyState, REPLICAS } from './arbitraries.js';

const bytes = (s: KeyState | undefined) => (s === undefined ? 'absent' : Buffer.from(encodeKeyState(s)).toString('hex'));
/** Every dot a state's context covers: what a peer holding that state knows of the key. */
const clockOf = (s: KeyState | undefined, extra: Clock = Clock.empty()) => {
  const c = extra.clone();
  for (const [r, max] of s?.ctx ?? []) c.addRange(r, 1, max);
  return c;
};
const has = (s: KeyState | undefined, d: { r: string; c: number }) => s?.sibs.some((x) => x.r === d.r && x.c === d.c) ?? false;
/** The replica doing the repair writes as "own", a replica no generated state uses. */
const OWN = 'e'.repeat(32);
const maybeState = fc.option(keyState, { nil: undefined });
/** A local state that may also hold writes only this replica made (dots the peer cannot know). */
const localState = fc.tuple(maybeState, fc.integer({ min: 0, max: 2 })).map(([base, own]) => {
  let s = base;
  for (let c = 1; c <= own; c++) s = localWrite(s, { r: OWN, c }, 40 + c, c === 2 ? null : Buffer.from(`own:${c}`));
  return s;
});

describe('repairKey', () => {
  it('changes nothing on a healthy replica: the peer state plus writes of our own comes back unchanged', () => {
    // a replica that synced with the peer, then wrote: superseding what it read, or concurrently
    const ownWrites = fc.array(fc.boolean(), { maxLength: 3 });
    fc.assert(
      fc.property(keyState, ownWrites, (peer, writes) => {
        let healthy = peer;
        writes.forEach((supersede, i) => {
          const dot = { r: OWN, c: i + 1 };
          healthy = supersede ? localWrite(healthy, dot, 45, Buffer.from(`own:${i}`)) : merge(healthy, localWrite(undefined, dot, 45, null));
        });
        expect(bytes(repairKey(healthy, peer, clockOf(peer)))).toBe(bytes(healthy));
      }),
    );
  });

  it('keeps every write only this replica holds, and takes nothing else from the damaged side', () => {
    fc.assert(
      fc.property(localState, maybeState, (local, remote) => {
        const pc = clockOf(remote, Clock.fromIntervals([[REPLICAS[4]!, 1, 3]]));
        const out = repairKey(local, remote, pc);
        for (const s of local?.sibs ?? []) if (!pc.covers(s.r, s.c)) expect(has(out, s)).toBe(true);
        // a key the peer does not send is kept as it is: absence proves nothing
        if (remote === undefined) return void expect(bytes(out)).toBe(bytes(local));
        for (const s of out?.sibs ?? []) {
          if (pc.covers(s.r, s.c)) expect(remote!.sibs.find((x) => x.r === s.r && x.c === s.c)).toEqual(s);
        }
        if (!(local?.sibs ?? []).some((s) => !pc.covers(s.r, s.c))) expect(bytes(out)).toBe(bytes(remote));
      }),
    );
  });

  it('replaces a damaged value and brings back a lost key from the peer', () => {
    const [r1] = REPLICAS as [string];
    const good = localWrite(undefined, { r: r1, c: 1 }, 5, Buffer.from('right'));
    const damaged: KeyState = { ctx: good.ctx, sibs: [{ ...good.sibs[0]!, value: Buffer.from('wrong') }] };
    expect(bytes(repairKey(damaged, good, clockOf(good)))).toBe(bytes(good));
    expect(bytes(repairKey(undefined, good, clockOf(good)))).toBe(bytes(good));
    // a key the peer's snapshot lacks stays: a peer serving an empty snapshot must not wipe a node
    expect(bytes(repairKey(damaged, undefined, clockOf(good)))).toBe(bytes(damaged));
  });
});
