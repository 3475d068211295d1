// One write transaction's worth of changes, computed before anything is put. Every state change,
// whether a local write or a merged remote state, goes through replace(), which keeps the dot
// index, the digest and the live count in step with the key state. Nothing touches the backend
// until apply(): a throw while computing (a damaged record, a bad delta) leaves the store as it was.
//
// States are handled as encoded bytes plus their facts (dot-index keys, liveness, max HLC);
// objects are decoded only where a merge or an overwrite needs them. Applying a bootstrap-sized
// delta into an empty store then costs one validating pass per key and no object graph.

import { contextEntries, decodeKeyState, inspectKeyState, inspectKeyStateInto, type KeyStateFacts, type ScratchFacts } from '../core/codec.js';
import { compareBytes } from '../core/bytes.js';
import { hlcMillis } from '../core/hlc.js';
import type { KeyState } from '../core/key-state.js';
import type { ReplicaId } from '../core/replica.js';
import { DecodeError } from '../errors.js';
import type { WriteView } from './backend.js';
import { keyId } from './key-text.js';
import { encodeDigestAt, encodeStoreState, META_DIGEST_AT, META_STATE, type StoreState } from './meta.js';
import { shiftDigest, xorState, type DigestTarget } from './state-hash.js';
import type { RangeDelta } from './range-index.js';
import { siblingChange, type SiblingStats } from './sibling-count.js';
import { holdsOnlyExpiring } from './expiring-count.js';

/** Where a committed change came from: a write on this node, or a peer (deltas, pushes, snapshots, repair). */
export type ChangeOrigin = 'local' | 'replicated';

/**
 * One committed transaction's key changes: the keys, and each key's new state bytes (null when it
 * left the store), read on demand so that a commit nobody records builds nothing per key. Valid
 * only during the call it is passed to.
 */
export interface ChangeBatch {
  origin: ChangeOrigin;
  keys: readonly Uint8Array[];
  stateAt(i: number): Uint8Array | null;
}

/** A key state as stored: its bytes and what the index needs to know about them. */
export interface Stored {
  readonly bytes: Uint8Array;
  readonly facts: KeyStateFacts;
}

export class ChangeSet {
  /** The store state as it will be after this transaction. */
  readonly next: StoreState;
  // The staged states and dot-index changes, kept in flat arrays rather than an object per
  // change: a bulk delta stages thousands per transaction, and fewer objects is less GC work.
  private readonly keys: Uint8Array[] = [];
  /** Where each staged key sits in keys and states. */
  private readonly staged = new StagedIndex(this.keys);
  private readonly states: Uint8Array[] = [];
  /** The facts of the state being staged; made once, filled per replace(). */
  private readonly scratch: ScratchFacts = { dots: [], live: false, maxHlc: 0, gc: [], tombs: 0 };
  /** Dot-index changes in order, as pairs: (dot, key) puts the entry, (dot, null) removes it. */
  private readonly dotOps: (Uint8Array | null)[] = [];
  /** GC-index changes, the same way. */
  private readonly gcOps: (Uint8Array | null)[] = [];
  private readonly meta: [string, Uint8Array][] = [];
  /** What this transaction changes in the sibling counts (sibling-count.ts). */
  readonly siblings: SiblingStats = { keys: 0, siblings: 0 };
  /** What this transaction changes in the count of keys whose values all expire (expiring-count.ts). */
  expiring = 0;

  /** Where key hashes go: the digest, and the range index's staged changes when one is kept. */
  private readonly fold: DigestTarget;

  constructor(
    private readonly w: WriteView,
    current: StoreState,
    private readonly maxValueBytes: number,
    /** Given when the store keeps a range index (range-index.ts): it moves with the digest. */
    readonly ranges?: RangeDelta,
  ) {
    this.next = { ...current, clock: current.clock.clone(), digest: current.digest.clone() };
    this.fold = ranges === undefined ? this.next.digest : ranges.folding(this.next.digest);
  }

  /** Raises what the store has seen of replica r (copying the shared map on the first raise). */
  private raiseSeen(r: ReplicaId, c: number): void {
    if (this.seenOwned === undefined) this.next.seen = this.seenOwned = new Map(this.next.seen);
    this.seenOwned.set(r, c);
  }

  private seenOwned: Map<ReplicaId, number> | undefined;
  private readonly names = new ReplicaNames();
  private readonly ctxScratch: number[] = [];
  // The replica whose counters the last states named: its bound, and the highest counter seen so
  // far (written to next.seen when another replica comes, or by flushSeen). A bulk delta names one
  // replica key after key with rising counters; this spares two map reads and a write per key.
  private seenR = '';
  private seenMax = 0;
  private seenBound = 0;

  /** The key's state as this transaction sees it (earlier changes in it included). */
  load(key: Uint8Array): Stored | undefined {
    const i = this.staged.find(key);
    if (i >= 0) return this.states[i] === REMOVED ? undefined : this.stored(this.states[i]!);
    const bytes = this.w.getState(key);
    return bytes === undefined ? undefined : this.stored(bytes);
  }

