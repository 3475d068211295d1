// The replicated keyspace of one node: the design note's model on top of a storage backend.
// Local writes and remote deltas each run as one transaction (key states, dot index, node clock,
// digest and count change together); writes issued in the same event turn share one commit.

import { join } from 'node:path';
import { Writer } from '../core/bytes.js';
import { Clock } from '../core/clock.js';
import { decodeKeyState, dotKeyCounter, encodeFirstWrite, encodeKeyState, gcExpiryKey, gcTombKey, inspectKeyState, parseGcKey, replicaToBytes, resolveEncoded, siblingCount } from '../core/codec.js';
import { compareBytes } from '../core/bytes.js';
import { chunkEntries, DEFAULT_DELTA_LIMITS, evidencedClaim, mergeEntry, selectDelta, type DeltaChunk, type DeltaSource, type DeltaEntry, type DeltaLimits } from '../core/delta.js';
import { Digest } from '../core/digest.js';
import { decodeHeads, encodeHeads, headIsValid, MAX_COUNTER, MAX_FRAME_HEADS, newReplicaKey, replicaKeyFromSeed, signHead, type Head, type ReplicaKey } from '../core/head.js';
import { headsToCheck, headsToSend, namedCounters, splitByHeads } from '../core/head-need.js';
import { HLC_LOGICAL_BITS, nextHlc } from '../core/hlc.js';
import { equivocations, keepOwn, reassertion } from '../core/equivocation.js';
import { collectKey, dropCollected } from '../core/gc.js';
import { localWrite, merge, resolve, type KeyState, type Sibling } from '../core/key-state.js';
import type { Dot, ReplicaId } from '../core/replica.js';
import { repairKey } from '../core/repair.js';
import { decodeToken, encodeToken } from '../core/token.js';
import type { VersionVector } from '../core/version-vector.js';
import { checkValue, DEFAULT_MAX_VALUE_BYTES, keyToBytes, MAX_EXPIRE_AT, MAX_KEY_BYTES } from '../core/validate.js';
import { DecodeError, InvalidTokenError, StoreError } from '../errors.js';
import type { Backend, ReadView, Snapshot } from './backend.js';
import { ChangeSet, type ChangeBatch, type ChangeOrigin, type RemoteLimits, type Stored } from './change-set.js';
import { checkKeyText, keyText } from './key-text.js';
import { LmdbBackend } from './lmdb-backend.js';
import { decodeDigestAt, decodeStoreState, encodeDigestAt, encodeStoreState, headRecord, META_DIGEST_AT, META_HEADS, META_REPLICA, META_REPLICA_KEY, META_STATE, storeStateVersion, type StoreState } from './meta.js';
import { expiringBetween, LASTING_ONLY, shiftDigest, xorState } from './state-hash.js';
import { countSiblings, type SiblingStats } from './sibling-count.js';
import { countExpiring } from './expiring-count.js';
import { RangeDelta, RangeIndex } from './range-index.js';

export type Durability = 'strict' | 'relaxed';

export interface KeyspaceOptions {
  /**
   * strict: on disk before a write resolves; relaxed: promises only committed, flushed within 1 s
   * (on LMDB it is synced before it resolves too: lmdb-backend.ts).
   */
  durability?: Durability;
  maxValueBytes?: number;
  /** Wall clock in ms, for HLC timestamps (injected so tests are deterministic). */
  now?: () => number;
  /** Most siblings a key may hold from a peer (default 1,000). */
  maxSiblings?: number;
  /** How far ahead of this node's clock a peer's timestamp may be (default 10 minutes). */
  maxClockSkewMs?: number;
  /** Keep sibling counts (siblingStats): one pass over every state at open, then kept in step. */
  countSiblings?: boolean;
  /** Keep the count of keys whose values all expire (expiringKeys): one read per expiring value at open, then kept in step. */
  countExpiring?: boolean;
  /** Told how long each transaction took to commit (and flush, when durable), queueing included, in seconds. */
  onCommit?: (seconds: number) => void;
}

export const DEFAULT_MAX_SIBLINGS = 1000;
/**
 * Heads verified but not kept (their replica has no dots here yet): enough for every frame in flight
 * and a snapshot's worth of replicas; past it the oldest go (they are verified again if needed).
 */
export const MAX_VOUCHED_HEADS = 8192;
export const DEFAULT_MAX_CLOCK_SKEW_MS = 10 * 60_000;
/** How far ahead of this node's clock a peer's digest cutoff may be and still be compared here. */
const SUMMARY_AHEAD_MS = 30_000;

export type WriteOp =
  /** `expireAt`: when the value expires (ms since the epoch); absent for a value that lasts. */
  | { type: 'put'; key: string; value: Uint8Array; context?: string; expireAt?: number }
  | { type: 'del'; key: string; context?: string };

/** The latest expiry a write may carry (year 2286 in ms): far below the varint limit, and sane. */
export { MAX_EXPIRE_AT } from '../core/validate.js';

/** A key whose dots a peer's state held with other contents than this store's. */
export interface Equivocation {
  key: Uint8Array;
  dots: Dot[];
  /** This replica's own siblings among them (kept, and written again: Keyspace.reassert). */
  own: Sibling[];
}

export interface WriteResult {
  key: string;
  dot: Dot;
}

export interface SiblingView {
  value: Uint8Array | null;
  replica: ReplicaId;
  counter: number;
  hlc: number;
  /** When the value expires (ms since the epoch), if it does. */
  expireAt?: number;
}

export interface ReadResult {
  /** The resolved value; null when the key is deleted. */
  value: Uint8Array | null;
  siblings: SiblingView[];
  /** Opaque causal-context token: pass it to a write to supersede exactly these siblings. */
  context: string;
}

export type { ChangeBatch, ChangeOrigin } from './change-set.js';

export interface ScanResult {
  items: { key: string; value: Uint8Array }[];
  /** Pass as `after` to continue; null when the scan reached the end of the prefix. */
  cursor: string | null;
}

export interface Summary {
  replicaId: ReplicaId;
  clock: Clock;
  digest: string;
  /** The digest's cutoff (ms since the epoch): it covers every value that lasts or expires after it. */
  digestAt: number;
  keys: number;
  /** The GC frontier (meta.ts): what this store may have collected. */
  frontier: Clock;
}

/** A consistent view of the whole keyspace (one read transaction), for bootstrap and backup. */
export interface KeyspaceSnapshot extends Omit<Summary, 'replicaId'> {
  /** Every head this node keeps (its own included): what a receiver needs to believe the snapshot. */
  heads: Head[];
  /** Key states in key order, after `after` when given (to resume an interrupted stream). */
  entries(after?: Uint8Array): Iterable<DeltaEntry>;
  close(): void;
}

/**
 * A consistent view for a backup: the summary of one snapshot and the key states holding a dot
 * `since` lacks (every key state, in key order, when `since` is empty), chunked.
 */
export interface KeyspaceChanges extends Omit<Summary, 'replicaId'> {
  chunks: Iterable<DeltaChunk>;
  close(): void;
}

export interface ApplyOptions {
  /** Written in the same transaction (progress that must match the data). */
  meta?: { name: string; value: Uint8Array };
  /** The chunk comes from this machine's own backup files, not a peer: counters are not bounded by heads. */
  trusted?: boolean;
  /** The sender's GC frontier (a snapshot's): the part of the claim under it is believed (see evidenced). */
  collected?: Clock;
  /** Heads of this chunk the caller verified (checkHeads): held again if a flood pushed them out meanwhile. */
  checked?: readonly Head[];
}

/** A replica moves to a new id this far below the counter limit (at open; writes check the limit itself). */
const COUNTER_MARGIN = 1 << 20;
/** Heads verified per turn of the event loop (about 10 to 40 ms of CPU). */
const CHECK_BATCH = 64;

interface Recount {
  digest: Digest;
  keys: number;
  unreadable: number;
}

/** The store's directory inside a data directory. */
export const STORE_DIR = 'store';

