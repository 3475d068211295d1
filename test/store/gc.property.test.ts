// Garbage collection and expiry in whole clusters of in-memory keyspaces, with time injected and
// advanced by hand. Random histories interleave puts (some expiring), deletes, expiry changes,
// stale contexts, deltas cut small and delivered reordered, duplicated, dropped or late, pushed
// batches, GC steps, time passing, backups, and members forgotten and replaced by a fresh replica
// bootstrapped from a member's snapshot, current or an old backup.
// The stable clock is built as the daemon will build it: the node's own clock intersected with the
// last clock it heard from every other current member (heard when that member's delta or digest
// reached it; stale is fine; a member not heard from yet knows nothing). The horizon rule holds:
// no delta or push goes from A to B while B's clock lacks part of A's GC frontier; B is skipped,
// or catches up from A's snapshot (repairRange with absentIsCollected, then finishRepair).
// After a full sync in every direction (and the daemon's heal of a divergence at an equal clock)
// and GC run to quiescence everywhere:
//  (a) every value write survives unless another write that saw it superseded it, or it expired;
//  (b) no delete or expiry is undone: a key left with no such value reads absent and has no state;
//  (c) replicas converge: equal clocks, digests, counts, reads and scans;
//  (d) no tombstone and no expired value is left whose dot, and whose key's context when it is the
//      last sibling, every clock covers (so none at all once every clock covers every dot named).
// Where the model stands in for what the store does not do yet (both reported with this test):
//  - a node that takes in a snapshot also takes in its source's GC frontier (Node.inherited);
//  - a catch-up whose clock the store cuts for lack of evidence leaves the node behind for good: it
//    is retired (after handing its writes to a member), as an operator would have to.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { decodeKeyState } from '../../src/core/codec.js';
import type { DeltaChunk, DeltaEntry } from '../../src/core/delta.js';
import { behindFrontier, stableClock } from '../../src/core/gc.js';
import type { Head } from '../../src/core/head.js';
import type { KeyState } from '../../src/core/key-state.js';
import { decodeToken } from '../../src/core/token.js';
import { vvCovers, vvGet, type VersionVector } from '../../src/core/version-vector.js';
import { Keyspace, type ReadResult, type SiblingView } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';

const KEYS = ['a', 'b', 'c', 'é/ü'];
const T0 = 1_000_000;
const limits = (maxEntries: number) => ({ maxEntries, maxBytes: 1 << 20 });
const utf8 = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const dotName = (d: { r: string; c: number }) => `${d.r}:${d.c}`;
const sibName = (s: { replica: string; counter: number }) => `${s.replica}:${s.counter}`;

type Delivery = { maxEntries: number; order: number[]; drop: boolean[]; dup: boolean[]; late: boolean[]; catchUp: boolean };
type Cmd =
  | { t: 'put'; at: number; key: number; stale: boolean; ttl: number | null }
  | { t: 'del'; at: number; key: number; stale: boolean }
  | { t: 'expire'; at: number; key: number; ttl: number | null }
  | ({ t: 'sync'; from: number; to: number } & Delivery)
  | { t: 'push'; from: number; to: number; key: number }
  /** A heal from a peer, which the daemon does only at an equal clock with different digests. */
  | { t: 'heal'; from: number; to: number }
  | { t: 'deliver'; pick: number }
  /** Every member hears every other's clock (DIGESTs crossing), nothing else. */
  | { t: 'gossip' }
  /** A round of anti-entropy: every member syncs with every other, nothing lost; `collect`: then every member collects. */
  | { t: 'round'; collect: boolean }
  | { t: 'gc'; at: number; maxKeys: number }
  | { t: 'tick'; ms: number }
  | { t: 'save'; at: number }
  | { t: 'forget'; victim: number; source: number; old: boolean };

const node = fc.nat(99);
const ttl = fc.option(fc.integer({ min: 0, max: 60 }), { nil: null, freq: 2 });
const flags = fc.array(fc.boolean(), { maxLength: 10 });
type Weights = Record<Cmd['t'], number>;
const WEIGHTS: Weights = { put: 5, del: 3, expire: 1, sync: 5, push: 3, heal: 1, deliver: 2, gossip: 4, round: 2, gc: 5, tick: 2, save: 2, forget: 2 };

