// The daemon's Prometheus metrics, on a registry of their own (never prom-client's global one, so
// two daemons in one process, or a test, do not collide). Two kinds:
// - read at scrape time from what status() and peers() already hold (keys, peers, transfer
//   counters, divergence, GC, bootstrap): nothing is counted twice, and a forgotten or gone peer
//   leaves the output with the peer table;
// - counted as they happen through the SyncEvents and commit hooks the sync and store layers call.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PeerInfo, PeerState, Status } from '../control/api.js';
import type { SiblingStats } from '../store/sibling-count.js';
import { REFUSAL_REASONS, type SyncEvents } from '../sync/events.js';
import { spellNaN } from './exposition.js';

/** What the metrics read at scrape time; the daemon supplies it once it is running. */
export interface MetricsSource {
  status(): Status;
  peers(): PeerInfo[];
  siblings(): SiblingStats | null;
}

const PEER_STATES: readonly PeerState[] = ['alive', 'suspect', 'down'];
const NODE_STATES: readonly Status['state'][] = ['ready', 'bootstrapping', 'recovering'];
/**
 * A value not known or not applicable now (no bootstrap running, no member clock): NaN, since
 * prom-client always writes a gauge without labels, and 0 would read as a real value. scrape()
 * spells it `NaN` (exposition.ts: prom-client writes `Nan`).
 */