export class Keyspace {
  /**
   * Told of every committed change to keys, after the commit (the change feed). Garbage
   * collection is not a change: it removes only what already reads as absent.
   */
  onChange: ((batch: ChangeBatch) => void) | undefined;
  /**
   * Told, after the commit, of the dots a peer's states held with other contents than this
   * store's (core/equivocation.ts): proof that their replica is faulty. Merge kept the same
   * version every node keeps.
   */
  onEquivocation: ((found: readonly Equivocation[]) => void) | undefined;
  private work: StoreState;
  /**
   * The newest verified head of every other replica this store holds dots of (head.ts), and those
   * not yet stored. A head of a replica with nothing here is not kept: a member minting replica ids
   * cannot grow this table or the frames built from it, only its own writes can.
   */
  private readonly heads = new Map<ReplicaId, Head>();
  /** Heads verified for frames being applied, not (yet) kept: bounded, oldest out (MAX_VOUCHED_HEADS). */
  private readonly vouched = new Map<ReplicaId, Head>();
  /** What namedCounters found in a chunk, so the check before applying and the apply share one pass. */
  private readonly namedIn = new WeakMap<DeltaChunk, Map<ReplicaId, number>>();
  private readonly unsavedHeads = new Set<ReplicaId>();
  private headIdsUnsaved = false;
  private ownHead: Head | undefined;
  private closed = false;
  readonly maxValueBytes: number;
  readonly durability: Durability;
  private readonly now: () => number;
  private readonly maxSiblings: number;
  private readonly maxClockSkewMs: number;
  private readonly onCommit: ((seconds: number) => void) | undefined;
  /** Null when not kept, or unknown since a commit failed. */
  private sibs: SiblingStats | null = null;
  /** Range fingerprints (range-index.ts): built on first use, null before or after a failed commit. */
  private ranges: RangeIndex | null = null;
  /** While the index is built: the changes committed meanwhile, folded in once it is done. */
  private rangesPending: RangeDelta[] | null = null;
  private rangesBuilt: Promise<void> | null = null;
  /** Keys whose values all expire (expiring-count.ts); null when not kept. */
  private expiring: number | null = null;

  private constructor(
    private readonly backend: Backend,
    private key: ReplicaKey,
    /** The replica id this store wrote under before it moved to the current one, if it moved at open. */
    readonly movedFrom: ReplicaId | null,
    opts: KeyspaceOptions,
  ) {
    this.work = this.loadState();
    this.loadHeads();
    this.maxValueBytes = opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    this.durability = opts.durability ?? 'strict';
    this.now = opts.now ?? Date.now;
    this.maxSiblings = opts.maxSiblings ?? DEFAULT_MAX_SIBLINGS;
    this.maxClockSkewMs = opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
    this.onCommit = opts.onCommit;
    if (opts.countSiblings === true) {
      // Before the first write: nothing is in flight, so the pass and the change sets meet exactly.
      const snap = backend.openSnapshot();
      try {
        this.sibs = countSiblings(snap);
      } finally {
        snap.close();
      }
    }
    if (opts.countExpiring === true) this.expiring = this.recountExpiring();
  }

  /**
   * Counts the keys whose values all expire, as committed: at open, before any write, and after a
   * failed commit, when the store is as on disk (so the latest states are the snapshot's).
   */
  private recountExpiring(): number {
    const snap = this.backend.openSnapshot();
    try {
      return countExpiring(snap, (key) => this.backend.getState(key));
    } finally {
      snap.close();
    }
  }

  /** Opens (creating if needed) the store in DATA_DIR/store. */
  static openDir(dataDir: string, opts: KeyspaceOptions = {}): Promise<Keyspace> {
    return Keyspace.open(new LmdbBackend(join(dataDir, STORE_DIR)), opts);
  }

  /**
   * Opens a keyspace on a backend. A new store gets a new replica: an Ed25519 key whose public half
   * names it (head.ts). A store made before replica keys, or whose counter nears the limit, moves
   * to a new replica at open: its writes so far keep their dots, later ones use the new id.
   */
  static async open(backend: Backend, opts: KeyspaceOptions = {}): Promise<Keyspace> {
    if (backend.getMeta(META_REPLICA) === undefined) {
      const empty: StoreState = { clock: Clock.empty(), digest: new Digest(), count: 0, hlc: 0, seen: new Map(), tombstones: 0, frontier: Clock.empty(), digestAt: 0 };
      const fresh = newReplicaKey();
      await backend.write((w) => {
        if (w.getMeta(META_REPLICA) !== undefined) return;
        w.putMeta(META_REPLICA, Buffer.from(fresh.key.r, 'hex'));
        w.putMeta(META_REPLICA_KEY, fresh.seed);
        w.putMeta(META_STATE, encodeStoreState(empty));
        w.putMeta(META_DIGEST_AT, encodeDigestAt(0));
      }, true);
    }
    const raw = backend.getMeta(META_REPLICA)!;
    if (raw.length !== 16) throw new StoreError('damaged store: the replica id record is not 16 bytes');
    const id = Buffer.from(raw).toString('hex');
    const seed = backend.getMeta(META_REPLICA_KEY);
    let key = seed === undefined ? undefined : replicaKeyFromSeed(seed);
    if (key !== undefined && key.r !== id) throw new StoreError('damaged store: the replica key does not match the replica id');
    const state = backend.getMeta(META_STATE);
    const counter = state === undefined ? 0 : decodeStoreState(state).clock.base(id);
    let movedFrom: ReplicaId | null = null;
    if (key === undefined || counter >= MAX_COUNTER - COUNTER_MARGIN) {
      // The old replica's last head, signed before its key is replaced: this store can still vouch
      // for the old replica's writes to a node that bootstraps from it.
      const last = key === undefined || counter === 0 ? undefined : signHead(key, counter);
      key = await Keyspace.newReplica(backend, last);
      movedFrom = id;
    }
    if (storeStateVersion(backend.getMeta(META_STATE)!) < 3) await Keyspace.migrate(backend);
    if (backend.getMeta(META_DIGEST_AT) === undefined) await Keyspace.countExpiringValues(backend, (opts.now ?? Date.now)());
    return new Keyspace(backend, key, movedFrom, opts);
  }

  /**
   * A store from before garbage collection: its digest hashed whole states and it has no GC
   * index. Both are made again from every state, in one transaction (a few seconds a million keys).
   */
  private static async migrate(backend: Backend): Promise<void> {
    const snap = backend.openSnapshot();
    const digest = new Digest();
    let keys = 0;
    let tombstones = 0;
    const gc: [Uint8Array, Uint8Array][] = [];
    try {
      for (const { key, state } of snap.states()) {
        xorState(digest, key, state, LASTING_ONLY); // as the store format 3 counted, moved to a cutoff next
        let facts;
        try {
          facts = inspectKeyState(state);
        } catch (err) {
          if (err instanceof DecodeError) continue; // damage: verify reports it, repair mends it
          throw err;
        }
        if (facts.live) keys++;
        tombstones += facts.tombs;
        for (const g of facts.gc) gc.push([Buffer.from(g), key]);
      }
    } finally {
      snap.close();
    }
    await backend.write((w) => {
      const old = decodeStoreState(w.getMeta(META_STATE)!);
      for (const [g, key] of gc) w.putGc(g, key);
      w.putMeta(META_STATE, encodeStoreState({ ...old, digest, count: keys, tombstones, frontier: Clock.empty() }));
    }, true);
  }

  /**
   * A store whose digest left out every expiring value (made before the cutoff record): its
   * digest is moved to a cutoff of `now`, so values that expire later count, as they do on the
   * nodes it compares with. Reads only the keys holding expiring values.
   */
  private static async countExpiringValues(backend: Backend, now: number): Promise<void> {
    await backend.write((w) => {
      if (w.getMeta(META_DIGEST_AT) !== undefined) return;
      const s = decodeStoreState(w.getMeta(META_STATE)!);
      shiftDigest(w, s.digest, LASTING_ONLY, now);
      w.putMeta(META_STATE, encodeStoreState(s));
      w.putMeta(META_DIGEST_AT, encodeDigestAt(now));
    }, true);
  }

