// Repair of a damaged store from a healthy peer's snapshot: the peer's key-ordered chunks are
// applied range by range (each range one transaction, so the node keeps serving writes), keys this
// node holds between them are checked too, and the end adds the peer's clock and recounts the
// totals. The per-key decision is the pure repairKey in core/repair.ts.

import { Clock } from '../core/clock.js';
import type { DeltaEntry } from '../core/delta.js';
import type { Head } from '../core/head.js';
import type { Keyspace } from './keyspace.js';

export interface RepairReport {
  /** Key states the peer sent. */
  received: number;
  /** Local states replaced (damaged, stale or missing here). */
  replaced: number;
  /** Local keys removed: unreadable here and the peer has no state for them, or collected by the peer (under its GC frontier). */
  removed: number;
  /** The stored digest before (a recount would only repeat the one at the end). */
  digestBefore: string;
  digestAfter: string;
}

export async function repairFromSnapshot(
  ks: Keyspace,
  peerClock: Clock,
  chunks: AsyncIterable<readonly DeltaEntry[]> | Iterable<readonly DeltaEntry[]>,
  heads: readonly Head[] = [],
  /** The peer's GC frontier: a key it lacks whose writes fall under it was collected there, and goes here too. */
  peerFrontier?: Clock,
): Promise<RepairReport> {
  const opts = peerFrontier === undefined ? {} : { collected: peerFrontier };
  const report: RepairReport = { received: 0, replaced: 0, removed: 0, digestBefore: ks.summary().digest, digestAfter: '' };
  let after: Uint8Array | undefined;
  const add = (r: { replaced: number; removed: number }) => {
    report.replaced += r.replaced;
    report.removed += r.removed;
  };
  for await (const entries of chunks) {
    if (entries.length === 0) continue;
    const upTo = entries[entries.length - 1]!.key;
    // the peer's states are held to its heads like any delta's: those they need, a batch a turn
    await ks.checkHeads(ks.headsToCheck({ entries: [...entries], claim: Clock.empty(), heads }));
    add(await ks.repairRange(entries, after, upTo, peerClock, opts));
    report.received += entries.length;
    after = upTo;
  }
  add(await ks.repairRange([], after, undefined, peerClock, opts)); // local keys after the peer's last
  await ks.checkHeads(ks.claimHeadsToCheck(peerClock, heads)); // its clock may name replicas no state does
  await ks.finishRepair(peerClock, peerFrontier, heads);
  report.digestAfter = ks.summary().digest;
  return report;
}