/** Commands with these weights (0 leaves one out) over the first `keys` keys. */
function commands(weights: Partial<Weights> = {}, keys = KEYS.length): fc.Arbitrary<Cmd> {
  const w = { ...WEIGHTS, ...weights };
  const key = fc.nat(keys - 1);
  const all: { weight: number; arbitrary: fc.Arbitrary<Cmd> }[] = [
    { weight: w.put, arbitrary: fc.record({ t: fc.constant('put' as const), at: node, key, stale: fc.boolean(), ttl }) },
    { weight: w.del, arbitrary: fc.record({ t: fc.constant('del' as const), at: node, key, stale: fc.boolean() }) },
    { weight: w.expire, arbitrary: fc.record({ t: fc.constant('expire' as const), at: node, key, ttl }) },
    {
      weight: w.sync,
      arbitrary: fc.record({
        t: fc.constant('sync' as const),
        from: node,
        to: node,
        maxEntries: fc.integer({ min: 1, max: 3 }),
        order: fc.array(fc.nat(1000), { maxLength: 10 }),
        drop: flags,
        dup: flags,
        late: flags,
        catchUp: fc.boolean(),
      }),
    },
    { weight: w.push, arbitrary: fc.record({ t: fc.constant('push' as const), from: node, to: node, key }) },
    { weight: w.heal, arbitrary: fc.record({ t: fc.constant('heal' as const), from: node, to: node }) },
    { weight: w.deliver, arbitrary: fc.record({ t: fc.constant('deliver' as const), pick: fc.nat(99) }) },
    { weight: w.gossip, arbitrary: fc.constant({ t: 'gossip' as const }) },
    { weight: w.round, arbitrary: fc.record({ t: fc.constant('round' as const), collect: fc.boolean() }) },
    { weight: w.gc, arbitrary: fc.record({ t: fc.constant('gc' as const), at: node, maxKeys: fc.integer({ min: 1, max: 3 }) }) },
    { weight: w.tick, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 30 }) }) },
    { weight: w.save, arbitrary: fc.record({ t: fc.constant('save' as const), at: node }) },
    { weight: w.forget, arbitrary: fc.record({ t: fc.constant('forget' as const), victim: node, source: node, old: fc.boolean() }) },
  ];
  return fc.oneof(...all.filter((c) => c.weight > 0));
}

interface Node {
  readonly name: string;
  readonly ks: Keyspace;
  /** The last clock heard from each other node (by name): what its stable clock is built from. */
  readonly heard: Map<string, Clock>;
  /**
   * The GC frontiers of the snapshots it took in (a bootstrap, a catch-up): those dots are in its
   * clock though it never held them. The store does not keep them yet, so the model does, and
   * the horizon rule uses them with the store's own frontier (see `frontierOf`).
   */
  readonly inherited: Clock;
}

/**
 * The frontier the horizon rule holds a node to: its store's, and those of the snapshots it took
 * in. With the store's alone, a node bootstrapped from one that collected a delete would send a
 * stale replica a delta claiming the delete without carrying it, and the stale replica would keep
 * the deleted value for good (a snapshot must carry its frontier; reported, not fixed here).
 */
const frontierOf = (n: Node): Clock => n.ks.gcStats().frontier.clone().merge(n.inherited);

/** A consistent copy of a node's store: a backup, or a snapshot streamed to a bootstrapping node. */
interface Saved {
  readonly of: Node;
  readonly clock: Clock;
  readonly heads: Head[];
  readonly entries: DeltaEntry[];
  readonly frontier: Clock;
}

interface Write {
  key: string;
  r: string;
  c: number;
  /** The context the write superseded (what its writer had read). */
  ctx: VersionVector;
  value: boolean;
  exp?: number;
}

function save(n: Node): Saved {
  const snap = n.ks.snapshot();
  try {
    const entries = [...snap.entries()].map((e) => ({ key: Buffer.from(e.key), state: Buffer.from(e.state) }));
    return { of: n, clock: snap.clock, heads: snap.heads, entries, frontier: frontierOf(n) };
  } finally {
    snap.close();
  }
}