  /** A new replica key for this store, written durably before any write uses it. */
  private static async newReplica(backend: Backend, lastHead?: Head): Promise<ReplicaKey> {
    const fresh = newReplicaKey();
    await backend.write((w) => {
      if (lastHead !== undefined) {
        const ids = w.getMeta(META_HEADS) ?? new Uint8Array(0);
        w.putMeta(headRecord(lastHead.r), encodeHeads([lastHead]));
        w.putMeta(META_HEADS, Buffer.concat([ids, Buffer.from(lastHead.r, 'hex')]));
      }
      w.putMeta(META_REPLICA, Buffer.from(fresh.key.r, 'hex'));
      w.putMeta(META_REPLICA_KEY, fresh.seed);
    }, true);
    return fresh.key;
  }

  /** This store's replica id: the hash of its public key. */
  get replicaId(): ReplicaId {
    return this.key.r;
  }

  get commits(): number {
    return this.backend.commits;
  }

  put(key: string, value: Uint8Array, opts: { context?: string } = {}): Promise<WriteResult> {
    return this.write([{ type: 'put', key, value, ...opts }]).then((r) => r[0]!);
  }

  del(key: string, opts: { context?: string } = {}): Promise<WriteResult> {
    return this.write([{ type: 'del', key, ...opts }]).then((r) => r[0]!);
  }

  /** Applies local writes in order, atomically. Everything is validated before the store is touched. */
  async write(ops: readonly WriteOp[]): Promise<WriteResult[]> {
    this.assertOpen();
    const prepared = ops.map((op) => ({
      key: op.key,
      keyBytes: keyToBytes(op.key),
      value: op.type === 'put' ? checkValue(op.value, this.maxValueBytes) : null,
      ctx: op.context === undefined ? undefined : this.checkToken(decodeToken(op.context)),
      exp: op.type === 'put' && op.expireAt !== undefined ? checkExpireAt(op.expireAt) : undefined,
    }));
    // No counter is issued that a peer's decoder would refuse: near the limit, a new replica.
    if (this.work.clock.base(this.replicaId) + ops.length > MAX_COUNTER) {
      const last = this.signedHead();
      this.key = await Keyspace.newReplica(this.backend, last);
      if (last !== undefined) this.heads.set(last.r, last);
      this.ownHead = undefined;
    }
    return this.transact((cs) => {
      const self = this.replicaId;
      const selfBytes = replicaToBytes(self);
      let counter = cs.next.clock.base(self);
      const results: WriteResult[] = [];
      for (const op of prepared) {
        const old = cs.load(op.keyBytes);
        const dot = { r: self, c: ++counter };
        const hlc = nextHlc(cs.next.hlc, this.now());
        if (old === undefined && op.ctx === undefined) {
          // A new key (the insert and import case): one sibling, encoded straight from its parts.
          cs.replace(op.keyBytes, old, encodeFirstWrite(selfBytes, dot.c, hlc, op.value, op.exp));
        } else {
          const next = localWrite(old === undefined ? undefined : cs.decode(old), dot, hlc, op.value, op.ctx, op.exp);
          cs.replace(op.keyBytes, old, encodeKeyState(next));
        }
        cs.next.clock.add(self, dot.c);
        results.push({ key: op.key, dot });
      }
      return results;
    }, undefined, undefined, 'local');
  }

  /**
   * Merges a delta chunk (from a peer or a snapshot stream) and adds its claim to the node clock.
   * `meta`, when given, is written in the same transaction (progress that must match the data).
   */
  async applyDelta(chunk: DeltaChunk, opts: ApplyOptions = {}): Promise<{ changed: number; claimCut: boolean }> {
    this.assertOpen();
    // a snapshot's last claim (collected given) may name replicas no state here will (writes the
    // sender collected): their heads are checked too, and kept with the clock as evidence
    for (const h of opts.checked ?? []) if (h.c > this.heldUpTo(h.r)) this.hold(h);
    const named = opts.trusted === true ? this.vouchFile(chunk) : this.vouchNow(chunk, opts.collected !== undefined);
    const limits = this.remoteLimits(opts.trusted === true);
    checkClaim(chunk.claim, limits, 'the claim', chunk.heads);
    const meta = opts.meta;
    const found: Equivocation[] = [];
    const result = await this.transact((cs) => {
      const frontier = cs.next.frontier;
      let changed = 0;
      for (const { key, state } of chunk.entries) {
        // Every entry is checked (key length and UTF-8, the whole key-state grammar) before it is
        // used. A bad one throws, and since the change set puts nothing until all of it is
        // computed, the chunk is refused whole. Checking here rather than in a pass before the
        // transaction keeps no per-entry results alive across event turns (a bootstrap-sized
        // delta spent a fifth of its time copying those in the young-generation GC).
        checkDeltaKey(key);
        // before any decoding: a state of 400,000 siblings must not cost a merge first
        const sibs = siblingCount(state);
        if (sibs > limits.maxSiblings) throw new DecodeError(`a key with ${sibs} siblings exceeds the limit of ${limits.maxSiblings} (maxSiblings)`);
        const old = cs.load(key);
        if (old === undefined && frontier.isEmpty()) {
          cs.replace(key, old, state, limits); // new key: valid bytes are canonical bytes (replace checks them)
        } else if (!this.mergeRemote(cs, key, old, state, frontier, limits, found)) {
          continue;
        }
        changed++;
      }
      const claim = this.evidenced(chunk.claim, cs, opts.collected);
      cs.next.clock.merge(claim);
      if (meta !== undefined) cs.setMeta(meta.name, meta.value);
      this.keepHeads(cs, named);
      this.saveHeads(cs);
      return { changed, claimCut: claim !== chunk.claim };
    }, undefined, undefined, 'replicated');
    if (found.length > 0) {
      this.onEquivocation?.(found);
      await this.reassert(found);
    }
    return result;
  }

  /**
   * A peer held another version of a write this replica made: the other nodes may have taken that
   * version (merge keeps the same one of two everywhere, and only this node knows which is real),
   * so this replica writes its own again, superseding the dot. Once per forged dot: the new write
   * supersedes it here, so the other version is no longer met.
   */
  private async reassert(found: readonly Equivocation[]): Promise<void> {
    const now = this.now();
    const ops: WriteOp[] = [];
    for (const { key, own } of found) {
      for (const x of own) {
        const again = reassertion(x, now);
        const context = encodeToken([[x.r, x.c]]);
        const k = keyText(key);
        if (again.value === null) ops.push({ type: 'del', key: k, context });
        else ops.push({ type: 'put', key: k, value: Buffer.from(again.value), context, ...(again.exp === undefined ? {} : { expireAt: again.exp }) });
      }
    }
    if (ops.length > 0) await this.write(ops);
  }

  /**
   * Merges a remote state into the key's (`old`, undefined when absent) in the change set, less
   * what this store collected (core/gc.ts, dropCollected). False when nothing changes.
   */
  private mergeRemote(cs: ChangeSet, key: Uint8Array, old: Stored | undefined, state: Uint8Array, frontier: Clock, limits: RemoteLimits, found: Equivocation[]): boolean {
    const local = old === undefined ? undefined : cs.decode(old);
    let sent = decodeKeyState(state, this.maxValueBytes);
    const dots = local === undefined ? [] : equivocations(local.sibs, sent.sibs);
    if (dots.length > 0) {
      const own = dots.some((d) => d.r === this.replicaId);
      if (own) sent = keepOwn(sent, local!.sibs, this.replicaId);
      found.push({ key: Buffer.from(key), dots, own: own ? local!.sibs.filter((x) => x.r === this.replicaId && dots.some((d) => d.c === x.c && d.r === x.r)) : [] });
    }
    const remote = frontier.isEmpty() ? sent : dropCollected(sent, local, frontier);
    if (local === undefined) {
      if (remote.sibs.length === 0) return false; // only writes collected here: nothing comes back
      cs.replace(key, undefined, remote === sent ? state : encodeKeyState(remote), limits);
      return true;
    }
    if (remote === sent) {
      const merged = mergeEntry(local, old!.bytes, remote);
      if (merged === null) return false;
      cs.replace(key, old, merged, limits);
      return true;
    }
    const merged = merge(local, remote);
    if (merged.sibs.length === 0) {
      cs.remove(key, old!); // what is left here is superseded by writes that were collected
      return true;
    }
    const bytes = encodeKeyState(merged);
    if (Buffer.compare(bytes, old!.bytes) === 0) return false;
    cs.replace(key, old, bytes, limits);
    return true;
  }

