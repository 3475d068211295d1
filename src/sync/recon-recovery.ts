// Catching up from a peer by range reconciliation (hybrid recovery after a restore; catch-up.ts
// decides when). It takes what a full-snapshot repair took, and only that: first the peer's states
// of keys holding a dot this node's clock lacks, then a reconciliation over the rest, which finds
// the keys whose states differ and this node's keys the peer no longer holds. Every state goes
// through the repair (store/repair.ts semantics: the peer's state wins, writes only this node
// holds are kept; heads bound every counter), and a key the peer lacks loses only the writes under
// the peer's GC frontier (Keyspace.repairSome, as repairRange does for a snapshot's missing keys).
// Only a node allowed to believe that frontier (a restored one, issue 17) gets here. Keys that
// hash the same on both sides are neither sent nor touched.

import { randomInt } from 'node:crypto';
import { Clock } from '../core/clock.js';
import type { Keyspace } from '../store/keyspace.js';
import type { Replicator } from './replicator.js';

export interface RangeRecovery {
  peer: string;
  /** Key states the peer sent. */
  received: number;
  replaced: number;
  removed: number;
  /** Keys of this node the peer holds no state for (what was under its frontier was dropped). */
  absent: number;
  rounds: number;
  /** Frame bytes received. */
  bytes: number;
}

export async function recoverByRanges(ks: Keyspace, replicator: Pick<Replicator, 'reconcileWith'>, peer: string, signal?: AbortSignal): Promise<RangeRecovery | 'busy'> {
  const out = { replaced: 0, removed: 0 };
  const add = (r: { replaced: number; removed: number }): void => {
    out.replaced += r.replaced;
    out.removed += r.removed;
  };
  const r = await replicator.reconcileWith(
    peer,
    {
      at: Date.now(),
      word: randomInt(4),
      since: ks.summary().clock,
      apply: async (entries, heads, from) => {
        await ks.checkHeads(ks.headsToCheck({ entries, claim: Clock.empty(), heads }));
        add(await ks.repairSome(entries, [], from.clock, from.frontier));
      },
    },
    signal,
  );
  if (r === 'busy') return r;
  const { clock, frontier, heads } = r.hello;
  add(await ks.repairSome([], r.absent, clock, frontier));
  await ks.checkHeads(ks.claimHeadsToCheck(clock, heads)); // its clock may name replicas no state does
  await ks.finishRepair(clock, frontier, heads);
  return { peer, received: r.received, ...out, absent: r.absent.length, rounds: r.rounds, bytes: r.bytes };
}