const states = (n: Node): { key: string; state: KeyState }[] => save(n).entries.map((e) => ({ key: utf8(e.key), state: decodeKeyState(e.state) }));

/**
 * No claim hides a write that must survive: a value at `sender` that no write superseded and
 * that has not expired, whose dot `receiver`'s clock covers, is reflected in the receiver's key
 * context. (Tombstones, expired and superseded values may be covered without being held: they
 * were collected somewhere on the way.)
 */
function checkClaims(cl: Cluster, sender: Node, receiver: Node): void {
  const clock = receiver.ks.summary().clock;
  for (const { key, state } of states(sender)) {
    const survivors = cl.survivors(key);
    for (const s of state.sibs) {
      if (s.value === null || (s.exp !== undefined && s.exp <= cl.time.now) || !survivors.has(dotName(s)) || !clock.covers(s.r, s.c)) continue;
      if (!vvCovers(decodeToken(receiver.ks.contextOf(key)), s)) throw new Error(`${receiver.name} claims ${s.r.slice(0, 4)}:${s.c} of key ${key} without having it`);
    }
  }
}

class Cluster {
  readonly time = { now: T0 };
  members: Node[] = [];
  readonly writes: Write[] = [];
  private inFlight: { from: Node; to: Node; chunk: DeltaChunk }[] = [];
  backups: Saved[] = [];
  private readonly staleCtx = new Map<string, string>();
  private made = 0;
  readonly stats = { refused: 0, caughtUp: 0, collectedEarly: 0, joinedOld: 0, stuck: 0 };
  private settling = false;

  async add(from?: Saved): Promise<Node> {
    const ks = await Keyspace.open(new MemoryBackend(), { now: () => this.time.now });
    const n: Node = { name: `n${this.made++}`, ks, heard: new Map(), inherited: from?.frontier.clone() ?? Clock.empty() };
    if (from !== undefined) {
      // a bootstrap, as the daemon's: the states in chunks claiming nothing, then the snapshot's clock
      for (let i = 0; i < from.entries.length; i += 2) await ks.applyDelta({ entries: from.entries.slice(i, i + 2), claim: Clock.empty(), heads: from.heads });
      await ks.applyDelta({ entries: [], claim: from.clock, heads: from.heads });
    }
    this.members.push(n);
    return n;
  }

  pick(i: number): Node {
    return this.members[i % this.members.length]!;
  }

  isMember(n: Node): boolean {
    return this.members.includes(n);
  }

  /** The stable clock as the daemon builds it: a member not heard from yet counts as knowing nothing. */
  stable(n: Node): Clock {
    const others = this.members.filter((m) => m !== n).map((m) => n.heard.get(m.name) ?? Clock.empty());
    return stableClock(n.ks.summary().clock, others);
  }

  async write(c: Extract<Cmd, { t: 'put' | 'del' | 'expire' }>): Promise<void> {
    const n = this.pick(c.at);
    const key = KEYS[c.key]!;
    const fresh = n.ks.contextOf(key);
    const exp = c.t !== 'del' && c.ttl !== null ? this.time.now + c.ttl : undefined;
    if (c.t === 'expire') {
      const res = await n.ks.expire(key, exp ?? null);
      if (res !== null) this.writes.push({ key, r: res.dot.r, c: res.dot.c, ctx: decodeToken(fresh), value: true, ...(exp === undefined ? {} : { exp }) });
      return;
    }
    const slot = `${n.name}:${key}`;
    const token = c.stale && this.staleCtx.has(slot) ? this.staleCtx.get(slot)! : fresh;
    this.staleCtx.set(slot, fresh);
    await this.writeAt(n, c.t, key, token, exp);
  }