  /**
   * Verifies heads from a peer or a file, synchronously, each newer than the newest held of its
   * replica (a forged one throws DecodeError). They vouch for counters from now on (bound), and are
   * kept, and stored with the transaction, once this store holds dots of their replica (keepHeads).
   */
  learnHeads(heads: readonly Head[]): void {
    for (const h of heads) if (h.r !== this.replicaId && h.c > this.heldUpTo(h.r)) this.vouch(h);
  }

  /**
   * The heads of `chunk` to verify before it is applied (core/head-need.ts): those of replicas its
   * states name past the newest head held. What they cost is what a peer's frame may be charged.
   */
  headsToCheck(chunk: DeltaChunk): Head[] {
    const heads = chunk.heads;
    if (heads === undefined || heads.length === 0) return [];
    let fresh = false;
    for (const h of heads) if (h.r !== this.replicaId && h.c > this.heldUpTo(h.r)) fresh = true;
    if (!fresh) return [];
    return headsToCheck(heads, this.named(chunk), (r) => this.heldUpTo(r), this.replicaId);
  }

  /**
   * Verifies `heads` (headsToCheck's) a batch at a time, giving the event loop a turn between
   * batches: thousands of heads in a snapshot must not stall the control socket for seconds.
   * `pace` runs before each batch (it may wait, or throw to refuse) and is told each batch's CPU time.
   */
  async checkHeads(heads: readonly Head[], pace?: { before(): Promise<void> | void; spent(ms: number): void }): Promise<void> {
    for (let i = 0; i < heads.length; i += CHECK_BATCH) {
      if (i > 0) await new Promise((ok) => setImmediate(ok));
      await pace?.before();
      const t0 = performance.now();
      try {
        for (const h of heads.slice(i, i + CHECK_BATCH)) if (h.c > this.heldUpTo(h.r)) this.vouch(h);
      } finally {
        pace?.spent(performance.now() - t0);
      }
    }
  }

  /** Verifies one head (DecodeError if forged) and holds it among the vouched ones. */
  private vouch(h: Head): void {
    if (!headIsValid(h)) throw new DecodeError(`a forged head for replica ${h.r} (counter ${h.c}): the key does not name the replica or the signature is wrong`);
    this.hold(h);
  }

  /** Holds a verified head among the vouched ones, the oldest going past MAX_VOUCHED_HEADS. */
  private hold(h: Head): void {
    this.vouched.delete(h.r); // re-inserted last: the oldest go first
    this.vouched.set(h.r, h);
    if (this.vouched.size > MAX_VOUCHED_HEADS) this.vouched.delete(this.vouched.keys().next().value!);
  }

  /** The highest counter a verified head of r vouches for here (kept or vouched); 0 if none. */
  private heldUpTo(r: ReplicaId): number {
    return Math.max(this.heads.get(r)?.c ?? 0, this.vouched.get(r)?.c ?? 0);
  }

  /** The replicas `chunk`'s states name, each at its highest counter (computed once per chunk). */
  private named(chunk: DeltaChunk): Map<ReplicaId, number> {
    let m = this.namedIn.get(chunk);
    if (m === undefined) this.namedIn.set(chunk, (m = namedCounters(chunk.entries)));
    return m;
  }

  /**
   * Before a chunk is applied: the heads it still needs are verified now (a caller that did not
   * check them first, as a test or a backup file). The replicas whose heads keepHeads may keep.
   */
  private vouchNow(chunk: DeltaChunk, claimToo: boolean): ReplicaId[] {
    const heads = chunk.heads ?? [];
    for (const h of this.headsToCheck(chunk)) this.vouch(h);
    if (claimToo) for (const h of this.claimHeadsToCheck(chunk.claim, heads)) this.vouch(h);
    // a vouched head can only be of a replica the chunk has a head of: no pass over its states
    return heads.map((h) => h.r);
  }

  /**
   * A backup file's chunk (the operator's own): every head in it is taken, as a restore needs them to
   * pass on what it restored, and kept once the restored clock or states hold dots of its replica
   * (the manifest's clock comes last, with no heads: the ones held so far are the candidates).
   */
  private vouchFile(chunk: DeltaChunk): ReplicaId[] {
    this.learnHeads(chunk.heads ?? []);
    return [...this.vouched.keys()];
  }

  /**
   * For a snapshot's last claim (bootstrap, repair): the heads of its replicas past the heads held.
   * Its clock may name replicas that no state here names (writes the sender collected): checked,
   * so this node can vouch for them in turn when its own claims name them.
   */
  claimHeadsToCheck(claim: Clock, heads: readonly Head[]): Head[] {
    const named = new Map(claim.replicas().map((r) => [r, claim.max(r)] as [ReplicaId, number]));
    return headsToCheck(heads, named, (r) => this.heldUpTo(r), this.replicaId);
  }

  /**
   * After a transaction's merges: a vouched head of a replica this store now holds dots of (in its
   * clock, or named by a stored state) is kept and stored with the transaction.
   */
  private keepHeads(cs: ChangeSet, candidates: Iterable<ReplicaId>): void {
    cs.flushSeen();
    const next = cs.next;
    for (const r of candidates) {
      const h = this.vouched.get(r);
      if (h === undefined || h.c <= (this.heads.get(r)?.c ?? 0)) continue;
      if ((next.seen.get(r) ?? 0) === 0 && next.clock.max(r) === 0) continue;
      if (!this.heads.has(r)) this.headIdsUnsaved = true;
      this.heads.set(r, h);
      this.unsavedHeads.add(r);
      this.vouched.delete(r);
    }
  }

  /**
   * The heads a frame carrying `chunk` needs (core/head-need.ts): of the replicas its states and
   * claim name, each newest head (this replica's own signed now if its counter moved) above what
   * the receiver's clock `peer` holds of it; each one when `peer` is null (a push).
   */
  headsFor(chunk: DeltaChunk, peer: Clock | null): Head[] {
    const named = namedCounters(chunk.entries);
    return headsToSend(named, chunk.claim, (r) => this.headOf(r), (r) => (peer === null ? 0 : peer.max(r)));
  }

  /**
   * `chunk` as frames, with the heads a receiver whose clock is `peer` (null: unknown) needs to
   * believe it, at most MAX_FRAME_HEADS a frame (core/head-need.ts, splitByHeads).
   */
  private framed(chunk: DeltaChunk, peer: Clock | null): DeltaChunk[] {
    return splitByHeads(chunk, this.headsFor(chunk, peer), MAX_FRAME_HEADS);
  }

  /** How many other replicas' heads this store keeps. */
  keptHeads(): number {
    return this.heads.size;
  }

  /** Every head this node keeps, its own included: what a snapshot or a backup passes on. */
  allHeads(): Head[] {
    const own = this.signedHead();
    return own === undefined ? [...this.heads.values()] : [own, ...this.heads.values()];
  }

  /** The newest verified head of a replica, or undefined (this replica's own: signed now). */
  headOf(r: ReplicaId): Head | undefined {
    return r === this.replicaId ? this.signedHead() : this.heads.get(r);
  }

  private signedHead(): Head | undefined {
    const c = this.work.clock.base(this.replicaId);
    if (c === 0) return undefined;
    if (this.ownHead?.c !== c || this.ownHead.r !== this.replicaId) this.ownHead = signHead(this.key, c);
    return this.ownHead;
  }

  /**
   * The highest counter of replica r a peer may name: this replica's own counter for itself; for
   * another, its newest verified head, or what this store has seen of it (a replica from before heads).
   */
  private bound(r: ReplicaId): number {
    if (r === this.replicaId) return this.work.clock.base(r);
    return Math.max(this.heldUpTo(r), this.work.seen.get(r) ?? 0);
  }

  private remoteLimits(trusted: boolean): RemoteLimits {
    return {
      maxSiblings: this.maxSiblings,
      maxHlc: nextHlc(0, this.now() + this.maxClockSkewMs) + HLC_LOGICAL_BITS - 1,
      bound: trusted ? () => MAX_COUNTER : (r) => this.bound(r),
    };
  }

