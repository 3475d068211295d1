// `replikv verify` and `replikv repair`: is this node's keyspace what its clock says, and what its
// peers hold at the same clock? And if not, mend it from a healthy peer (store/repair.ts).
// Verification recounts the local digest from every state (disk damage leaves the stored,
// incremental digest untouched) and asks each connected peer for its digest with a VERIFY query,
// comparing only at equal clocks: with writes in flight, different digests mean nothing.

import { peerIdFromString } from '@libp2p/peer-id';
import { ReplikvError } from '../errors.js';
import type { Keyspace } from '../store/keyspace.js';
import { repairFromSnapshot, type RepairReport } from '../store/repair.js';
import type { Replicator } from './replicator.js';
import { MSG } from './messages.js';
import { sameMoment } from './divergence.js';
import { atTheirs } from './healer.js';

export interface PeerCheck {
  peerId: string;
  /** The peer's digest at the last answer, or null when it did not answer. */
  digest: string | null;
  clocksEqual: boolean;
  /** Same digest at the same clock; null when no answer came at an equal clock (writes in flight). */
  match: boolean | null;
  error?: string;
}

export interface VerifyReport {
  /** No damage found: the local recount matches, and no peer differs at an equal clock. */
  ok: boolean;
  local: { ok: boolean; digest: string; recomputed: string; keys: number; keysRecomputed: number; unreadable: number };
  peers: PeerCheck[];
}

/** A repair that cannot start or finish (no peer to use, peer busy, stream broken). */
export class RepairError extends ReplikvError {
  override readonly code = 'REPAIR_FAILED';
}

export interface RepairReply extends RepairReport {
  peer: string;
}

const ATTEMPTS = 10;
const RETRY_MS = 200;

export async function verifyNode(ks: Keyspace, replicator: Replicator): Promise<VerifyReport> {
  const r = ks.recompute();
  const local = {
    ok: r.unreadable === 0 && r.digest === r.stored.digest && r.keys === r.stored.keys,
    digest: r.stored.digest,
    recomputed: r.digest,
    keys: r.stored.keys,
    keysRecomputed: r.keys,
    unreadable: r.unreadable,
  };
  const peers = await Promise.all(replicator.membership.connectedPeers().map((p) => checkPeer(ks, replicator, p)));
  return { ok: local.ok && peers.every((p) => p.match !== false), local, peers };
}

async function checkPeer(ks: Keyspace, replicator: Replicator, peerId: string): Promise<PeerCheck> {
  const check: PeerCheck = { peerId, digest: null, clocksEqual: false, match: null };
  for (let i = 0; i < ATTEMPTS; i++) {
    if (i > 0) await new Promise((ok) => setTimeout(ok, RETRY_MS));
    try {
      const before = ks.summary();
      const theirs = await replicator.queryDigest(peerId);
      if (theirs.type === MSG.busy) {
        check.error = 'the peer is bootstrapping';
        continue;
      }
      delete check.error;
      check.digest = Buffer.from(theirs.digest).toString('hex');
      // Our state as of just before or just after their answer, or at their cutoff: whichever has their clock.
      const ours = sameMoment(atTheirs(ks, theirs, [before, ks.summary()]), theirs);
      if (ours === undefined) continue;
      return { ...check, clocksEqual: true, match: ours.digest === check.digest };
    } catch (err) {
      check.error = (err as Error).message;
    }
  }
  return check;
}

/** Repairs this node from `peer` (or the first connected peer that can serve a snapshot). */
export async function repairNode(ks: Keyspace, replicator: Replicator, peer?: string): Promise<RepairReply> {
  if (peer !== undefined) {
    try {
      peerIdFromString(peer);
    } catch (err) {
      throw new RepairError(`"${peer}" is not a PeerId: ${(err as Error).message}`);
    }
  }
  const connected = replicator.membership.connectedPeers();
  if (peer !== undefined && !connected.includes(peer)) throw new RepairError(`peer ${peer} is not connected (see replikv peers)`);
  if (connected.length === 0) throw new RepairError('no connected peer to repair from');
  const errors: string[] = [];
  for (const p of peer === undefined ? connected : [peer]) {
    let snap: Awaited<ReturnType<Replicator['snapshotFrom']>>;
    try {
      snap = await replicator.snapshotFrom(p);
    } catch (err) {
      errors.push(`${p}: ${(err as Error).message}`);
      continue;
    }
    if (snap === 'busy') {
      errors.push(`${p}: busy (bootstrapping or repairing)`);
      continue;
    }
    try {
      return { peer: p, ...(await repairFromSnapshot(ks, snap.clock, snap.chunks, snap.heads, snap.frontier)) };
    } catch (err) {
      // What was applied stays applied (each range is a complete repair of those keys); run again.
      throw new RepairError(`repair from ${p} stopped: ${(err as Error).message}; run it again`, { cause: err });
    }
  }
  throw new RepairError(`no peer could serve a snapshot: ${errors.join('; ')}`);
}