  /** A put (of a value made from the write's number) or a delete at `n`, with the context `token` (default: the key's). */
  async writeAt(n: Node, type: 'put' | 'del', key: string, token = n.ks.contextOf(key), exp?: number): Promise<void> {
    const value = Buffer.from(`v${this.writes.length}`);
    const [res] = await n.ks.write([type === 'put' ? { type, key, value, context: token, ...(exp === undefined ? {} : { expireAt: exp }) } : { type, key, context: token }]);
    this.writes.push({ key, r: res!.dot.r, c: res!.dot.c, ctx: decodeToken(token), value: type === 'put', ...(exp === undefined ? {} : { exp }) });
  }

  /** Every key written, in key order. */
  keys(): string[] {
    return [...new Set(this.writes.map((w) => w.key))].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }

  /**
   * One exchange from `from` to `to`: each hears the other's clock (the DIGESTs), then either a
   * delta, or, when `to` is behind `from`'s GC frontier, nothing or a catch-up from a snapshot.
   * `d` null: everything delivered at once, and a node behind always catches up.
   */
  async sync(from: Node, to: Node, d: Delivery | null): Promise<void> {
    if (from === to || !this.isMember(from) || !this.isMember(to)) return;
    const theirs = to.ks.summary().clock;
    from.heard.set(to.name, theirs);
    to.heard.set(from.name, from.ks.summary().clock);
    if (behindFrontier(theirs, frontierOf(from)) > 0) {
      if (d !== null && !d.catchUp) return void this.stats.refused++;
      return this.catchUp(from, to, d?.maxEntries ?? 64);
    }
    const chunks = [...from.ks.delta(theirs, limits(d?.maxEntries ?? 64))];
    let deliveries: DeltaChunk[] = chunks;
    if (d !== null) {
      deliveries = [];
      chunks.forEach((ch, i) => {
        if (d.drop[i]) return;
        if (d.late[i]) this.inFlight.push({ from, to, chunk: ch });
        else deliveries.push(ch);
        if (d.dup[i]) deliveries.push(ch);
      });
      const keys = deliveries.map((_, i) => d.order[i] ?? i);
      deliveries = deliveries.map((ch, i) => [keys[i]!, ch] as const).sort((a, b) => a[0] - b[0]).map(([, ch]) => ch);
    }
    for (const ch of deliveries) await this.deliver(from, to, ch);
  }

  async deliver(from: Node, to: Node, chunk: DeltaChunk): Promise<void> {
    await to.ks.applyDelta(chunk);
    checkClaims(this, from, to);
  }

  /** A late chunk arrives (the network held it while other things happened). */
  async deliverLate(pick: number): Promise<void> {
    if (this.inFlight.length === 0) return;
    const [m] = this.inFlight.splice(pick % this.inFlight.length, 1);
    await this.deliver(m!.from, m!.to, m!.chunk);
  }

  /**
   * `to` catches up past `from`'s GC horizon: `from`'s snapshot, range by range, keys it lacks read
   * as collected, then its clock. A node left without part of that clock is retired (`cutShort`).
   */
  async catchUp(from: Node, to: Node, size: number): Promise<void> {
    this.stats.caughtUp++;
    const snap = save(from);
    to.inherited.merge(snap.frontier);
    to.ks.learnHeads(snap.heads);
    let after: Uint8Array | undefined;
    for (let i = 0; i === 0 || i < snap.entries.length; i += size) {
      const part = snap.entries.slice(i, i + size);
      const upTo = i + size >= snap.entries.length ? undefined : part[part.length - 1]!.key;
      await to.ks.repairRange(part, after, upTo, snap.clock, { absentIsCollected: true });
      after = upTo;
    }
    await to.ks.finishRepair(snap.clock);
    checkClaims(this, from, to);
    if (this.cutShort(to, snap.clock)) expect(await this.retire(to)).toBe(true);
  }

