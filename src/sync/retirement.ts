// Retired replicas in DIGESTs (core/retired.ts): which clock entries a DIGEST to a peer may leave
// out, what it teaches, and a peer's DIGEST made whole again. The table is kept on disk; a replica
// is retired when its node came back as a new replica, when its peer is forgotten, and when this
// store moved to a new replica id. A record, local or taught, is kept only while this node's clock
// holds exactly [1..c] of the replica: a peer's records without that evidence are refused, counted
// and logged (once a minute per peer), and never grow the table or the DIGESTs between honest nodes.

import type { Logger } from 'pino';
import { Reader, Writer } from '../core/bytes.js';
import type { Clock } from '../core/clock.js';
import { RetiredTable } from '../core/retired.js';
import type { ReplicaId } from '../core/replica.js';
import { DecodeError } from '../errors.js';
import type { Keyspace } from '../store/keyspace.js';
import { LogLimiter } from '../log-limiter.js';
import { MAX_RETIRED_RECORDS, type DigestMessage, type RetiredPart } from './messages.js';

const META_RETIRED = 'retired';

/** What this node last heard from a connected peer: its table hash (hex) and its whole clock. */
interface PeerView {
  hash: string;
  clock: Clock;
  /** DIGESTs that taught it: the window of a long list moves on each time. */
  rounds: number;
}

export class Retirement {
  readonly table = new RetiredTable();
  /** Records peers taught without evidence (refused), since the daemon started. */
  refused = 0;
  private readonly peers = new Map<string, PeerView>();
  private readonly warnings = new LogLimiter();
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly ks: Keyspace,
    private readonly log: Logger,
  ) {
    const raw = ks.getMeta(META_RETIRED);
    if (raw === undefined) return;
    try {
      const rd = new Reader(raw, 'retired replicas record');
      const n = rd.varint();
      const clock = ks.summary().clock;
      for (let i = 0; i < n; i++) this.table.add(rd.hex16(), rd.varint(), clock); // what the clock still backs
      rd.end();
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      log.warn({ reason: err.message }, 'the record of retired replicas is unreadable; starting without it (digests are only longer)');
    }
  }

  /** Records that replica r writes no more, if `clock` holds exactly [1..c] of it; saved in the background. */
  retire(r: ReplicaId, clock: Clock, why: string): void {
    const c = clock.max(r);
    if (this.table.add(r, c, clock) !== 'added') return;
    this.log.info({ replicaId: r, counter: c, why }, 'replica retired: left out of the clocks this node sends to peers that know it');
    this.save();
  }

  /** The clock a DIGEST to `peer` carries, and its retired part (null peer: a VERIFY answer, whole clock). */
  outgoing(peer: string | null, clock: Clock): { clock: Clock; retired: RetiredPart } {
    if (this.table.prune(clock) > 0) this.save(); // entries of replicas that wrote again abbreviate nothing now
    const hash = this.table.hash();
    const view = peer === null ? undefined : this.peers.get(peer);
    const same = view?.hash === Buffer.from(hash).toString('hex');
    // Taught only what the peer's last clock can keep; nothing before this node has heard it.
    const records = view === undefined || same ? [] : this.table.teach(view.clock, MAX_RETIRED_RECORDS, view.rounds++);
    if (!same || this.table.size === 0) return { clock, retired: { hash, omitted: new Uint8Array(0), records } };
    const c = this.table.compress(clock);
    return { clock: c.clock, retired: { hash, omitted: c.omitted, records } };
  }

  /**
   * A peer's DIGEST: its records kept where `ours` (this node's clock) is evidence for them, and
   * its clock made whole. `partial` when it left out entries of a table that is no longer equal to
   * ours: the clock then understates what the peer holds, and the caller must not believe its gaps
   * (it sends the peer no delta this time).
   */
  incoming(peer: string | null, d: DigestMessage, ours: Clock): DigestMessage & { partial: boolean } {
    const { added, unproven } = this.table.learn(d.retired.records, ours);
    if (added > 0) this.save();
    if (unproven > 0) this.refuse(peer, unproven);
    const hash = Buffer.from(d.retired.hash).toString('hex');
    const whole =
      d.retired.omitted.length === 0 ? d.clock : hash === Buffer.from(this.table.hash()).toString('hex') ? this.table.expand(d.clock, d.retired.omitted) : null;
    if (peer !== null) this.peers.set(peer, { hash, clock: whole ?? d.clock, rounds: this.peers.get(peer)?.rounds ?? 0 });
    return whole === null ? { ...d, partial: true } : { ...d, clock: whole, partial: false };
  }

  /** Waits for the last save (before the store closes). */
  flush(): Promise<void> {
    return this.saving;
  }

  /** A peer disconnected: what was kept of it goes (its next DIGEST says it all again). */
  forgetPeer(peer: string): void {
    this.peers.delete(peer);
  }

  private refuse(peer: string | null, n: number): void {
    this.refused += n;
    const held = this.warnings.take(peer ?? '', Date.now());
    if (held === null) return;
    this.log.warn(
      { peer, records: n, refusedSinceStart: this.refused, ...(held > 0 ? { suppressed: held } : {}) },
      'retired-replica records without evidence refused (this node does not hold exactly their writes 1..c)',
    );
  }

  private save(): void {
    const w = new Writer(64);
    const list = this.table.entries();
    w.varint(list.length);
    for (const [r, c] of list) {
      w.bytes(Buffer.from(r, 'hex'));
      w.varint(c);
    }
    const bytes = w.finish();
    this.saving = this.saving
      .then(() => this.ks.putMeta(META_RETIRED, bytes))
      .catch((err: unknown) => this.log.warn({ reason: (err as Error).message }, 'cannot save the retired replicas'));
  }
}
