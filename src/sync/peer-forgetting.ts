// What forgetting a peer does on this node: `replikv forget`, an operator's signed forget heard
// from another node, and a forgotten peer that connects anyway. The peer leaves the peer table and
// is refused for FORGET_RETENTION_MS (membership.ts), garbage collection stops waiting for it, its
// replica is retired, and it is told why before it is hung up on. Which forgets a node obeys is
// forgetting.ts's rule; this is the shell that carries one out.

import type { Libp2p } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Logger } from 'pino';
import type { ForgetRecord } from '../core/forget-record.js';
import type { LogLimiter } from '../log-limiter.js';
import type { SyncEvents } from './events.js';
import type { Forgets } from './forgetting.js';
import { ForgetError, type Membership } from './membership.js';
import { FORGOTTEN_MESSAGE, SYNC_PROTOCOL } from './messages.js';
import type { PeerStreams } from './peer-streams.js';

/** Telling a forgotten peer why it is refused may take this long before it is hung up on. */
const TURN_AWAY_MS = 5_000;

export interface PeerForgettingDeps {
  node: Libp2p;
  membership: Membership;
  forgets: Forgets;
  streams: PeerStreams;
  events: SyncEvents;
  log: Logger;
  warnings: LogLimiter;
  stopped: () => boolean;
  /** The peer was dropped from the table (its replica id, if it had told us): forget what else is kept of it. */
  dropped: (peer: string, replica: string | null) => void;
}

export class PeerForgetting {
  constructor(private readonly d: PeerForgettingDeps) {}

  /**
   * Forgets a peer on this node at once. Signed by an operator key (`signed`), the forget is passed
   * on to the other nodes at the next exchanges; without a signature it stays on this node.
   */
  async forget(peer: string, force = false, signed?: ForgetRecord): Promise<{ forgotten: boolean; known: boolean; spreads: boolean }> {
    const { membership } = this.d;
    try {
      peerIdFromString(peer);
    } catch (err) {
      throw new ForgetError(`"${peer}" is not a PeerId: ${(err as Error).message}`);
    }
    if (peer === membership.self) throw new ForgetError('a node cannot forget itself (stop it, or forget it from another node)');
    // Forgetting is for machines that are gone; a live one would be cut off for 30 days.
    if (!force && membership.connectedPeers().includes(peer)) {
      throw new ForgetError(`${peer} is connected to this node right now: stop it first, or pass --force to forget a live peer`);
    }
    this.d.forgets.fromOperator(peer, signed, Date.now()); // a bad signature is refused before anything changes
    const known = membership.list().some((p) => p.peerId === peer);
    const forgotten = this.drop(peer, Date.now());
    if (forgotten) await this.tell(peer);
    // A signed forget of a peer forgotten already (locally) is kept and passed on from now.
    if (forgotten || signed !== undefined) await this.save();
    return { forgotten, known, spreads: signed !== undefined };
  }

  /** Operator-signed forgets a peer passed on in a DIGEST: kept, passed on, and carried out here. */
  heard(from: string, records: readonly ForgetRecord[]): void {
    const now = Date.now();
    let forgot = false;
    const connected = new Set(this.d.membership.connectedPeers());
    // Only operator-signed forgets by a configured key come back; the rest are refused and counted.
    for (const r of this.d.forgets.incoming(from, records, now)) {
      if (!isPeerId(r.peer)) continue;
      this.d.forgets.keep(r); // passed on from here too
      forgot = true;
      // A peer this node is connected to is alive: gossip alone does not cut it off; the forget takes
      // effect here once the connection ends (peer:disconnect).
      if (connected.has(r.peer)) continue;
      if (!this.drop(r.peer, Math.min(r.at, now))) continue; // forgotten here already (without a signature)
      this.d.log.info({ peer: r.peer, from }, 'peer forgotten (an operator\'s signed forget, passed on by another node)');
    }
    if (forgot) this.saveLater();
  }

  /** A peer an operator's signed forget named while it was connected here: forgotten now that it is gone. */
  disconnected(peer: string): void {
    const r = this.d.forgets.signedFor(peer);
    if (r === undefined || this.d.stopped() || !this.drop(peer, Math.min(r.at, Date.now()))) return;
    this.d.log.info({ peer }, 'peer forgotten (an operator\'s signed forget heard while it was connected)');
    this.saveLater();
  }

  /** The connection gater's question: is this peer refused? A refusal is logged once a minute per peer. */
  refuses(peer: string): boolean {
    if (!this.d.membership.isForgotten(peer)) return false;
    this.noteRefused(peer);
    return true;
  }

  /**
   * A forgotten peer connected (the gater lets its inbound connections up): it is told so on a
   * stream of its own (FORGOTTEN, so its status can say why), then hung up on. Logged once a minute.
   */
  async turnAway(peer: string): Promise<void> {
    this.noteRefused(peer);
    await this.tell(peer);
  }

  /** Forgets a peer here: not dialled or learned again, refused, GC stops waiting for it, its replica retired. */
  private drop(peer: string, at: number): boolean {
    const replica = this.d.membership.replicaOf(peer); // before the peer entry goes
    if (!this.d.membership.forget(peer, at)) return false;
    this.d.dropped(peer, replica);
    return true;
  }

  /** A connection of a forgotten peer refused: counted, and logged once a minute per peer. */
  private noteRefused(peer: string): void {
    this.d.events.refused('forgotten_peer');
    const held = this.d.warnings.take(`refused|${peer}`, Date.now());
    if (held !== null) this.d.log.info({ peer, ...(held > 0 ? { suppressed: held } : {}) }, 'refused a connection of a forgotten peer (replikv forget)');
  }

  /** Tells a connected peer that this node forgot it (FORGOTTEN), then hangs up on it. */
  private async tell(peer: string): Promise<void> {
    const { node } = this.d;
    const id = peerIdFromString(peer);
    if (node.getConnections(id).length === 0) return; // a dial would be refused: nothing to tell or hang up
    try {
      const stream = await node.dialProtocol(id, SYNC_PROTOCOL, { signal: AbortSignal.timeout(TURN_AWAY_MS) });
      const w = this.d.streams.writerFor(stream);
      await w.write(FORGOTTEN_MESSAGE);
      await w.close();
    } catch {
      // it is hung up on all the same
    } finally {
      await node.hangUp(id).catch(() => {});
    }
  }

  private async save(): Promise<void> {
    if (this.d.stopped()) return;
    await this.d.forgets.save(this.d.membership.forgottenPeers(), Date.now());
  }

  private saveLater(): void {
    void this.save().catch((err: unknown) => this.d.log.warn({ reason: (err as Error).message }, 'cannot save the forgotten peers'));
  }
}

function isPeerId(s: string): boolean {
  try {
    peerIdFromString(s);
    return true;
  } catch {
    return false;
  }
}
