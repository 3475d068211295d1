// Which forgets a node keeps, passes on and refuses (src/sync/forgetting.ts), over a real Keyspace
// on the in-memory backend: forgets persisted before signed forgets still load and stay local, a
// signed one survives a restart and is passed on, peers' unsigned ones are refused and counted, and
// a flood of bad signatures costs a bounded number of checks per DIGEST.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { keyHex, newOperatorKey, signForget } from '../../src/core/forget-record.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { Forgets, MAX_FORGET_CHECKS_PER_DIGEST } from '../../src/sync/forgetting.js';
import { ForgetError } from '../../src/sync/membership.js';

const SELF = '12D3KooWSelfSelfSelfSelfSelfSelfSelfSelfSelfSelfSelf';
const GONE = '12D3KooWGoneGoneGoneGoneGoneGoneGoneGoneGoneGoneGone';
const operator = newOperatorKey().key;
const member = newOperatorKey().key;

function forgets(ks: Keyspace, keys = [operator.publicKey]) {
  const seen = { refused: 0, warnings: [] as string[] };
  const f = new Forgets(ks, pino({ level: 'silent' }), {
    self: SELF,
    operatorKeys: keys,
    maxSkewMs: 600_000,
    onRefused: () => seen.refused++,
    warn: (_key, _fields, msg) => seen.warnings.push(msg),
  });
  return { f, seen };
}

describe('forgets kept, passed on and refused', () => {
  it('forgets persisted before signed forgets load, and stay on this node', async () => {
    const backend = new MemoryBackend();
    const ks = await Keyspace.open(backend);
    await ks.putMeta('forgotten', Buffer.from(JSON.stringify([[GONE, 1234]])));
    const { f } = forgets(ks);
    expect(f.load()).toEqual([[GONE, 1234]]);
    expect(f.outgoing(Date.now(), 1024)).toEqual([]);
  });

  it('a signed forget by the operator is checked, survives a restart and is passed on; a bad one changes nothing', async () => {
    const backend = new MemoryBackend();
    const ks = await Keyspace.open(backend);
    const now = Date.now();
    const { f } = forgets(ks);
    expect(() => f.fromOperator(GONE, signForget(member, GONE, now), now)).toThrow(ForgetError); // a key this node does not obey
    expect(() => f.fromOperator(GONE, { ...signForget(operator, GONE, now), sig: new Uint8Array(64) }, now)).toThrow(/does not verify/);
    expect(() => f.fromOperator(SELF, signForget(operator, GONE, now), now)).toThrow(/names/);
    expect(f.outgoing(now, 1024)).toEqual([]);
    const r = signForget(operator, GONE, now);
    f.fromOperator(GONE, r, now);
    await f.save([[GONE, now], ['12D3KooWLocalLocalLocalLocalLocalLocalLocalLocalLoc', now]], now);

    const again = forgets(ks).f;
    expect(again.load().map(([id]) => id)).toEqual([GONE, '12D3KooWLocalLocalLocalLocalLocalLocalLocalLocalLoc']);
    const out = again.outgoing(now, 1024);
    expect(out.map((o) => [o.peer, o.at, keyHex(o.sig)])).toEqual([[GONE, now, keyHex(r.sig)]]);
    expect(again.outgoing(now + 31 * 24 * 3600_000, 1024)).toEqual([]); // past its retention: no longer passed on
    // a node that no longer obeys the key does not pass it on
    const other = forgets(ks, []).f;
    other.load();
    expect(other.outgoing(now, 1024)).toEqual([]);
  });

  it('two valid forgets of one peer settle on the newer: the older is neither taken nor passed on again', async () => {
    const ks = await Keyspace.open(new MemoryBackend());
    const now = Date.now();
    const { f } = forgets(ks);
    const older = signForget(operator, GONE, now - 1000);
    const newer = signForget(operator, GONE, now);
    for (const r of f.incoming('P1', [newer], now)) f.keep(r);
    expect(f.incoming('P2', [older], now)).toEqual([]); // held: a newer one
    for (const r of f.incoming('P2', [older], now)) f.keep(r);
    expect(f.outgoing(now, 1024).map((o) => o.at)).toEqual([now]);
    f.keep(older); // even if handed one directly
    expect(f.outgoing(now, 1024).map((o) => o.at)).toEqual([now]);
  });

  it('refuses and counts what a peer sends that no configured key signed, and says so when it names this node', async () => {
    const ks = await Keyspace.open(new MemoryBackend());
    const now = Date.now();
    const { f, seen } = forgets(ks);
    expect(f.incoming('peerX', [signForget(member, GONE, now), signForget(member, SELF, now)], now)).toEqual([]);
    expect(seen.refused).toBe(2);
    expect(seen.warnings.some((w) => /forget of this node/.test(w))).toBe(true);
    expect(f.forgottenBy).toBeNull();
    // the operator's real forget of this node: not obeyed, but status names the peer
    expect(f.incoming('peerY', [signForget(operator, SELF, now)], now)).toEqual([]);
    expect(f.forgottenBy).toEqual({ peer: 'peerY', at: now });
    const good = signForget(operator, GONE, now);
    expect(f.incoming('peerY', [good], now)).toEqual([good]);
    expect(seen.refused).toBe(2);
  });

  it('bad signatures under a configured key cost at most a bounded number of checks per DIGEST, and none when repeated', async () => {
    const ks = await Keyspace.open(new MemoryBackend());
    const now = Date.now();
    const { f, seen } = forgets(ks);
    const flood = Array.from({ length: 1024 }, (_, i) => ({ ...signForget(operator, `${GONE}${i}`, now), sig: new Uint8Array(64).fill(i % 255) }));
    f.incoming('hostile', flood, now);
    expect(seen.refused).toBe(MAX_FORGET_CHECKS_PER_DIGEST);
    // the same records again: refused from memory, the next batch checked
    f.incoming('hostile', flood, now);
    expect(seen.refused).toBe(3 * MAX_FORGET_CHECKS_PER_DIGEST);
  });
});
