// Malformed frames past the first message of a stream, from a real libp2p peer: inside a sync
// exchange (after a valid DIGEST, once the daemon has answered) and on a push stream (after a valid
// PUSH the daemon acknowledged). The daemon closes only that stream, logs why, and stores nothing.
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { decodeMessage, encodeDigest, encodeEntries, MSG, SYNC_PROTOCOL } from '../../src/sync/messages.js';
import { frame, withHostile } from '../helpers/hostile.js';
import { eventually, until } from '../helpers/process.js';

const { fleet, hostile } = withHostile();

const R = 'cd'.repeat(16);
const DIGEST = frame(encodeDigest({ replicaId: R, digest: new Uint8Array(16), clock: Clock.empty(), forgotten: [] }));
const EMPTY_PUSH = frame(encodeEntries(MSG.push, { claim: Clock.empty(), entries: [] }, 1));
const badState = Uint8Array.of(1, 1, ...new Uint8Array(16), 1, 1, 5, 0, 0, 0); // sibling index out of range
const evilDelta = encodeEntries(MSG.delta, { claim: Clock.fromIntervals([[R, 1, 1]]), entries: [{ key: Buffer.from('evil'), state: badState }] });
const evilPush = encodeEntries(MSG.push, { claim: Clock.fromIntervals([[R, 1, 1]]), entries: [{ key: Buffer.from('evil'), state: badState }] }, 2);

/** Random message bodies of `type` that the project's own decoder refuses (fixed seed: reproducible). */
function malformed(type: number, n: number): Uint8Array[] {
  const tails = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 300 }), { seed: 9 + type, numRuns: 200 });
  const out: Uint8Array[] = [];
  for (const tail of tails) {
    const msg = Uint8Array.of(type, ...tail);
    try {
      decodeMessage(msg);
    } catch {
      out.push(frame(msg));
      if (out.length === n) break;
    }
  }
  return out;
}

/** Reads `stream` to its end; `got` resolves at the first bytes, `ended` when the daemon ends or resets it. */
function reader(stream: Stream): { got: Promise<void>; ended: Promise<void> } {
  let first!: () => void;
  const got = new Promise<void>((r) => (first = r));
  const ended = (async () => {
    try {
      for await (const _ of stream) first();
    } catch {
      // a reset counts as ended
    }
  })();
  return { got, ended };
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('malformed frames past the first message', () => {
  it('inside an exchange and on a push stream: the stream is closed with a reason, the data unchanged', { timeout: 180_000 }, async () => {
    const a = await fleet.start();
    expect((await a.cli('put', 'kept', 'value')).code).toBe(0);
    const before = await eventually(() => a.status(), (s) => s.keys === 1, 'the key stored');
    const h = await hostile();
    const oversized = Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x04); // announces 1 GiB
    const afterDigest: [string, Uint8Array][] = [
      ['unknown message type', frame(Uint8Array.of(99, 1, 2, 3))],
      ['a PUSH inside an exchange', EMPTY_PUSH],
      ['a truncated DELTA', frame(evilDelta.subarray(0, evilDelta.length - 3))],
      ['a DELTA with a malformed key state', frame(evilDelta)],
      ['an oversized frame', oversized],
      ...malformed(MSG.delta, 8).map((f, i): [string, Uint8Array] => [`random DELTA #${i}`, f]),
    ];
    const afterPush: [string, Uint8Array][] = [
      ['a DIGEST on a push stream', DIGEST],
      ['a PUSH with a malformed key state', frame(evilPush)],
      ['a truncated PUSH', frame(evilPush.subarray(0, evilPush.length - 3))],
      ['an oversized frame', oversized],
      ...malformed(MSG.push, 8).map((f, i): [string, Uint8Array] => [`random PUSH #${i}`, f]),
    ];
    for (const [opening, cases] of [
      [DIGEST, afterDigest],
      [EMPTY_PUSH, afterPush],
    ] as const) {
      for (const [what, bad] of cases) {
        const stream = await h.dialProtocol(multiaddr(a.addr), SYNC_PROTOCOL);
        const r = reader(stream);
        stream.send(opening);
        await within(r.got, 30_000, `${what}: the daemon's answer (DIGEST and delta, or ACK)`);
        stream.send(bad);
        await within(r.ended, 30_000, `${what}: the daemon kept the stream open`);
      }
    }
    const log = (): string => a.child.stderr();
    await until(() => /expected DELTA, END or ACK, got message type 4/.test(log()), 'the PUSH inside an exchange logged');
    await until(() => /expected PUSH, got message type 1/.test(log()), 'the DIGEST on a push stream logged');
    expect(log()).toMatch(/unknown message type 99/);
    expect(log()).toMatch(/exceeds the limit/);
    expect((log().match(/closing sync stream from peer/g) ?? []).length).toBeGreaterThanOrEqual(6);
    // nothing from a malformed frame reached the store, and the daemon still works
    const after = await a.status();
    expect(after.digest).toBe(before.digest);
    expect(after.keys).toBe(1);
    expect((await a.cli('get', 'evil')).code).toBe(1);
    expect((await a.cli('put', 'after', 'fuzz')).code).toBe(0);
  });
});
