// What a keyspace believes of a peer's counters (threat model, "Counters a replica signed"): every
// counter, context entry and claim must be under the newest verified head of its replica, a claim
// is cut to what the receiver has evidence for, and the replica's own counters can never be pushed
// to where it could not write. Each test is an attack from the issue, against the store alone.
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { encodeKeyState } from '../../src/core/codec.js';
import { MAX_COUNTER } from '../../src/core/head.js';
import { localWrite } from '../../src/core/key-state.js';
import { encodeToken } from '../../src/core/token.js';
import { DecodeError, InvalidTokenError } from '../../src/errors.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import { encodeStoreState, decodeStoreState, META_REPLICA_KEY, META_STATE } from '../../src/store/meta.js';
import { testReplica } from '../helpers/replicas.js';

const open = (backend = new MemoryBackend()) => Keyspace.open(backend);
const state = (r: string, c: number, value = 'x', ctx?: [string, number][]) =>
  encodeKeyState({ ...localWrite(undefined, { r, c }, 1, Buffer.from(value)), ...(ctx === undefined ? {} : { ctx }) });
const sync = async (from: Keyspace, to: Keyspace) => {
  for (const chunk of from.delta(to.summary().clock)) await to.applyDelta(chunk);
};

describe('counters a peer may name', () => {
  it('passes honest deltas between real replicas, heads included', async () => {
    const [a, b, c] = [await open(), await open(), await open()];
    for (let i = 0; i < 5; i++) await a.put(`k${i}`, Buffer.from('v'));
    await sync(a, b);
    await sync(b, c); // c learns a's writes through b, which relays a's head
    expect(c.summary().digest).toBe(a.summary().digest);
    expect(c.summary().clock.base(a.replicaId)).toBe(5);
  });

  it('refuses a state, a context or a claim beyond the replica\'s newest signed head, and a forged head', async () => {
    const ks = await open();
    const a = testReplica();
    const before = ks.summary();
    // a sibling far beyond what a signed
    await expect(ks.applyDelta({ entries: [{ key: Buffer.from('k'), state: state(a.r, 2 ** 52) }], claim: Clock.empty(), heads: [a.head(3)] })).rejects.toThrow(/beyond the highest it signed \(3\)/);
    // a replica of which no head was ever seen: none of its counters is believed
    const unknown = testReplica();
    await expect(ks.applyDelta({ entries: [{ key: Buffer.from('k'), state: state(unknown.r, 1) }], claim: Clock.empty() })).rejects.toThrow(DecodeError);
    // a claim near 2^53
    await expect(ks.applyDelta({ entries: [], claim: Clock.fromIntervals([[a.r, 1, MAX_COUNTER - 1]]), heads: [a.head(3)] })).rejects.toThrow(/claim names counter/);
    // a head whose counter was raised after signing, vouching for a state the frame carries
    await expect(ks.applyDelta({ entries: [{ key: Buffer.from('k'), state: state(a.r, 4) }], claim: Clock.empty(), heads: [{ ...a.head(3), c: 2 ** 52 }] })).rejects.toThrow(/forged head/);
    // a forged head that vouches for nothing the frame carries is not even checked: nothing is kept of it
    await ks.applyDelta({ entries: [], claim: Clock.empty(), heads: [{ ...a.head(3), c: 2 ** 52 }] });
    expect(ks.headOf(a.r)).toBeUndefined();
    const after = ks.summary();
    expect(after.digest).toBe(before.digest);
    expect(after.clock.isEmpty()).toBe(true);
    // within the head: accepted
    await ks.applyDelta({ entries: [{ key: Buffer.from('k'), state: state(a.r, 3) }], claim: Clock.fromIntervals([[a.r, 1, 3]]), heads: [a.head(3)] });
    expect(ks.read('k')?.siblings[0]?.counter).toBe(3);
  });

  it('a context covering a replica far beyond its real counter is refused, so the key is not frozen for it', async () => {
    const victim = await open();
    const receiver = await open();
    const hostile = testReplica();
    await victim.put('shared', Buffer.from('v1'));
    await sync(victim, receiver);
    // the hostile's own write, with a context claiming the victim up to 2^50
    const frozen = encodeKeyState({ ctx: [[hostile.r, 1], [victim.replicaId, 2 ** 50]].sort(([x], [y]) => ((x as string) < (y as string) ? -1 : 1)) as [string, number][], sibs: [{ r: hostile.r, c: 1, hlc: 1, value: Buffer.from('evil') }] });
    await expect(receiver.applyDelta({ entries: [{ key: Buffer.from('shared'), state: frozen }], claim: Clock.empty(), heads: [hostile.head(1), victim.headOf(victim.replicaId)!] })).rejects.toThrow(/beyond the highest it signed \(1\)/);
    await victim.put('shared', Buffer.from('v2'));
    await sync(victim, receiver);
    expect(Buffer.from(receiver.get('shared')!).toString()).toBe('v2');
  });

  it('a peer may not name this replica beyond its own counter', async () => {
    const ks = await open();
    await ks.put('mine', Buffer.from('1'));
    await expect(ks.applyDelta({ entries: [], claim: Clock.fromIntervals([[ks.replicaId, 1, 1000]]) })).rejects.toThrow(/beyond/);
    const w = await ks.put('mine', Buffer.from('2'));
    expect(w.dot.c).toBe(2);
  });

  it('cuts a claim with no evidence: a DELTA with no entries cannot hide another replica\'s writes', async () => {
    const writer = await open();
    const receiver = await open();
    await writer.put('w1', Buffer.from('1'));
    await sync(writer, receiver);
    for (let i = 2; i <= 5; i++) await writer.put(`w${i}`, Buffer.from(String(i)));
    // the lie: "you now know writer's 1..5", carrying nothing, with the writer's real head
    await receiver.applyDelta({ entries: [], claim: Clock.fromIntervals([[writer.replicaId, 1, 5]]), heads: [writer.headOf(writer.replicaId)!] });
    expect(receiver.summary().clock.max(writer.replicaId)).toBe(1);
    await sync(writer, receiver);
    expect(receiver.summary().digest).toBe(writer.summary().digest);
    expect(receiver.summary().keys).toBe(5);
  });

  it('keeps heads across a restart, so what it stored can still be passed on', async () => {
    const backend = new MemoryBackend();
    const a = await open();
    await a.put('k', Buffer.from('v'));
    const relay = await open(backend);
    await sync(a, relay);
    const reopened = await Keyspace.open(backend);
    const c = await open();
    await sync(reopened, c);
    expect(c.summary().digest).toBe(a.summary().digest);
  });

  it('a client context token naming writes this node never saw is refused', async () => {
    const ks = await open();
    await ks.put('k', Buffer.from('v'));
    const token = encodeToken([[ks.replicaId, 2 ** 40]]);
    await expect(ks.put('k', Buffer.from('w'), { context: token })).rejects.toThrow(InvalidTokenError);
  });
});

