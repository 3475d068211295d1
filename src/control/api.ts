// What the control API asks of a running node. The daemon implements it; the control server
// (server.ts) exposes it over HTTP+JSON on a Unix socket; the CLI talks to that socket.

import type { Clock, ClockJSON } from '../core/clock.js';
import type { ChangeFeed } from '../feed/change-feed.js';
import type { KeyspaceChanges, ReadResult, ScanResult, WriteOp, WriteResult } from '../store/keyspace.js';
import type { BootstrapProgress } from '../sync/bootstrap.js';
import type { GcStatus } from '../sync/collector.js';
import type { DivergenceStats } from '../sync/divergence.js';
import type { EquivocationStats } from '../sync/equivocation-report.js';
import type { HorizonGap } from '../sync/member-clocks.js';
import type { RepairReply, VerifyReport } from '../sync/integrity.js';
import type { Mode, PeerInfo, PeerState } from '../sync/peer-info.js';

export type { Mode, PeerInfo, PeerState, RepairReply, VerifyReport };
export type NodeState = 'ready' | 'bootstrapping' | 'recovering';

export interface Status {
  peerId: string;
  replicaId: string;
  /** Full multiaddrs this node listens on, each ending in /p2p/PEERID. */
  addrs: string[];
  mode: Mode;
  state: NodeState;
  /** Live key count: keys holding a value that does not expire. */
  keys: number;
  /**
   * Keys whose values all expire (not in `keys`); one whose values have expired is counted until
   * garbage collection removes them. Kept only with the Redis listener on (--resp), for INFO and
   * DBSIZE: counting it at start reads every key with a TTL. Absent otherwise, and after a commit
   * failed and the store could not be read again (until restart).
   */
  expiringKeys?: number;
  /** State digest, hex. */
  digest: string;
  clock: ClockJSON;
  peers: { peerId: string; state: PeerState; behind: number }[];
  /** Overlay topology only (--topology overlay): the active view (peers held), the passive view's size, and the tree's eager peers. */
  overlay?: { active: string[]; passive: number; eager: string[] };
  /** Sync traffic since the daemon started: frame bytes each way, and key states applied from peers. */
  transfer: { bytesReceived: number; bytesSent: number; keysReceived: number };
  /**
   * Since the daemon started: peers' frames refused for what they said (bad bytes, counters beyond
   * a replica's signed head, forged heads, limits), claims cut to what this node has evidence for,
   * forgets peers sent that no configured operator key signed (or that named this node), and peers'
   * GC frontiers covering writes this node never received (not believed: sync/catch-up.ts).
   */
  refused: { frames: number; claimsCut: number; forgets: number; frontiers: number };
  /**
   * Signed heads: kept (one per replica this node holds dots of), and since the daemon started, peers'
   * heads verified, the CPU ms that took, and frames refused because checks passed the budget.
   */
  heads?: { kept: number; checked: number; ms: number; refused: number };
  /**
   * Divergence at equal clocks (same clock as a peer, different state digest): found and healed
   * automatically (docs/threat-model.md); `peers` differ at their last equal-clock comparison.
   */
  divergence?: DivergenceStats & {
    /** Sync frame bytes received for heals (the peers' snapshots merged, and their digests asked for after) since start: what divergence cost. */
    healBytes?: number;
  };
  /**
   * Writes found held with two contents (one replica wrote one dot twice: proof it is faulty);
   * resolved the same way on every node (docs/threat-model.md).
   */
  equivocation?: EquivocationStats;
  /** Tombstones (deletes) held, not yet collected. */
  tombstones: number;
  /** Bytes the store's tables hold (LMDB pages in use; freed pages are reused, so the file may be larger). */
  storeBytes: number;
  /** Garbage collection: what went, what holds it back, and the GC horizon with peers (docs/replication.md). */
  gc: GcStatus & {
    /** Dots under this node's GC frontier (what it may have collected). */
    frontier: number;
    /** Retired replicas known (left out of the clocks sent to peers that know the same ones). */
    retiredReplicas: number;
    /** The table's hash (hex): two nodes that show the same hash hold the same table. */
    retiredHash: string;
    /** Retired-replica records peers taught without evidence (this node lacks exactly their writes 1..c): refused. */
    retiredRefused: number;
    /** Peers behind this node's horizon: sent no deltas (they must catch up by a snapshot, or re-bootstrap). */
    withheldFrom: ({ peer: string } & HorizonGap)[];
    /** Peers whose horizon this node is behind: it catches up by a full snapshot from them. */
    behind: ({ peer: string } & HorizonGap)[];
    /** A peer declared this node gone (out of touch for longer than gcGraceMs): it must re-bootstrap. */
    refusedAsGone: { peer: string; since: number } | null;
  };
  /** While state is "bootstrapping": keys and bytes received so far, rate (keys/s) and ETA. */
  bootstrap?: BootstrapProgress;
  /** Conditions an operator should know about, e.g. no peer reachable while this node holds data. */
  warnings: string[];
  /** The metrics HTTP server (--metrics), with the address it is bound to; null when off. */
  metrics?: { addr: string } | null;
  /** The Redis protocol listener (--resp), with the address it is bound to; null when off. */
  resp?: { addr: string } | null;
  /** The daemon's package version. */
  version: string;
  /** Whole seconds since the daemon started. */
  uptimeSeconds: number;
}