  private stored(bytes: Uint8Array): Stored {
    return { bytes, facts: inspectKeyState(bytes, this.maxValueBytes) };
  }

  /** Like load, but unreadable bytes (damage on disk) come back with empty facts instead of throwing. */
  loadDamaged(key: Uint8Array): Stored | undefined {
    try {
      return this.load(key);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return { bytes: this.w.getState(key)!, facts: { dots: [], live: false, maxHlc: 0, gc: [], tombs: 0 } };
    }
  }

  /** The decoded form of a loaded state, for merges and overwrites. */
  decode(s: Stored): KeyState {
    return decodeKeyState(s.bytes, this.maxValueBytes);
  }

  /**
   * Replaces the key's state with `bytes`, a canonical encoding, which is checked here (the whole
   * key-state grammar and the value size limit): a bad one throws before anything is put.
   */
  replace(key: Uint8Array, old: Stored | undefined, bytes: Uint8Array, limits?: RemoteLimits): void {
    const facts = inspectKeyStateInto(bytes, this.maxValueBytes, this.scratch);
    if (limits !== undefined) {
      checkRemote(key, facts, limits);
      this.checkCounters(key, bytes, limits);
    }
    const n = this.next;
    const ops = this.dotOps;
    if (old !== undefined) {
      xorState(this.fold, key, old.bytes, n.digestAt, -1);
      if (old.facts.live) n.count--;
      n.tombstones -= old.facts.tombs;
      for (const d of old.facts.dots) if (!facts.dots.some((x) => equal24(x, d))) ops.push(d, null);
      for (const g of old.facts.gc) if (!facts.gc.some((x) => equalBytes(x, g))) this.gcOps.push(g, null);
    }
    xorState(this.fold, key, bytes, n.digestAt);
    if (facts.live) n.count++;
    n.tombstones += facts.tombs;
    for (const d of facts.dots) {
      if (old === undefined || !old.facts.dots.some((x) => equal24(x, d))) ops.push(d, key);
    }
    for (const g of facts.gc) {
      if (old === undefined || !old.facts.gc.some((x) => equalBytes(x, g))) this.gcOps.push(g, key);
    }
    if (facts.maxHlc > n.hlc) n.hlc = facts.maxHlc;
    siblingChange(this.siblings, old?.facts.dots.length ?? 0, facts.dots.length);
    this.expiring += (holdsOnlyExpiring(facts) ? 1 : 0) - (old !== undefined && holdsOnlyExpiring(old.facts) ? 1 : 0);
    this.stage(key, bytes);
  }

  /**
   * Every counter a peer's state names must be one its replica signed (limits.bound), and the
   * highest ones become what this store has seen: the evidence later claims are cut to.
   */
  private checkCounters(key: Uint8Array, bytes: Uint8Array, limits: RemoteLimits): void {
    const list = contextEntries(bytes, this.ctxScratch);
    for (let i = 0; i < list.length; i += 2) {
      const c = list[i + 1]!;
      const r = this.names.at(bytes, list[i]!);
      if (r !== this.seenR) {
        this.flushSeen();
        this.seenR = r;
        this.seenMax = this.next.seen.get(r) ?? 0;
        this.seenBound = limits.bound(r);
      }
      if (c <= this.seenMax) continue;
      if (c > this.seenBound) {
        throw new DecodeError(`key "${Buffer.from(key).toString('utf8')}": counter ${c} of replica ${r} is beyond the highest it signed (${this.seenBound})`);
      }
      this.seenMax = c;
    }
  }

  /** Puts the running highest counter into next.seen; before anything reads next.seen. */
  flushSeen(): void {
    if (this.seenR !== '' && this.seenMax > (this.next.seen.get(this.seenR) ?? 0)) this.raiseSeen(this.seenR, this.seenMax);
  }

  /**
   * Moves the digest's cutoff forward to `to` (ms): values expiring up to then leave the digest,
   * so collecting them afterwards changes nothing in it. Never back (values collected since
   * would be missing). Before any other change in this transaction.
   */
  moveCutoff(to: number): void {
    const n = this.next;
    if (to <= n.digestAt) return;
    shiftDigest({ gcRange: (a, b) => this.w.gcRange(a, b), getState: (k) => this.w.getState(k) }, this.fold, n.digestAt, to);
    n.digestAt = to;
    this.setMeta(META_DIGEST_AT, encodeDigestAt(to));
  }

  /** Removes the key (garbage collection, repair). `old` may be unreadable damage: facts with no dots, not live. */
  remove(key: Uint8Array, old: Stored): void {
    const n = this.next;
    xorState(this.fold, key, old.bytes, n.digestAt, -1);
    if (old.facts.live) n.count--;
    n.tombstones -= old.facts.tombs;
    for (const d of old.facts.dots) this.dotOps.push(d, null);
    for (const g of old.facts.gc) this.gcOps.push(g, null);
    siblingChange(this.siblings, old.facts.dots.length, 0);
    if (holdsOnlyExpiring(old.facts)) this.expiring--;
    this.stage(key, REMOVED);
  }