  /**
   * The part of a claim this store has evidence for (delta.ts, evidencedClaim), after the change
   * set's states, and the part under the sender's GC frontier (`collected`, from a snapshot): a
   * replica's newest writes may be deletes the sender collected, which no state names any more.
   * Cut to the states alone, the claim would leave this node lacking those dots, behind the
   * sender's horizon for good: no peer sends it deltas, and every catch-up cuts the claim again.
   */
  private evidenced(claim: Clock, cs: ChangeSet, collected?: Clock): Clock {
    cs.flushSeen();
    const next = cs.next;
    const shown = evidencedClaim(claim, (r) => Math.max(next.seen.get(r) ?? 0, next.clock.max(r)));
    if (shown === claim || collected === undefined || collected.isEmpty()) return shown;
    const believed = shown.clone().merge(claim.intersect(collected));
    return believed.coversClock(claim) ? claim : believed;
  }

  /** A context token from a client may not name writes this node has never seen. */
  private checkToken(ctx: VersionVector): VersionVector {
    for (const [r, c] of ctx) {
      if (c > this.bound(r)) throw new InvalidTokenError(`the context names counter ${c} of replica ${r}, which this node has not seen`);
    }
    return ctx;
  }

  private loadHeads(): void {
    const ids = this.backend.getMeta(META_HEADS);
    if (ids === undefined) return;
    if (ids.length % 16 !== 0) throw new StoreError('damaged store: the heads record is not a list of replica ids');
    for (let i = 0; i < ids.length; i += 16) {
      const r = Buffer.from(ids.subarray(i, i + 16)).toString('hex');
      // A head kept before heads needed evidence (minted replicas with nothing here): let go.
      if ((this.work.seen.get(r) ?? 0) === 0 && this.work.clock.max(r) === 0) {
        this.headIdsUnsaved = true;
        continue;
      }
      const raw = this.backend.getMeta(headRecord(r));
      if (raw === undefined) continue;
      const [h] = decodeHeads(raw, 1);
      if (h === undefined || h.r !== r) throw new StoreError(`damaged store: the head record of replica ${r}`);
      this.heads.set(r, h);
    }
  }

  /** Stores the heads learned since the last transaction, in this one. */
  private saveHeads(cs: ChangeSet): void {
    for (const r of this.unsavedHeads) cs.setMeta(headRecord(r), encodeHeads([this.heads.get(r)!]));
    this.unsavedHeads.clear();
    if (!this.headIdsUnsaved) return;
    cs.setMeta(META_HEADS, Buffer.concat([...this.heads.keys()].map((r) => Buffer.from(r, 'hex'))));
    this.headIdsUnsaved = false;
  }

  /**
   * Repair from a healthy peer (core/repair.ts): the states of every key in (after, upTo] become
   * what the peer's snapshot (clock `peerClock`) holds, keeping the writes only this replica holds.
   * `remote` is the peer's entries in that range; `upTo` undefined means to the end. One
   * transaction. Unreadable local states are replaced, not refused.
   */
  async repairRange(
    remote: readonly DeltaEntry[],
    after: Uint8Array | undefined,
    upTo: Uint8Array | undefined,
    peerClock: Clock,
    opts: { collected?: Clock; absentIsCollected?: boolean } = {},
  ): Promise<{ replaced: number; removed: number }> {
    // The writes the peer collected: under its GC frontier, or (absentIsCollected) anything its clock knows.
    const collected = opts.collected ?? (opts.absentIsCollected === true ? peerClock : undefined);
    this.assertOpen();
    // Keys by their bytes as a latin1 string: the union of the peer's keys and this node's.
    const theirs = new Map<string, DeltaEntry>();
    for (const e of remote) {
      checkDeltaKey(e.key);
      theirs.set(Buffer.from(e.key).toString('latin1'), e);
    }
    const keys = new Map<string, Uint8Array>();
    const snap = this.backend.openSnapshot();
    try {
      for (const { key } of snap.states(after, after !== undefined)) {
        if (upTo !== undefined && Buffer.compare(key, upTo) > 0) break;
        keys.set(Buffer.from(key).toString('latin1'), Buffer.from(key));
      }
    } finally {
      snap.close();
    }
    for (const [id, e] of theirs) keys.set(id, e.key);
    return this.repairKeys(keys, theirs, peerClock, collected);
  }

  /**
   * Repair of chosen keys, as repairRange repairs a range: `remote` is the peer's states of some of
   * them, `local` the keys of this node to check besides (a range reconciliation found they differ,
   * sync/reconciler.ts). Absent from `remote` means the peer holds no state for the key.
   */
  async repairSome(remote: readonly DeltaEntry[], local: readonly Uint8Array[], peerClock: Clock, collected?: Clock): Promise<{ replaced: number; removed: number }> {
    this.assertOpen();
    const theirs = new Map<string, DeltaEntry>();
    const keys = new Map<string, Uint8Array>();
    for (const key of local) keys.set(Buffer.from(key).toString('latin1'), key);
    for (const e of remote) {
      checkDeltaKey(e.key);
      const id = Buffer.from(e.key).toString('latin1');
      theirs.set(id, e);
      keys.set(id, e.key);
    }
    return this.repairKeys(keys, theirs, peerClock, collected);
  }

  private repairKeys(keys: Map<string, Uint8Array>, theirs: Map<string, DeltaEntry>, peerClock: Clock, collected: Clock | undefined): Promise<{ replaced: number; removed: number }> {
    const limits = this.remoteLimits(false);
    return this.transact((cs) => {
      let replaced = 0;
      let removed = 0;
      for (const [id, key] of keys) {
        const old = cs.loadDamaged(key);
        const theirState = theirs.get(id);
        const local = old && this.readable(old.bytes);
        let remoteState = theirState && decodeKeyState(theirState.state, this.maxValueBytes);
        if (remoteState !== undefined && !cs.next.frontier.isEmpty()) {
          remoteState = dropCollected(remoteState, local, cs.next.frontier);
          if (remoteState.sibs.length === 0) remoteState = undefined;
        }
        // A key the peer lacks: its writes under the peer's GC frontier were collected there (a
        // delete every member had seen) and go here too; the rest is kept, as absence proves nothing.
        const out =
          remoteState === undefined && local !== undefined && collected !== undefined
            ? keepUnknown(local, collected)
            : repairKey(local, remoteState, peerClock);
        if (out === undefined) {
          if (old === undefined) continue;
          cs.remove(key, old);
          removed++;
          continue;
        }
        const bytes = encodeKeyState(out);
        if (old !== undefined && Buffer.compare(old.bytes, bytes) === 0) continue;
        cs.replace(key, old, bytes, limits);
        replaced++;
      }
      this.keepHeads(cs, [...this.vouched.keys()]);
      this.saveHeads(cs);
      return { replaced, removed };
    }, undefined, undefined, 'replicated');
  }

  /**
   * Ends a repair: the node clock takes in the peer's snapshot clock, and digest and count are
   * recounted from every state, so damage to the stored totals is mended too.
   */
  async finishRepair(peerClock: Clock, peerFrontier?: Clock, heads: readonly Head[] = []): Promise<void> {
    checkClaim(peerClock, this.remoteLimits(false), "the repair source's clock", heads);
    this.assertOpen();
    const snap = this.backend.openSnapshot();
    let before: StoreState;
    let recount: Recount;
    try {
      before = readState(snap);
      recount = this.recount(snap, before.digestAt);
    } finally {
      snap.close();
    }
    await this.transact((cs) => {
      cs.next.clock.merge(this.evidenced(peerClock, cs, peerFrontier));
      if (peerFrontier !== undefined) adoptFrontier(cs, peerFrontier);
      this.keepHeads(cs, [...this.vouched.keys()]);
      this.saveHeads(cs);
      // Writes committed since the snapshot changed digest and count incrementally; the recount
      // takes their place as the base (an XOR digest carries the difference over exactly; both
      // are at the snapshot's cutoff, and what differs between them is damage, not expiry).
      cs.next.digest.xorDigest(before.digest);
      cs.next.digest.xorDigest(recount.digest);
      cs.next.count += recount.keys - before.count;
    });
  }