/** How many replicas, the writer included, must hold a write durably before it is acknowledged. */
export interface WriteConcernSpec {
  /** A count, or 'all' for this node and every peer connected at the time of the write. */
  w: number | 'all';
  timeoutMs: number;
}

export interface NodeApi {
  /** Local writes, applied atomically in order, then pushed to peers (in push and hybrid mode). */
  write(ops: WriteOp[]): Promise<WriteResult[]>;
  read(key: string): ReadResult | undefined;
  /** The resolved value alone, undefined when absent: a cheaper read (no siblings or context token) for the Redis front end. */
  get?(key: string): Uint8Array | undefined;
  /** The node's state alone (status().state without the rest of the status): cheap enough for every Redis command. */
  state?(): NodeState;
  /**
   * Sets (ms since the epoch) or removes (null) the expiry of the value a read finds now, as a new
   * write that replicates like a put; null when the key reads as absent, or (to remove) when it has
   * no expiry: nothing is written then.
   */
  expire(key: string, expireAt: number | null): Promise<WriteResult | null>;
  /** The expiry (ms since the epoch) of the value a read finds now: null when it lasts, undefined when absent. */
  expiryOf(key: string): number | null | undefined;
  scan(opts: { prefix?: string; after?: string; limit?: number }): ScanResult;
  status(): Status;
  peers(): PeerInfo[];
  /** Waits until the write concern holds for `dots`; resolves with the replica count, or rejects with WriteConcernError. */
  awaitReplicas(dots: Clock, concern: WriteConcernSpec): Promise<number>;
  /** Throws UnattainableConcernError, before anything is written, for a count no known set of replicas reaches (optional: without it nothing is checked). */
  checkConcern?(concern: WriteConcernSpec): void;
  /** Recounts the local digest and compares it with every connected peer's at an equal clock. */
  verify(): Promise<VerifyReport>;
  /** Mends this node from a healthy peer (the given one, or any connected one), keeping its own writes. */
  repair(peer?: string): Promise<RepairReply>;
  /** One consistent snapshot's summary and the key states holding a dot `since` lacks (for backups). */
  changes(since: Clock): KeyspaceChanges;
  /**
   * Drops a peer at once and for good on this node. With an operator's signed forget (`signed`),
   * the others are told at the next exchanges; without, it stays on this node.
   */
  forget(peer: string, force?: boolean, signed?: SignedForget): Promise<ForgetReply>;
  /** The change feed GET /v1/watch serves (optional: without it the route answers 404). */
  feed?: ChangeFeed;
}

export interface ForgetReply {
  peer: string;
  /** False when the peer was forgotten already. */
  forgotten: boolean;
  /** Whether the peer was in this node's peer table (a typo forgets a PeerId nobody has). */
  known: boolean;
  /** Signed by an operator key: the other nodes are told. False: it stays on this node. */
  spreads: boolean;
}

/** An operator's signature over (peer, at) (core/forget-record.ts), made by `replikv forget --sign-key`. */
export interface SignedForget {
  /** When it was signed (ms since the epoch). */
  at: number;
  /** The operator's Ed25519 public key, 64 hex characters. */
  key: string;
  /** The signature, 128 hex characters. */
  sig: string;
}
