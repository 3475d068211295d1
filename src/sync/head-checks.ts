// Signature checks of the heads a peer's frame needs (keyspace.ts, headsToCheck), on that peer's
// CPU budget and the total one (limits.ts, CheckBudget), a batch per turn of the event loop. A
// flood of fresh heads from many PeerIds costs the node its total budget, not one budget each.

import type { DeltaChunk } from '../core/delta.js';
import type { Head } from '../core/head.js';
import type { Keyspace } from '../store/keyspace.js';
import { CheckBudget, HEAD_CHECK_BURST_MS, HEAD_CHECK_MS_PER_SECOND, HEAD_CHECK_TOTAL_BURST_MS, HEAD_CHECK_TOTAL_MS_PER_SECOND } from './limits.js';
import { ProtocolError } from './peer-streams.js';

export class HeadChecks {
  /** Heads verified, CPU ms spent on them, frames refused for the budget (status). */
  readonly counts = { checked: 0, ms: 0, refused: 0 };
  private readonly budget = new CheckBudget();

  constructor(
    private readonly ks: Keyspace,
    /** The replica id a peer told us it writes as (its own head is checked on a budget of its own). */
    private readonly replicaOf: (peer: string) => string | null,
    private readonly stopped: () => boolean,
  ) {}

  /**
   * Verifies `need`. `wait`: a snapshot's chunk waits until the budget allows (it is this node's
   * own catch-up); otherwise a frame of a peer in debt is refused. Forged heads throw, and the
   * frame is refused. Returns the verified heads, for applyDelta (checked).
   */
  async check(peer: string, chunk: DeltaChunk, mode: 'refuse' | 'wait' = 'refuse', need = this.ks.headsToCheck(chunk)): Promise<Head[]> {
    if (need.length === 0) return need;
    const own = need.length === 1 && need[0]!.r === this.replicaOf(peer);
    this.counts.checked += need.length;
    await this.ks.checkHeads(need, {
      before: async () => {
        for (;;) {
          if (this.budget.allowed(peer, Date.now(), own)) return;
          if (mode === 'refuse' || this.stopped()) {
            this.counts.refused++;
            throw new ProtocolError(`the peer's heads cost more signature checks than the budget (${HEAD_CHECK_BURST_MS} ms of CPU, then ${HEAD_CHECK_MS_PER_SECOND} ms a second per peer; ${HEAD_CHECK_TOTAL_BURST_MS} ms, then ${HEAD_CHECK_TOTAL_MS_PER_SECOND} ms a second for all peers)`);
          }
          await new Promise((ok) => setTimeout(ok, Math.min(1000, Math.max(10, this.budget.waitMs(peer, Date.now())))));
        }
      },
      spent: (ms) => {
        this.counts.ms += ms;
        this.budget.charge(peer, ms, Date.now(), own);
      },
    });
    return need;
  }
}
