// Retired replicas in DIGESTs (core/retired.ts): which clock entries a DIGEST to a peer may leave
// out, what it teaches, and a peer's DIGEST made whole again. The table is kept on disk; a replica
// is retired when its node came back as a new replica, when its peer is forgotten, and when this
// store moved to a new replica id.

import type { Logger } from 'pino';
import { Reader, Writer } from '../core/bytes.js';
import type { Clock } from '../core/clock.js';
import { MAX_COUNTER } from '../core/head.js';
import { RetiredTable } from '../core/retired.js';
import type { ReplicaId } from '../core/replica.js';
import { DecodeError } from '../errors.js';
import type { Keyspace } from '../store/keyspace.js';
import { MAX_RETIRED_RECORDS, type DigestMessage, type RetiredPart } from './messages.js';

const META_RETIRED = 'retired';

export class Retirement {
  readonly table = new RetiredTable();
  /** The table hash each peer last sent (hex): equal to ours, our DIGESTs to it may leave entries out. */
  private readonly peerHash = new Map<string, string>();
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
      for (let i = 0; i < n; i++) this.table.add(rd.hex16(), rd.varint());
      rd.end();
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      log.warn({ reason: err.message }, 'the record of retired replicas is unreadable; starting without it (digests are only longer)');
    }
  }

  /** Records that replica r writes no more beyond c; saved in the background. */
  retire(r: ReplicaId, c: number, why: string): void {
    if (c < 1 || c > MAX_COUNTER || !this.table.add(r, c)) return;
    this.log.info({ replicaId: r, counter: c, why }, 'replica retired: left out of the clocks this node sends to peers that know it');
    this.save();
  }

  /** The clock a DIGEST to `peer` carries, and its retired part (null peer: a VERIFY answer, whole clock). */
  outgoing(peer: string | null, clock: Clock): { clock: Clock; retired: RetiredPart } {
    const hash = this.table.hash();
    const theirs = peer === null ? undefined : this.peerHash.get(peer);
    const same = theirs === Buffer.from(hash).toString('hex');
    const records = peer === null || same ? [] : this.table.entries().slice(0, MAX_RETIRED_RECORDS);
    if (!same || this.table.size === 0) return { clock, retired: { hash, omitted: new Uint8Array(0), records } };
    const c = this.table.compress(clock);
    return { clock: c.clock, retired: { hash, omitted: c.omitted, records } };
  }

  /**
   * A peer's DIGEST: its teaching merged into the table, and its clock made whole. `partial` when
   * it left out entries of a table that is no longer equal to ours: the clock then understates what
   * the peer holds, and the caller must not believe its gaps (it sends the peer no delta this time).
   */
  incoming(peer: string | null, d: DigestMessage): DigestMessage & { partial: boolean } {
    let changed = false;
    for (const [r, c] of d.retired.records) if (c <= MAX_COUNTER && this.table.add(r, c)) changed = true;
    if (changed) this.save();
    const hash = Buffer.from(d.retired.hash).toString('hex');
    if (peer !== null) this.peerHash.set(peer, hash);
    if (d.retired.omitted.length === 0) return { ...d, partial: false };
    const whole = hash === Buffer.from(this.table.hash()).toString('hex') ? this.table.expand(d.clock, d.retired.omitted) : null;
    return whole === null ? { ...d, partial: true } : { ...d, clock: whole, partial: false };
  }

  /** Waits for the last save (before the store closes). */
  flush(): Promise<void> {
    return this.saving;
  }

  forgetPeer(peer: string): void {
    this.peerHash.delete(peer);
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