  /**
   * Did `n` take in less of a snapshot's clock than the snapshot holds? Known limitation, not what
   * this test is about: a bootstrap's claim and finishRepair keep only the part of a peer's clock
   * that some state's context names (delta.ts, evidencedClaim), and a collected key names nothing,
   * so later deltas cannot fill the gap either: `n` would stay behind for good (behind a frontier,
   * or with a clock no member's stable clock can pass). Checks that this is the only reason: no
   * state `n` holds (the snapshot's states among them) names a missing counter.
   */
  private cutShort(n: Node, clock: Clock): boolean {
    const missing = clock.difference(n.ks.summary().clock);
    if (missing.isEmpty()) return false;
    for (const r of missing.replicas()) {
      const first = missing.runs(r)[0]![0];
      for (const { state } of states(n)) expect(vvGet(state.ctx, r)).toBeLessThan(first);
    }
    this.stats.stuck++;
    return true;
  }

  /** A fresh replica bootstrapped from `from`; undefined (and no member) when the bootstrap is cut short. */
  async join(from: Saved): Promise<Node | undefined> {
    const n = await this.add(from);
    if (!this.cutShort(n, from.clock)) return n;
    this.members = this.members.filter((m) => m !== n);
    return undefined;
  }

  async push(from: Node, to: Node, key: string): Promise<void> {
    if (from === to || behindFrontier(to.ks.summary().clock, frontierOf(from)) > 0) return;
    const chunk = from.ks.pushChunk([key]);
    if (chunk.entries.length > 0) await this.deliver(from, to, chunk);
  }

  /** A divergence heal (sync/healer.ts): the peer's whole snapshot merged, claiming nothing. */
  async heal(from: Node, to: Node): Promise<void> {
    if (from === to) return;
    const snap = save(from);
    await to.ks.applyDelta({ entries: snap.entries, claim: Clock.empty(), heads: snap.heads });
  }

  /** The daemon heals only a divergence: an equal clock, different digests (sync/divergence.ts). */
  async healIfDiverged(from: Node, to: Node): Promise<void> {
    const [f, t] = [from.ks.summary(), to.ks.summary()];
    if (f.clock.equals(t.clock) && f.digest !== t.digest) await this.heal(from, to);
  }

  async gc(n: Node, maxKeys: number): Promise<{ more: boolean }> {
    const r = await n.ks.collectGarbage(this.stable(n), maxKeys);
    if (!this.settling) this.stats.collectedEarly += r.siblings;
    return r;
  }

  /**
   * A node is no longer a member: it first sends a member everything that member lacks (so no
   * write goes with it: losing writes is not what this test is about), then no one syncs with it
   * again, and its messages in flight and backups are gone.
   */
  async retire(victim: Node): Promise<boolean> {
    const heir = this.heirOf(victim);
    if (heir === undefined) return false;
    for (const ch of victim.ks.delta(heir.ks.summary().clock)) await this.deliver(victim, heir, ch);
    this.members = this.members.filter((m) => m !== victim);
    this.inFlight = this.inFlight.filter((m) => m.from !== victim && m.to !== victim);
    this.backups = this.backups.filter((b) => b.of !== victim);
    for (const m of this.members) m.heard.delete(victim.name);
    return true;
  }

  /** A member a delta from `n` may go to (not behind its GC frontier). */
  private heirOf(n: Node): Node | undefined {
    const frontier = frontierOf(n);
    return this.members.find((m) => m !== n && behindFrontier(m.ks.summary().clock, frontier) === 0);
  }

  /** A member is declared gone, and a fresh replica takes its place, bootstrapped from an old backup or a member now. */
  async forget(c: Extract<Cmd, { t: 'forget' }>): Promise<void> {
    // (a member that every other member is behind, just after it collected, stays)
    if (this.members.length < 2 || !(await this.retire(this.pick(c.victim)))) return;
    const old = c.old && this.backups.length > 0 ? this.backups[c.source % this.backups.length]! : undefined;
    if (old !== undefined) this.stats.joinedOld++;
    await this.join(old ?? save(this.pick(c.source)));
  }

  /** Runs one command, then checks that no member holds what a write it knows of removed. */
  async run(c: Cmd): Promise<void> {
    await this.step(c);
    this.checkNoUndo();
  }