  /** The resolved value, or undefined when the key is absent or deleted. */
  get(key: string): Uint8Array | undefined {
    this.assertOpen();
    const bytes = this.backend.getState(keyToBytes(key));
    return bytes === undefined ? undefined : (resolveEncoded(bytes, this.maxValueBytes, this.now()) ?? undefined);
  }

  /** Everything about a key: resolved value, all siblings, and the context token. */
  read(key: string): ReadResult | undefined {
    const s = this.loadKey(keyToBytes(key));
    return s === undefined ? undefined : readView(s, this.now());
  }

  /** The context token for a key (the empty context when the key was never written). */
  contextOf(key: string): string {
    return encodeToken(this.loadKey(keyToBytes(key))?.ctx ?? []);
  }

  /** Keys with the prefix, in key (UTF-8 byte) order, skipping deleted ones. */
  scan(opts: { prefix?: string; after?: string; limit?: number } = {}): ScanResult {
    this.assertOpen();
    const prefix = opts.prefix === undefined || opts.prefix === '' ? Buffer.alloc(0) : Buffer.from(opts.prefix, 'utf8');
    const limit = opts.limit ?? 1000;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('scan limit must be a positive integer');
    const after = opts.after === undefined ? undefined : keyToBytes(opts.after);
    const start = after !== undefined && Buffer.compare(after, prefix) > 0 ? after : prefix;
    const snap = this.backend.openSnapshot();
    try {
      const items: ScanResult['items'] = [];
      // The visitor sees views of the backend's read buffer: only the resolved values are copied,
      // into one shared arena, and no key state is decoded beyond what resolving it needs.
      const values = new Writer(1 << 16);
      let cursor: string | null = null;
      const now = this.now();
      snap.visitStates(start.length ? start : undefined, start === after, (key, state) => {
        if (!startsWith(key, prefix)) return false;
        const value = resolveEncoded(state, this.maxValueBytes, now);
        if (value === null) return true;
        values.bytes(value);
        items.push({ key: keyText(key), value: values.take() });
        if (items.length < limit) return true;
        cursor = items[limit - 1]!.key;
        return false;
      });
      return { items, cursor };
    } finally {
      snap.close();
    }
  }

  /** Writes a record of the node's own beside the keyspace (e.g. the forgotten peers), durably. */
  async putMeta(name: string, value: Uint8Array): Promise<void> {
    this.assertOpen();
    await this.transact((cs) => cs.setMeta(name, value));
  }

  /** A meta record (other modules' small persistent state, such as bootstrap progress). */
  getMeta(name: string): Uint8Array | undefined {
    this.assertOpen();
    return this.backend.getMeta(name);
  }

  /** Live key count. */
  count(): number {
    return this.summary().keys;
  }

  /**
   * Clock, digest and count as committed (consistent with each other). The digest is taken at the
   * stored cutoff (state-hash.ts: it covers every value that lasts or expires after it), or, given
   * `at`, at the later of the two (reading the keys whose values expire in between).
   */
  summary(at?: number): Summary {
    if (at === undefined) {
      this.assertOpen();
      const s = this.loadState();
      return { replicaId: this.replicaId, clock: s.clock, digest: s.digest.hex(), digestAt: s.digestAt, keys: s.count, frontier: s.frontier };
    }
    const { snap, summary } = this.openSummarized(at);
    snap.close();
    return { replicaId: this.replicaId, ...summary };
  }

  /**
   * The summary at exactly cutoff `at`, to compare with a peer's digest taken there; null when
   * this node cannot say: it moved its cutoff past `at` (and may have collected values expiring
   * before it), or `at` lies further ahead than SUMMARY_AHEAD_MS (or the allowed clock skew, if
   * smaller): a peer's word may not make this node read, at every DIGEST, every key expiring in the
   * next ten minutes. Honest clocks (NTP) are far closer; the peer compares the other way.
   */
  summaryAt(at: number): Summary | null {
    if (at > this.now() + Math.min(this.maxClockSkewMs, SUMMARY_AHEAD_MS)) return null;
    const s = this.summary(at);
    return s.digestAt === at ? s : null;
  }

  /**
   * After taking in a peer's whole snapshot (bootstrap): the peer collected the writes under its
   * frontier, so the snapshot lacks them, and they must not come back here either.
   */
  async adoptFrontier(peerFrontier: Clock): Promise<void> {
    this.assertOpen();
    if (peerFrontier.isEmpty()) return;
    await this.transact((cs) => adoptFrontier(cs, peerFrontier));
  }

  /**
   * Keys whose values all expire (not in the live count), when kept (countExpiring); else null. A
   * key whose values have expired is counted until garbage collection removes them.
   */
  expiringKeys(): number | null {
    return this.expiring;
  }

  /** Keys holding concurrent siblings and siblings held, when kept (countSiblings); else null. */
  siblingStats(): SiblingStats | null {
    return this.sibs === null ? null : { ...this.sibs };
  }

  /** What garbage collection is working with: tombstones held, the GC frontier, bytes in use. */
  gcStats(): { tombstones: number; frontier: Clock; storeBytes: number } {
    this.assertOpen();
    const s = this.loadState();
    return { tombstones: s.tombstones, frontier: s.frontier, storeBytes: this.backend.bytesInUse() };
  }

  /**
   * One step of garbage collection (core/gc.ts): up to `maxKeys` keys holding a tombstone or an
   * expired value whose dot `stable` covers lose those siblings (the key goes when none is left),
   * in one transaction; the GC frontier takes in `stable` when anything went. `more` says whether
   * another step may find more; `busyMs` how long the step held the event loop (finding the keys,
   * and the transaction's work). The caller yields between steps, so reads and writes go on.
   */
  async collectGarbage(stable: Clock, maxKeys = 1000): Promise<{ keys: number; siblings: number; more: boolean; busyMs: number }> {
    this.assertOpen();
    const now = this.now();
    const t0 = performance.now();
    // A key with two stable garbage siblings is found twice; the second visit finds nothing to do.
    const found: Uint8Array[] = [];
    const snap = this.backend.openSnapshot();
    // Only keys collectKey changes: one whose context is not stable yet waits, and must not take
    // the place of the keys behind it in the index, step after step.
    const consider = (key: Uint8Array): void => {
      const bytes = snap.getState(key);
      const state = bytes === undefined ? undefined : this.readable(bytes);
      if (state !== undefined && collectKey(state, stable, now) !== undefined) found.push(key);
    };
    try {
      for (const r of stable.replicas()) {
        const rb = replicaToBytes(r);
        for (const { k, key } of snap.gcRange(gcTombKey(rb, 1), gcTombKey(rb, stable.max(r) + 1))) {
          if (found.length >= maxKeys) break;
          if (stable.covers(r, dotKeyCounter(k, 1))) consider(key);
        }
      }
      const zero = new Uint8Array(16);
      for (const { k, key } of snap.gcRange(gcExpiryKey(1, zero, 0), gcExpiryKey(now + 1, zero, 0))) {
        if (found.length >= maxKeys) break;
        const g = parseGcKey(k);
        if (stable.covers(g.r, g.c)) consider(key);
      }
    } finally {
      snap.close();
    }
    found.sort(compareBytes); // in key order the change set finds staged keys without a map
    const busy = { ms: performance.now() - t0 };
    if (found.length === 0) return { keys: 0, siblings: 0, more: false, busyMs: busy.ms };
    const done = await this.transact((cs) => {
      // Values expiring up to now leave the digest first, so collecting them does not change it:
      // a node that collects later digests the same at every cutoff from now on.
      cs.moveCutoff(now);
      let keys = 0;
      let siblings = 0;
      for (const key of found) {
        const old = cs.load(key);
        if (old === undefined) continue;
        const state = cs.decode(old);
        const next = collectKey(state, stable, now);
        if (next === undefined) continue;
        siblings += state.sibs.length - (next?.sibs.length ?? 0);
        if (next === null) {
          cs.remove(key, old);
          keys++;
        } else {
          cs.replace(key, old, encodeKeyState(next));
        }
      }
      if (siblings > 0) cs.next.frontier = cs.next.frontier.clone().merge(stable);
      return { keys, siblings, more: found.length >= maxKeys };
    }, false, busy); // not waited onto the disk: a collection lost in a crash is simply made again
    return { ...done, busyMs: busy.ms };
  }