const UNKNOWN = NaN;
/** Commit latency buckets: a relaxed commit takes well under a millisecond, a strict one waits for fsync. */
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class NodeMetrics {
  readonly registry = new Registry();
  /** For the Replicator (options.events). */
  readonly events: SyncEvents;
  /** For the Keyspace (options.onCommit). */
  readonly observeCommit: (seconds: number) => void;
  private source: MetricsSource | undefined;
  /** One status() per scrape, shared by every gauge's collect (they run in the same turn). */
  private cached: { status: Status; peers: PeerInfo[] } | undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers });

    // Counted as they happen.
    const pushes = counter('replikv_pushes_total', 'PUSH frames: written to a peer (direction="sent") or applied from one ("received")', ['direction']);
    const keysSent = counter('replikv_sync_keys_sent_total', 'Key states written to peers in DELTA, PUSH and snapshot frames');
    const exchanges = counter('replikv_sync_exchanges_total', 'Sync exchanges that ended, by who started them (role) and how (result: ok, busy = the peer was bootstrapping, failed)', ['role', 'result']);
    const snapshots = counter('replikv_snapshots_served_total', 'Snapshot streams served to peers (bootstrap, repair, catch-up), streamed whole or aborted', ['result']);
    const refused = counter('replikv_peer_messages_refused_total', "Peers' frames, claims, connections and streams refused, by reason", ['reason']);
    const waits = counter('replikv_write_concern_waits_total', 'Write-concern waits (--w) that ended: met, or timed out (the write is not undone)', ['result']);
    const commits = new Histogram({ name: 'replikv_commit_duration_seconds', help: 'Store transactions, from asked to committed (and flushed when durable), queueing in the group commit included', buckets: COMMIT_BUCKETS, registers });
    for (const direction of ['sent', 'received']) pushes.inc({ direction }, 0);
    for (const role of ['initiated', 'served']) for (const result of ['ok', 'busy', 'failed']) exchanges.inc({ role, result }, 0);
    for (const result of ['complete', 'aborted']) snapshots.inc({ result }, 0);
    for (const reason of REFUSAL_REASONS) refused.inc({ reason }, 0);
    for (const result of ['met', 'timeout']) waits.inc({ result }, 0);
    this.events = {
      pushSent: () => pushes.inc({ direction: 'sent' }),
      pushReceived: () => pushes.inc({ direction: 'received' }),
      keysSent: (n) => keysSent.inc(n),
      exchange: (role, result) => exchanges.inc({ role, result }),
      snapshotServed: (result) => snapshots.inc({ result }),
      refused: (reason) => refused.inc({ reason }),
      concernWait: (result) => waits.inc({ result }),
    };
    this.observeCommit = (seconds) => commits.observe(seconds);

    this.statusMetrics(registers);
  }

  /** Starts answering scrapes from `source` (before this, the status metrics are left out). */
  attach(source: MetricsSource): void {
    this.source = source;
  }

  /** The text exposition of every metric. */
  async scrape(): Promise<string> {
    try {
      return spellNaN(await this.registry.metrics());
    } finally {
      this.cached = undefined;
    }
  }

  private read(): { status: Status; peers: PeerInfo[] } | undefined {
    if (this.source === undefined) return undefined;
    this.cached ??= { status: this.source.status(), peers: this.source.peers() };
    return this.cached;
  }

  /** Gauges and counters whose values status() and peers() already hold. */
  private statusMetrics(registers: Registry[]): void {
    const self = this;
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (g: Gauge<L>, s: { status: Status; peers: PeerInfo[] }) => void) =>
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset(); // a peer gone from the table leaves the output
          const s = self.read();
          if (s !== undefined) fill(this, s);
        },
      });
    // A counter kept elsewhere (status): exported as the running total it is.
    const total = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (set: (labels: Partial<Record<L, string>>, v: number) => void, s: Status) => void) =>
      new Counter<L>({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          const s = self.read();
          if (s !== undefined) fill((labels, v) => this.inc(labels, v), s.status);
        },
      });

    gauge('replikv_info', 'This node: its PeerId, replica id and version (value 1)', ['peer_id', 'replica_id', 'version'], (g, { status }) =>
      g.set({ peer_id: status.peerId, replica_id: status.replicaId, version: status.version }, 1),
    );
    gauge('replikv_node_state', 'The node state: 1 for the current one (ready, bootstrapping, recovering), 0 for the others', ['state'], (g, { status }) => {
      for (const state of NODE_STATES) g.set({ state }, status.state === state ? 1 : 0);
    });
    gauge('replikv_keys', 'Keys holding a lasting value', [], (g, { status }) => g.set(status.keys));
    gauge('replikv_tombstones', 'Tombstones (deletes) held, not yet collected', [], (g, { status }) => g.set(status.tombstones));
    gauge('replikv_store_bytes', "Bytes in the store's pages in use (LMDB; freed pages are reused, so the file may be larger)", [], (g, { status }) => g.set(status.storeBytes));
    gauge('replikv_keys_with_siblings', 'Keys holding more than one sibling (concurrent versions: values, tombstones, expiring values)', [], (g) => {
      g.set(self.source?.siblings()?.keys ?? UNKNOWN);
    });
    gauge('replikv_siblings', 'Siblings held over all keys (one per key without concurrent versions)', [], (g) => {
      g.set(self.source?.siblings()?.siblings ?? UNKNOWN);
    });
    gauge('replikv_peers', 'Peers in the peer table, by state', ['state'], (g, { peers }) => {
      for (const state of PEER_STATES) g.set({ state }, peers.filter((p) => p.state === state).length);
    });
    gauge('replikv_peer_behind_dots', "Writes this node knows that the peer lacked at its last digest", ['peer'], (g, { peers }) => {
      for (const p of peers) g.set({ peer: p.peerId }, p.behind);
    });
    gauge('replikv_peer_last_contact_seconds', 'Seconds since this node last heard from the peer (absent if never)', ['peer'], (g, { peers }) => {
      const now = Date.now();
      for (const p of peers) if (p.lastSeen !== null) g.set({ peer: p.peerId }, Math.max(0, now - p.lastSeen) / 1000);
    });
    total('replikv_sync_bytes_total', 'Sync frame bytes, by direction (in, out)', ['direction'], (set, s) => {
      set({ direction: 'in' }, s.transfer.bytesReceived);
      set({ direction: 'out' }, s.transfer.bytesSent);
    });
    total('replikv_sync_keys_received_total', 'Key states received from peers (DELTA and PUSH frames)', [], (set, s) => set({}, s.transfer.keysReceived));
    total('replikv_divergences_total', 'Divergences at an equal clock (same clock as a peer, another digest): detected, and healed', ['event'], (set, s) => {
      set({ event: 'detected' }, s.divergence?.detected ?? 0);
      set({ event: 'healed' }, s.divergence?.healed ?? 0);
    });
    total('replikv_equivocations_total', 'Writes found held with two contents (a replica wrote one dot twice: faulty or hostile); each meeting counts', [], (set, s) => set({}, s.equivocation?.detected ?? 0));
    gauge('replikv_divergent_peers', 'Peers that differed from this node at their last equal-clock comparison', [], (g, { status }) => g.set(status.divergence?.peers.length ?? 0));
    total('replikv_gc_collected_total', 'Garbage collected since start: keys removed, and siblings (tombstones, expired values) removed', ['kind'], (set, s) => {
      set({ kind: 'keys' }, s.gc.collected.keys);
      set({ kind: 'siblings' }, s.gc.collected.siblings);
    });
    gauge('replikv_gc_stable_age_seconds', 'Age of the oldest member clock garbage collection waits for (NaN without members)', [], (g, { status }) =>
      g.set(status.gc.stableAgeMs === null ? UNKNOWN : status.gc.stableAgeMs / 1000),
    );
    gauge('replikv_gc_horizon_peers', "Peers apart from this node across a GC horizon: withheld (behind this node's, sent no deltas) or ahead (their frontier covers writes this node never received: not believed, unless it was restored from a backup)", ['side'], (g, { status }) => {
      g.set({ side: 'withheld' }, status.gc.withheldFrom.length);
      g.set({ side: 'ahead' }, status.gc.behind.length);
    });
    gauge('replikv_bootstrap_received_keys', 'While bootstrapping: keys received so far (NaN otherwise)', [], (g, { status }) => {
      g.set(status.bootstrap?.keysReceived ?? UNKNOWN);
    });
    gauge('replikv_bootstrap_received_bytes', 'While bootstrapping: bytes received so far (NaN otherwise)', [], (g, { status }) => {
      g.set(status.bootstrap?.bytesReceived ?? UNKNOWN);
    });
    gauge('replikv_bootstrap_expected_keys', "While bootstrapping: live keys in the snapshot being streamed (an estimate of the total; NaN otherwise)", [], (g, { status }) => {
      g.set(status.bootstrap?.keysTotal ?? UNKNOWN);
    });
    gauge('replikv_bootstrap_eta_seconds', 'While bootstrapping: estimated seconds left (NaN otherwise, or while unknown)', [], (g, { status }) => {
      g.set(status.bootstrap?.etaSeconds ?? UNKNOWN);
    });
  }
}