  /**
   * No delete or overwrite is undone, at any moment: a member that knows a write holds no live
   * value that write superseded. It knows the write when the key's context covers it, or when its
   * clock covers it and every write that superseded it (a clock may cover a write before the one
   * that superseded it arrives: a delta claims dead dots whose superseding write is still to come).
   */
  checkNoUndo(): void {
    for (const m of this.members) {
      const clock = m.ks.summary().clock;
      const covers = (w: Write) => clock.covers(w.r, w.c);
      for (const { key, state } of states(m)) {
        const writes = this.writes.filter((w) => w.key === key);
        const knows = (w: Write) => vvCovers(state.ctx, w) || (covers(w) && writes.every((o) => !vvCovers(o.ctx, w) || covers(o)));
        for (const s of state.sibs) {
          if (s.value === null || (s.exp !== undefined && s.exp <= this.time.now)) continue;
          const by = writes.find((w) => vvCovers(w.ctx, s) && knows(w));
          if (by !== undefined) throw new Error(`${m.name} knows ${dotName(by)} and still holds ${dotName(s)} of key ${key}, which it superseded`);
        }
      }
    }
  }

  private async step(c: Cmd): Promise<void> {
    switch (c.t) {
      case 'put':
      case 'del':
      case 'expire':
        return this.write(c);
      case 'sync':
        return this.sync(this.pick(c.from), this.pick(c.to), c);
      case 'push':
        return this.push(this.pick(c.from), this.pick(c.to), KEYS[c.key]!);
      case 'heal':
        return this.healIfDiverged(this.pick(c.from), this.pick(c.to));
      case 'deliver':
        return this.deliverLate(c.pick);
      case 'gossip':
        for (const a of this.members) for (const b of this.members) if (a !== b) a.heard.set(b.name, b.ks.summary().clock);
        return;
      case 'round':
        for (const a of [...this.members]) for (const b of [...this.members]) await this.sync(a, b, null);
        if (c.collect) for (const m of this.members) await this.gc(m, 100);
        return;
      case 'gc':
        return void (await this.gc(this.pick(c.at), c.maxKeys));
      case 'tick':
        return void (this.time.now += c.ms);
      case 'save':
        return void this.backups.push(save(this.pick(c.at)));
      case 'forget':
        return this.forget(c);
    }
  }

  /**
   * Late chunks arrive, then every member syncs with every other until a round changes no clock
   * or digest; members that differ at an equal clock heal from each other, as the daemon's
   * divergence healer does (a state merged with no claim, by a heal or a chunk whose claim went
   * to another replica's range, is sent by no delta once the replica that could claim it is gone).
   */
  async settle(): Promise<void> {
    this.settling = true;
    while (this.inFlight.length > 0) await this.deliverLate(0);
    const summaries = () => new Map(this.members.map((m) => [m, m.ks.summary()]));
    for (let round = 0; ; round++) {
      expect(round).toBeLessThan(8);
      const before = summaries();
      for (const a of [...this.members]) for (const b of [...this.members]) await this.sync(a, b, null);
      for (const a of [...this.members]) for (const b of [...this.members]) if (a !== b) await this.healIfDiverged(a, b);
      const same = (x: Map<Node, { clock: Clock; digest: string }>, m: Node) => x.get(m)?.clock.equals(m.ks.summary().clock) && x.get(m)?.digest === m.ks.summary().digest;
      if (this.members.every((m) => same(before, m))) return;
    }
  }

  /** GC steps of at most two keys on every member until none has more to do. */
  async collectAll(): Promise<void> {
    for (const m of this.members) {
      for (let step = 0; (await this.gc(m, 2)).more; step++) expect(step).toBeLessThan(50);
    }
  }

  /** The writes of a key that no other write saw. */
  private survivingWrites(key: string): Write[] {
    const mine = this.writes.filter((w) => w.key === key);
    return mine.filter((w) => !mine.some((o) => o !== w && vvCovers(o.ctx, w)));
  }

  survivors(key: string): Set<string> {
    return new Set(this.survivingWrites(key).map(dotName));
  }

  /** The dots a key's value siblings must be: writes no other write saw, not expired by now. */
  expected(key: string): string[] {
    return this.survivingWrites(key)
      .filter((w) => w.value && (w.exp === undefined || w.exp > this.time.now))
      .map(dotName)
      .sort();
  }
}

