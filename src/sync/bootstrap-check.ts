// A bootstrap checked against a second peer (trust note, point 4). One peer's snapshot is one
// member's word: a hostile source can serve a snapshot whose clock covers the cluster's writes and
// hold one key, and the new node would report ready and never ask for the rest (its clock says it
// has everything). So after the snapshot and before `ready`, the node asks another connected peer
// (not the source) for its digest with VERIFY:
//
// - same clock, same digest: the bootstrap is confirmed;
// - same clock, different digest: the source and that peer disagree; the node merges that peer's
//   snapshot (the healer's merge-only heal) before it reports ready;
// - different clocks (writes in flight, or a source whose clock claims more than the peer knows):
//   one ordinary sync exchange with that peer, then ask again. The exchange gives the peer what the
//   node's clock claims and the node what it lacks, so their clocks meet unless writes keep landing;
//   a source's false claim then shows as different digests at one clock, and is healed as above.
//
// When no second peer is connected or answers (others bootstrapping too answer BUSY), or the
// clocks keep moving for the whole check, the node goes
// ready unchecked (said in the log): the gossip rounds compare digests from then on anyway.

import type { Logger } from 'pino';
import type { Keyspace } from '../store/keyspace.js';
import { comparePeer, type Healer, type HealOutcome } from './healer.js';
import type { Replicator } from './replicator.js';

/** The most keys a snapshot's announced count may show as (progress and ETA only). */
export const MAX_SHOWN_KEYS = 1_000_000_000;

/**
 * The total a snapshot's announced key count is shown as: a peer's number, so never used for
 * anything but progress, and bounded so status and ETA stay sane (never below what was received).
 */
export function shownKeysTotal(announced: number, received: number): number {
  return Math.max(received, Math.min(announced, MAX_SHOWN_KEYS));
}

export type CheckOutcome = 'agree' | HealOutcome | 'unchecked';

export interface BootstrapCheckDeps {
  ks: Keyspace;
  replicator: Pick<Replicator, 'membership' | 'queryDigest' | 'syncWith'>;
  healer: Pick<Healer, 'heal'>;
  log: Logger;
  gossipIntervalMs: number;
  /** The peer whose snapshot completed the bootstrap (null: none had data). */
  source: string | null;
  stopped: () => boolean;
}

export async function checkBootstrap(d: BootstrapCheckDeps): Promise<CheckOutcome> {
  if (d.source === null) return 'unchecked'; // nothing was fetched: no snapshot to doubt
  const interval = Math.max(100, d.gossipIntervalMs);
  const now = Date.now();
  // A second peer may still be connecting (learned from the source's peer exchange a moment ago).
  const waitForPeerUntil = now + Math.max(3_000, 10 * d.gossipIntervalMs);
  const deadline = now + Math.max(15_000, 30 * d.gossipIntervalMs);
  while (!d.stopped() && Date.now() < deadline) {
    const others = d.replicator.membership.connectedPeers().filter((p) => p !== d.source);
    if (others.length === 0) {
      const known = d.replicator.membership.list().some((p) => p.peerId !== d.source);
      if (!known || Date.now() > waitForPeerUntil) break;
      await sleep(100);
      continue;
    }
    let answered = 0;
    for (const peer of others) {
      const c = await comparePeer(d.ks, d.replicator, peer);
      if (c === null) continue;
      answered++;
      if (c.verdict === 'agree') {
        d.log.info({ peer, source: d.source }, 'bootstrap checked against a second peer: same digest at the same clock');
        return 'agree';
      }
      if (c.verdict === 'diverged') {
        d.log.warn(
          { source: d.source, peer, ours: c.ours, theirs: c.theirs },
          'bootstrap: the source\'s snapshot disagrees with a second peer at the same clock; merging that peer\'s snapshot before ready',
        );
        return d.healer.heal(peer);
      }
      await d.replicator.syncWith(peer); // clocks differ: let them meet, then ask again
    }
    if (answered === 0) break; // every other peer is bootstrapping too, or did not answer
    await sleep(interval);
  }
  if (!d.stopped()) d.log.info({ source: d.source }, 'bootstrap not checked against a second peer (none connected, or the clocks kept moving); gossip compares digests from now on');
  return 'unchecked';
}

function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}