  /**
   * Moves the digest's cutoff to `now` when values expired since the last move (garbage
   * collection calls it every round, also when it may collect nothing): a peer's DIGEST is then
   * compared by reading only the keys expiring since, not every expired value still held.
   */
  async advanceDigestCutoff(now = this.now()): Promise<void> {
    this.assertOpen();
    const from = this.work.digestAt;
    if (now <= from) return;
    const snap = this.backend.openSnapshot();
    let any: boolean;
    try {
      any = !expiringBetween(snap, from, now)[Symbol.iterator]().next().done;
    } finally {
      snap.close();
    }
    if (any) await this.transact((cs) => cs.moveCutoff(now), false);
  }

  /**
   * Sets or removes (`expireAt` null) the expiry of a key's value: a new write of the value a read
   * finds now, superseding every sibling. Null when the key reads as absent, or (to remove) when
   * the value has no expiry: nothing is written then.
   */
  async expire(key: string, expireAt: number | null): Promise<WriteResult | null> {
    this.assertOpen();
    const state = this.loadKey(keyToBytes(key));
    const now = this.now();
    const best = state === undefined ? undefined : resolve(state, now);
    if (best === undefined || best.value === null) return null;
    if (expireAt === null && best.exp === undefined) return null;
    const op: WriteOp = { type: 'put', key, value: Buffer.from(best.value), context: encodeToken(state!.ctx) };
    const [r] = await this.write([expireAt === null ? op : { ...op, expireAt }]);
    return r!;
  }

  /**
   * When the key stops reading as present (ms since the epoch): the latest expiry of its unexpired
   * values (concurrent ones keep it readable until the last goes); null when one of them lasts;
   * undefined when it reads as absent now.
   */
  expiryOf(key: string): number | null | undefined {
    const state = this.loadKey(keyToBytes(key));
    const now = this.now();
    if (state === undefined || resolve(state, now) === undefined) return undefined;
    let last = 0;
    for (const s of state.sibs) {
      if (s.value === null || (s.exp !== undefined && s.exp <= now)) continue;
      if (s.exp === undefined) return null;
      last = Math.max(last, s.exp);
    }
    return last;
  }

  /** The delta a peer with node clock `peer` lacks, chunked; reads one snapshot while iterated. */
  *delta(peer: Clock, limits: DeltaLimits = DEFAULT_DELTA_LIMITS): Generator<DeltaChunk> {
    this.assertOpen();
    const snap = this.backend.openSnapshot();
    try {
      const { clock } = decodeStoreState(snap.getMeta(META_STATE)!);
      for (const chunk of selectDelta(deltaSource(snap, clock), peer, limits)) yield* this.framed(chunk, peer);
    } finally {
      snap.close();
    }
  }

  /**
   * What a backup covering `since` lacks, from one snapshot (close it when done). The full case
   * walks the states in key order, which is faster than the per-replica dot walk; its chunks
   * claim nothing, so the reader adds the snapshot's clock once it has everything. Its digest
   * leaves out every expiring value (LASTING_ONLY): a manifest records a digest that does not
   * depend on when the backup is checked (backup/replay.ts).
   */
  changes(since: Clock, limits: DeltaLimits = DEFAULT_DELTA_LIMITS): KeyspaceChanges {
    const { snap, summary } = this.openSummarized(LASTING_ONLY);
    return {
      ...summary,
      // every head goes with the chunks: a restore needs them to pass on what it restored
      chunks: withHeads(since.isEmpty() ? chunkEntries(snap.states(), limits) : selectDelta(deltaSource(snap, summary.clock), since, limits), this.allHeads()),
      close: () => snap.close(),
    };
  }

  /**
   * The current states of `keys` for a push. A chunk's claim is exactly its states' live dots: a
   * pushed batch may claim only what it carries, never the node's whole clock. Cut into chunks a
   * peer accepts (the limits of a sync
   * exchange's DELTAs: a write of 200,000 keys at once must not become one frame past the
   * receiver's entry limit), each with its claim and the heads of every replica its states name,
   * so the receiver can believe each counter. Read lazily: a chunk holds the states as they are
   * when it is taken.
   */
  *pushChunks(keys: Iterable<string>, limits: DeltaLimits = DEFAULT_DELTA_LIMITS): Generator<DeltaChunk> {
    this.assertOpen();
    let entries: DeltaEntry[] = [];
    let claim = Clock.empty();
    let bytes = 0;
    const chunk = (): DeltaChunk[] => this.framed({ entries, claim }, null);
    for (const key of keys) {
      const kb = keyToBytes(key);
      const state = this.backend.getState(kb);
      if (state === undefined) continue;
      entries.push({ key: kb, state });
      for (const s of decodeKeyState(state).sibs) claim.add(s.r, s.c);
      bytes += kb.length + state.length;
      if (entries.length >= limits.maxEntries || bytes >= limits.maxBytes) {
        yield* chunk();
        entries = [];
        claim = Clock.empty();
        bytes = 0;
      }
    }
    if (entries.length > 0) yield* chunk();
  }

  /** All of `keys` in one push chunk, however many (tests and single keys; the replicator uses pushChunks). */
  pushChunk(keys: Iterable<string>): DeltaChunk {
    const [only] = [...this.pushChunks(keys, { maxEntries: Infinity, maxBytes: Infinity })];
    return only ?? { entries: [], claim: Clock.empty(), heads: [] };
  }

  /**
   * For a range reconciliation (sync/reconciler.ts): a read snapshot, its clock, frontier and key
   * count, and the range index moved to digest cutoff `at`. The index is built on first use, at a
   * moment when no commit is in flight (its states then match the working digest); null when
   * writes kept landing.
   */
  async rangeView(at: number): Promise<{ snap: Snapshot; index: RangeIndex; summary: Pick<Summary, 'clock' | 'frontier' | 'keys'> } | null> {
    if (this.ranges === null) await (this.rangesBuilt ??= this.buildRanges().finally(() => (this.rangesBuilt = null)));
    this.assertOpen();
    if (this.ranges === null) return null;
    const snap = this.backend.openSnapshot();
    try {
      const s = readState(snap);
      const index = this.ranges.shifted(snap, this.work.digestAt, at);
      return { snap, index, summary: { clock: s.clock, frontier: s.frontier, keys: s.count } };
    } catch (err) {
      snap.close();
      throw err;
    }
  }

  /**
   * Builds the range index from a snapshot taken when no commit is in flight (its states then
   * match the working digest), a batch a turn; commits made meanwhile are folded in at the end.
   */
  private async buildRanges(): Promise<void> {
    for (let i = 0; i < 20 && this.ranges === null; i++) {
      this.assertOpen();
      await this.backend.write(() => undefined, false); // what is in flight commits first
      const snap = this.backend.openSnapshot();
      let index: RangeIndex;
      const pending: RangeDelta[] = [];
      try {
        const s = readState(snap);
        if (s.digestAt !== this.work.digestAt || s.digest.hex() !== this.work.digest.hex()) continue;
        this.rangesPending = pending;
        index = await RangeIndex.buildInTurns(snap, s.digestAt);
      } catch (err) {
        if (this.rangesPending === pending) this.rangesPending = null;
        throw err;
      } finally {
        snap.close();
      }
      if (this.rangesPending !== pending) continue; // a commit failed meanwhile: start again
      for (const d of pending) d.applyTo(index);
      this.ranges = index;
      this.rangesPending = null;
    }
  }

  /** A consistent snapshot of everything; close it when done. */
  snapshot(): KeyspaceSnapshot {
    const { snap, summary } = this.openSummarized(this.now());
    return {
      ...summary,
      heads: this.allHeads(),
      *entries(after?: Uint8Array) {
        for (const { key, state } of snap.states(after, after !== undefined)) yield { key, state };
      },
      close: () => snap.close(),
    };
  }