const text = (v: Uint8Array | undefined) => (v === undefined ? undefined : utf8(v));
const scanned = (n: Node) => n.ks.scan().items.map((i) => `${i.key}=${utf8(i.value)}`);
const isValue = (now: number) => (x: SiblingView) => x.value !== null && (x.expireAt === undefined || x.expireAt > now);
const shown = (r: ReadResult | undefined, now: number) => JSON.stringify({ value: r?.value ? utf8(r.value) : null, values: (r?.siblings ?? []).filter(isValue(now)).map(sibName).sort() });

/** The end-of-history checks (a) to (d); true when every clock covers every dot any state names. */
function checkSettled(cl: Cluster): boolean {
  const first = cl.members[0]!;
  const s0 = first.ks.summary();
  const clock = s0.clock;
  let coversAll = true;
  for (const m of cl.members) {
    const s = m.ks.summary();
    expect(s.clock.equals(clock)).toBe(true);
    expect(s.digest).toBe(s0.digest);
    expect(s.keys).toBe(s0.keys);
    expect(m.ks.recompute()).toMatchObject({ digest: s.digest, keys: s.keys, unreadable: 0 });
    expect(scanned(m)).toEqual(scanned(first));
    let tombs = 0;
    for (const { key, state } of states(m)) {
      const named = state.ctx.every(([r, c]) => clock.base(r) >= c);
      coversAll &&= named;
      const garbage = state.sibs.filter((x) => x.value === null || (x.exp !== undefined && x.exp <= cl.time.now));
      tombs += garbage.filter((x) => x.value === null).length;
      // (d): what is left to collect is not stable: its dot, or (as the key's last) its key's context
      for (const g of garbage) {
        if (clock.covers(g.r, g.c) && (garbage.length < state.sibs.length || named)) throw new Error(`${m.name} keeps stable garbage ${dotName(g)} in key ${key}`);
      }
    }
    expect(m.ks.gcStats().tombstones).toBe(tombs);
    if (coversAll) expect(tombs).toBe(0);
  }
  // scans find exactly the keys with a surviving value (none deleted or expired)
  expect(scanned(first).map((item) => item.slice(0, item.indexOf('=')))).toEqual(cl.keys().filter((k) => cl.expected(k).length > 0));
  for (const key of cl.keys()) {
    const want = cl.expected(key);
    for (const m of cl.members) {
      const r = m.ks.read(key);
      const live = (r?.siblings ?? []).filter(isValue(cl.time.now));
      // (a), (b): exactly the surviving values; no state at all when none is left and nothing unstable is
      expect(live.map(sibName).sort()).toEqual(want);
      if (want.length === 0 && coversAll) expect(r).toBeUndefined();
      // equal reads; unstable garbage may differ (the digest leaves it out, so no sync mends that)
      expect(shown(r, cl.time.now)).toBe(shown(first.ks.read(key), cl.time.now));
      expect(text(m.ks.get(key))).toBe(text(first.ks.get(key)));
    }
  }
  return coversAll;
}

describe('garbage collection in a cluster (property)', () => {
  it('loses no write, undoes no delete or expiry, converges and collects everything stable', async () => {
    const totals = { runs: 0, coveredAll: 0, refused: 0, caughtUp: 0, collectedEarly: 0, joinedOld: 0, stuck: 0 };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 4 }), fc.array(commands(), { minLength: 1, maxLength: 60, size: 'medium' }), fc.nat(60), async (n, cmds, finalTick) => {
        const cl = new Cluster();
        for (let i = 0; i < n; i++) await cl.add();
        await cl.run({ t: 'save', at: 0 }); // an empty backup: a replica restored from it is behind every frontier
        for (const c of cmds) await cl.run(c);
        cl.time.now += finalTick;
        await cl.settle();
        cl.checkNoUndo();
        await cl.collectAll();
        const all = checkSettled(cl);
        totals.runs++;
        if (all) totals.coveredAll++;
        for (const [k, v] of Object.entries(cl.stats)) totals[k as keyof typeof cl.stats] += v;
      }),
      { numRuns: 150 },
    );
    // The histories reach what the properties are about (2,000 runs saw, per run: 0.48 replicas
    // restored from an old backup, 0.07 catch-ups, 0.01 refused deltas, 2.7 siblings collected
    // before the end, 0.16 joins or catch-ups cut short: see `cutShort`).
    expect(totals.collectedEarly).toBeGreaterThan(0);
    expect(totals.joinedOld).toBeGreaterThan(0);
    expect(totals.caughtUp).toBeGreaterThan(0);
    expect(totals.coveredAll).toBeGreaterThan(totals.runs / 2);
  });
});