  private stage(key: Uint8Array, bytes: Uint8Array): void {
    const i = this.staged.find(key);
    if (i < 0) {
      this.keys.push(key);
      this.states.push(bytes);
      this.staged.added();
    } else {
      this.states[i] = bytes;
    }
  }

  /** Another meta record to write in this transaction (e.g. bootstrap progress with its chunk). */
  setMeta(name: string, value: Uint8Array): void {
    this.meta.push([name, value]);
  }

  /** The keys this transaction changes and their new states (null: removed), for the change feed: nothing is copied. */
  changed(origin: ChangeOrigin): ChangeBatch {
    const states = this.states;
    return { origin, keys: this.keys, stateAt: (i) => (states[i] === REMOVED ? null : states[i]!) };
  }

  /** Writes everything. Only puts from here on: nothing here can fail half-way on bad input. */
  apply(): void {
    const w = this.w;
    for (let i = 0; i < this.keys.length; i++) {
      if (this.states[i] === REMOVED) w.delState(this.keys[i]!);
      else w.putState(this.keys[i]!, this.states[i]!);
    }
    const ops = this.dotOps;
    for (let i = 0; i < ops.length; i += 2) {
      const key = ops[i + 1];
      if (key === null) w.delDot(ops[i]!);
      else w.putDot(ops[i]!, key!);
    }
    const gc = this.gcOps;
    for (let i = 0; i < gc.length; i += 2) {
      const key = gc[i + 1];
      if (key === null) w.delGc(gc[i]!);
      else w.putGc(gc[i]!, key!);
    }
    for (const [name, value] of this.meta) w.putMeta(name, value);
    this.flushSeen();
    w.putMeta(META_STATE, encodeStoreState(this.next));
  }
}

/** Marks a staged key as removed; compared by identity. */
const REMOVED = new Uint8Array(0);

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function equal24(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 24; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Finds staged keys. While keys arrive in ascending order (every bulk load, and any batch written
 * in key order) one comparison with the last says a key is new; a Map by key is built only when
 * they do not. This spared a string and two Map operations per key on the bulk paths.
 */
class StagedIndex {
  private ascending = true;
  private byId: Map<string, number> | undefined;

  constructor(private readonly keys: Uint8Array[]) {}

  /** The key's index in keys, or -1. */
  find(key: Uint8Array): number {
    const n = this.keys.length;
    if (n === 0 || (this.ascending && compareBytes(key, this.keys[n - 1]!) > 0)) return -1;
    return this.index().get(keyId(key)) ?? -1;
  }

  /** Records the key just pushed onto keys. */
  added(): void {
    const i = this.keys.length - 1;
    if (i > 0 && compareBytes(this.keys[i]!, this.keys[i - 1]!) <= 0) this.ascending = false;
    this.byId?.set(keyId(this.keys[i]!), i);
  }

  private index(): Map<string, number> {
    if (this.byId === undefined) {
      this.byId = new Map();
      for (let i = 0; i < this.keys.length; i++) this.byId.set(keyId(this.keys[i]!), i);
    }
    return this.byId;
  }
}

/** Bounds on a state that holds siblings from a peer (or a snapshot): they hold for every node. */
export interface RemoteLimits {
  maxSiblings: number;
  /** The highest HLC accepted: the local wall clock plus the allowed skew. */
  maxHlc: number;
  /** The highest counter of replica r a peer may name: r's newest verified head, or what this store has seen. */
  bound(r: ReplicaId): number;
}

/** Replica ids of states' context entries as hex, remembering the last one (runs of states share them). */
class ReplicaNames {
  private last = new Uint8Array(16);
  private lastId = '';

  at(buf: Uint8Array, pos: number): ReplicaId {
    const last = this.last;
    let same = this.lastId !== '';
    for (let i = 0; same && i < 16; i++) same = buf[pos + i] === last[i];
    if (!same) {
      last.set(buf.subarray(pos, pos + 16));
      this.lastId = Buffer.from(buf.buffer, buf.byteOffset + pos, 16).toString('hex');
    }
    return this.lastId;
  }
}

/**
 * A peer's state may not make this node's keys unreadable (hundreds of thousands of siblings) or
 * push its HLC to the integer limit, after which no write could be timestamped: refused whole.
 */
function checkRemote(key: Uint8Array, facts: ScratchFacts, limits: RemoteLimits): void {
  const name = () => Buffer.from(key).toString('utf8');
  if (facts.dots.length > limits.maxSiblings) {
    throw new DecodeError(`key "${name()}": ${facts.dots.length} siblings exceed the limit of ${limits.maxSiblings} (maxSiblings)`);
  }
  if (facts.maxHlc > limits.maxHlc) {
    const ahead = Math.round((hlcMillis(facts.maxHlc) - hlcMillis(limits.maxHlc)) / 1000);
    throw new DecodeError(`key "${name()}": a timestamp ${ahead} s further ahead of this node's clock than the allowed skew (maxClockSkewMs)`);
  }
}