describe('replica ids', () => {
  it('a store made before replica keys moves to a new, signed replica at open and keeps its data', async () => {
    const backend = new MemoryBackend();
    const old = await open(backend);
    await old.put('k', Buffer.from('v'));
    const oldId = old.replicaId;
    // a legacy store has no key record: take it away (the memory backend's tables, as such a store would be)
    expect((backend as unknown as { t: { meta: Map<string, Uint8Array> } }).t.meta.delete(META_REPLICA_KEY)).toBe(true);
    const moved = await Keyspace.open(backend);
    expect(moved.movedFrom).toBe(oldId);
    expect(moved.replicaId).not.toBe(oldId);
    expect(Buffer.from(moved.get('k')!).toString()).toBe('v');
    const w = await moved.put('k2', Buffer.from('v2'));
    expect(w.dot).toEqual({ r: moved.replicaId, c: 1 });
  });

  it('a replica whose counter nears the limit moves to a new id rather than issue a counter peers refuse', async () => {
    const backend = new MemoryBackend();
    const ks = await open(backend);
    await ks.put('k', Buffer.from('v'));
    const s = decodeStoreState(backend.getMeta(META_STATE)!);
    s.clock.addRange(ks.replicaId, 1, MAX_COUNTER - 1);
    await backend.write((w) => w.putMeta(META_STATE, encodeStoreState(s)), true);
    const again = await Keyspace.open(backend);
    expect(again.movedFrom).toBe(ks.replicaId);
    const w = await again.put('k', Buffer.from('w'));
    expect(w.dot.c).toBe(1);
    // it still vouches for the old replica's writes: its last head, signed before the key went
    expect(again.headOf(ks.replicaId)?.c).toBe(MAX_COUNTER - 1);
    const fresh = await open();
    for (const chunk of again.delta(fresh.summary().clock)) await fresh.applyDelta(chunk);
    expect(fresh.summary().digest).toBe(again.summary().digest);
  });
});
