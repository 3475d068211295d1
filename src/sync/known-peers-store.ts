// Reads and writes the remembered peers (known-peers.ts) in the store's meta record `peers`: read
// once at start, written from the gossip tick when due (at most every SAVE_MIN_GAP_MS) and at stop,
// never from the write path. A record that cannot be read is logged and left behind: the node starts
// with its seeds, as before the record existed, and the next write replaces it.

import type { Logger } from 'pino';
import type { Keyspace } from '../store/keyspace.js';
import { decodeKnownPeers, encodeKnownPeers, gapPassed, knownPeersKey, saveDue, selectKnownPeers, type KnownPeer } from './known-peers.js';
import { DEFAULT_GONE_AFTER_MS, type Membership } from './membership.js';

export const META_PEERS = 'peers';

export class KnownPeersSaver {
  private last: { key: string; at: number } | null = null;
  /** When the table was last looked at: selecting validates every address, so not at every tick. */
  private checkedAt = -Infinity;
  private writing = false;

  constructor(
    private readonly ks: Keyspace,
    private readonly log: Logger,
    private readonly membership: Membership,
    private readonly goneAfterMs = DEFAULT_GONE_AFTER_MS,
  ) {}

  /** Learns the peers remembered in the record; they are dialled at the next tick. */
  restore(now: number): void {
    const raw = this.ks.getMeta(META_PEERS);
    if (raw === undefined) return;
    let peers: KnownPeer[];
    try {
      const r = decodeKnownPeers(raw);
      peers = r.peers;
      if (r.skipped > 0) this.log.warn({ skipped: r.skipped }, 'some remembered peers are unreadable; starting without them');
    } catch (err) {
      this.log.warn({ reason: (err as Error).message }, 'the record of remembered peers is unreadable; starting with the bootstrap addresses only');
      return;
    }
    const restored = this.membership.restoreKnown(peers, now);
    this.checkedAt = now;
    // What is on disk now counts as written, so an unchanged table is not written again at once.
    this.last = { key: knownPeersKey(this.select(now)), at: now };
    if (restored > 0) this.log.info({ peers: restored }, 'remembered peers restored; dialling them');
  }

  /**
   * Writes the record if it is due (known-peers.ts saveDue), looking at most every SAVE_MIN_GAP_MS;
   * a failed write is logged, never thrown.
   */
  maybeSave(now: number): void {
    if (this.writing || !gapPassed(this.checkedAt, now)) return;
    const peers = this.select(now);
    // Nothing learned yet: look again at the next tick (cheap with no peers), so the first peers are
    // on disk a tick after they connect, not a whole gap later (a crash in between forgot them).
    if (this.last === null && peers.length === 0) return;
    this.checkedAt = now;
    const key = knownPeersKey(peers);
    if (!saveDue(this.last, key, now)) return;
    void this.write(peers, key, now);
  }

  /** Writes the record now (at stop), with fresh last-seen times for the peers still connected. */
  async save(now: number): Promise<void> {
    const peers = this.select(now);
    if (this.last === null && peers.length === 0) return;
    await this.write(peers, knownPeersKey(peers), now);
  }

  private select(now: number): KnownPeer[] {
    return selectKnownPeers(this.membership.rememberable(now), { now, goneAfterMs: this.goneAfterMs, isForgotten: (id) => this.membership.isForgotten(id) });
  }

  private async write(peers: KnownPeer[], key: string, now: number): Promise<void> {
    this.writing = true;
    this.last = { key, at: now }; // a failed write is retried after the gap, not every tick
    try {
      await this.ks.putMeta(META_PEERS, encodeKnownPeers(peers));
    } catch (err) {
      this.log.warn({ reason: (err as Error).message }, 'cannot save the remembered peers');
    } finally {
      this.writing = false;
    }
  }
}