  /**
   * Recomputes digest and count from every key state, as of one snapshot: a full check of the
   * incremental ones (`stored`). `unreadable` counts states that do not decode (damage).
   */
  recompute(): { digest: string; keys: number; unreadable: number; stored: { digest: string; keys: number } } {
    this.assertOpen();
    const snap = this.backend.openSnapshot();
    try {
      const stored = readState(snap);
      const r = this.recount(snap, stored.digestAt);
      return { digest: r.digest.hex(), keys: r.keys, unreadable: r.unreadable, stored: { digest: stored.digest.hex(), keys: stored.count } };
    } finally {
      snap.close();
    }
  }

  private recount(snap: ReadView, at: number): Recount {
    const digest = new Digest();
    let keys = 0;
    let unreadable = 0;
    for (const { key, state } of snap.states()) {
      xorState(digest, key, state, at);
      try {
        if (inspectKeyState(state, this.maxValueBytes).live) keys++;
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        unreadable++;
      }
    }
    return { digest, keys, unreadable };
  }

  /** A stored state decoded, or undefined when it is damaged beyond reading. */
  private readable(bytes: Uint8Array): KeyState | undefined {
    try {
      return decodeKeyState(bytes, this.maxValueBytes);
    } catch (err) {
      if (err instanceof DecodeError) return undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.backend.close();
  }

  /** A read snapshot and the summary recorded in it, the digest moved to cutoff `at` when that is later than the stored one. */
  private openSummarized(at: number): { snap: Snapshot; summary: Omit<Summary, 'replicaId'> } {
    this.assertOpen();
    const snap = this.backend.openSnapshot();
    try {
      const s = readState(snap);
      const cut = Math.max(at, s.digestAt);
      if (cut !== s.digestAt) shiftDigest(snap, s.digest, s.digestAt, cut);
      return { snap, summary: { clock: s.clock, digest: s.digest.hex(), digestAt: cut, keys: s.count, frontier: s.frontier } };
    } catch (err) {
      snap.close();
      throw err;
    }
  }

  private loadKey(key: Uint8Array): KeyState | undefined {
    this.assertOpen();
    const bytes = this.backend.getState(key);
    return bytes === undefined ? undefined : decodeKeyState(bytes, this.maxValueBytes);
  }

  private loadState(): StoreState {
    return readState(this.backend);
  }

  /**
   * Runs one transaction: compute a change set against the working state, then put it all.
   * `origin`: the kind of change the feed is told of once committed (null: nothing to report).
   */
  private async transact<T>(compute: (cs: ChangeSet) => T, durable = this.durability === 'strict', timed?: { ms: number }, origin: ChangeOrigin | null = null): Promise<T> {
    const listener = origin === null ? undefined : this.onChange;
    let batch: ChangeBatch | undefined;
    let result: T;
    const asked = this.onCommit === undefined ? 0 : performance.now();
    try {
      result = await this.backend.write((w) => {
        const t0 = timed === undefined ? 0 : performance.now();
        const ranges = this.ranges === null && this.rangesPending === null ? undefined : new RangeDelta();
        const cs = new ChangeSet(w, this.work, this.maxValueBytes, ranges);
        const result = compute(cs);
        cs.apply();
        this.work = cs.next;
        if (ranges !== undefined) {
          if (this.ranges !== null) ranges.applyTo(this.ranges);
          else this.rangesPending!.push(ranges);
        }
        if (listener !== undefined) batch = cs.changed(origin!);
        if (this.sibs !== null) {
          this.sibs.keys += cs.siblings.keys;
          this.sibs.siblings += cs.siblings.siblings;
        }
        if (this.expiring !== null) this.expiring += cs.expiring;
        if (timed !== undefined) timed.ms += performance.now() - t0;
        return result;
      }, durable);
      this.onCommit?.((performance.now() - asked) / 1000);
    } catch (err) {
      if (err instanceof DecodeError || err instanceof StoreError) throw err;
      // The commit itself failed (disk full, I/O error): go back to what is on disk.
      this.work = this.loadState();
      this.ranges = this.rangesPending = null; // built again when next needed
      this.sibs = null; // the change set was counted; what is on disk is unknown without a new pass
      if (this.expiring !== null) {
        try {
          this.expiring = this.recountExpiring(); // cheap enough to redo: it reads the expiring keys only
        } catch {
          this.expiring = null; // the store cannot be read either: unknown
        }
      }
      throw new StoreError(`write failed: ${(err as Error).message}`, { cause: err });
    }
    if (batch !== undefined && batch.keys.length > 0) listener!(batch); // after the commit, never before
    return result;
  }

  /** False once close() began. */
  isOpen(): boolean {
    return !this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('the keyspace is closed');
  }
}

/** What a read shows of a key state at `now`: resolved value, siblings and context token. */
export function readView(s: KeyState, now: number): ReadResult {
  return {
    value: resolve(s, now)?.value ?? null,
    // expired values are not shown (they read as absent); the context token still covers them
    siblings: s.sibs
      .filter((x) => x.exp === undefined || x.exp > now)
      .map((x) => ({ value: x.value, replica: x.r, counter: x.c, hlc: x.hlc, ...(x.exp === undefined ? {} : { expireAt: x.exp }) })),
    context: encodeToken(s.ctx),
  };
}

/** The store state record with its digest's cutoff (a record of its own: meta.ts). */
function readState(view: { getMeta(name: string): Uint8Array | undefined }): StoreState {
  const raw = view.getMeta(META_STATE);
  if (raw === undefined) throw new StoreError('damaged store: the state record is missing');
  const at = view.getMeta(META_DIGEST_AT);
  return { ...decodeStoreState(raw), digestAt: at === undefined ? LASTING_ONLY : decodeDigestAt(at) };
}

/** A clock a peer claims (a delta's claim, a repair source's clock) may not pass any replica's bound. */
function checkClaim(claim: Clock, limits: RemoteLimits, what: string, heads: readonly Head[] = []): void {
  for (const r of claim.replicas()) {
    const bound = limits.bound(r);
    const c = claim.max(r);
    // Past the bound with a head that says it reaches that far: not verified (that would cost a
    // check for dots no state here shows), and cut to the evidence like any claim (evidenced).
    if (c > bound && !heads.some((h) => h.r === r && h.c >= c)) throw new DecodeError(`${what} names counter ${c} of replica ${r}, beyond the highest it signed (${bound})`);
  }
}

/** An expiry from a client: a whole number of ms since the epoch, up to MAX_EXPIRE_AT. */
function checkExpireAt(at: number): number {
  if (!Number.isSafeInteger(at) || at < 1 || at > MAX_EXPIRE_AT) throw new RangeError(`expiry ${at} is not a time in ms between 1 and ${MAX_EXPIRE_AT}`);
  return at;
}

/** A key from a peer or a file: 1 to MAX_KEY_BYTES bytes of UTF-8, or a DecodeError. */
function checkDeltaKey(key: Uint8Array): void {
  if (key.length < 1 || key.length > MAX_KEY_BYTES) throw new DecodeError(`delta key of ${key.length} bytes`);
  checkKeyText(key, 'delta key');
}

/** The chunks of a backup, each carrying every head: a chunk restored alone, late or twice must still be believed. */
function* withHeads(chunks: Iterable<DeltaChunk>, heads: Head[]): Generator<DeltaChunk> {
  for (const chunk of chunks) yield heads.length > 0 ? { ...chunk, heads } : chunk;
}

function deltaSource(snap: Snapshot, clock: Clock): DeltaSource {
  return { clock, dotsAfter: (r, after) => snap.dotsAfter(r, after), state: (k) => snap.getState(k) };
}

/** The frontier takes in a peer's, as far as this store's clock goes (it cannot have collected more than it knows). */
function adoptFrontier(cs: ChangeSet, peerFrontier: Clock): void {
  const add = peerFrontier.intersect(cs.next.clock);
  if (!cs.next.frontier.coversClock(add)) cs.next.frontier = cs.next.frontier.clone().merge(add);
}

/** A key's local writes outside what a peer collected; undefined if none is left. */
function keepUnknown(local: KeyState, collected: Clock): KeyState | undefined {
  const sibs = local.sibs.filter((x) => !collected.covers(x.r, x.c));
  if (sibs.length === local.sibs.length) return local;
  return sibs.length === 0 ? undefined : { ctx: local.ctx, sibs };
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}