describe('an old backup restored (property)', () => {
  it('a replica restored from any earlier backup brings back nothing deleted, superseded or expired', async () => {
    // Two keys, pushes rather than pulls, and frequent backups: members whose clocks hold a delete
    // without the put it deleted, when they collect, and old copies of that put.
    const history = commands({ forget: 0, sync: 1, push: 8, round: 0, save: 4, del: 5, gossip: 5, gc: 6, expire: 0 }, 2);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 3 }), fc.array(history, { minLength: 1, maxLength: 60, size: 'medium' }), fc.nat(), async (n, cmds, pick) => {
        const cl = new Cluster();
        for (let i = 0; i < n; i++) await cl.add();
        for (const c of cmds) await cl.run(c);
        for (const m of cl.members) await cl.gc(m, 100); // what each member may collect by now
        const old = cl.backups.length > 0 ? await cl.join(cl.backups[pick % cl.backups.length]!) : undefined;
        if (old !== undefined) {
          // before it catches up: its deltas and its whole snapshot (a heal) go to every member
          for (const m of cl.members) {
            if (m === old) continue;
            await cl.sync(old, m, null);
            await cl.heal(old, m);
            cl.checkNoUndo();
          }
        }
        await cl.settle();
        cl.checkNoUndo();
        await cl.collectAll();
        checkSettled(cl);
      }),
      { numRuns: 150 },
    );
  });
});

describe('a replica restored from before a collected delete (regression: resurrection)', () => {
  /** Everyone hears everyone's clock, then every member collects all it may. */
  async function gossipAndCollect(cl: Cluster): Promise<void> {
    await cl.run({ t: 'gossip' });
    await cl.collectAll();
  }
  const k = (n: Node) => text(n.ks.get('k'));

  it('brings k back nowhere: not by its deltas or a heal, not on itself after its catch-up', async () => {
    const cl = new Cluster();
    const [a, b] = [await cl.add(), await cl.add()];
    await cl.writeAt(a, 'put', 'k');
    await cl.sync(a, b, null);
    const old = save(b); // a backup holding k=v0
    await cl.writeAt(a, 'del', 'k');
    // A writes once more, so that its last counter is named by a state: a catch-up's clock is
    // believed only that far (delta.ts, evidencedClaim), and C would otherwise stay behind.
    await cl.writeAt(a, 'put', 'later');
    await cl.sync(a, b, null);
    await gossipAndCollect(cl);
    for (const n of [a, b]) expect([n.ks.read('k'), n.ks.gcStats().tombstones]).toEqual([undefined, 0]);

    const c = await cl.add(old);
    expect(k(c)).toBe('v0');
    for (const n of [a, b]) {
      await cl.sync(c, n, null); // C -> A, C -> B: they are not behind C's (empty) frontier
      await cl.heal(c, n);
      expect(n.ks.read('k')).toBeUndefined();
    }
    // A -> C is refused: C lacks the delete A collected; C catches up from A's snapshot instead
    expect(behindFrontier(c.ks.summary().clock, a.ks.gcStats().frontier)).toBeGreaterThan(0);
    await cl.catchUp(a, c, 1);
    expect(cl.isMember(c)).toBe(true);
    expect(behindFrontier(c.ks.summary().clock, a.ks.gcStats().frontier)).toBe(0);
    expect(c.ks.read('k')).toBeUndefined();
    await cl.settle();
    await cl.collectAll();
    checkSettled(cl);
    expect(cl.members.map(k)).toEqual([undefined, undefined, undefined]);
  });
});
