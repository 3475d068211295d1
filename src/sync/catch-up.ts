// What a node does when a peer's GC frontier covers writes it lacks (replicator.ts, checkHorizon).
//
// A frontier is its sender's word. Catching up from it means taking the peer's states where they
// differ (by range reconciliation: recon-recovery.ts) and dropping every local write under the
// frontier of a key the peer lacks ("collected there"): one
// member sending a frontier one dot past the cluster's clock and an empty snapshot made every node
// drop every key. An honest node that has lost nothing is never behind an honest peer's frontier
// (collection waits for every member it has met, member-clocks.ts), so only a node that did lose
// history believes one: a node restored from a backup (`replikv restore` marks it) catches up from
// the first peer it is behind, and is then an ordinary node again. Any other node keeps all it
// holds, counts the frontier as refused and says so; `replikv repair --peer X` takes a peer's word
// when the operator decides to.

import type { Logger } from 'pino';
import type { Keyspace } from '../store/keyspace.js';
import { META_RESTORED } from '../store/meta.js';
import { NO_SYNC_EVENTS, type SyncEvents } from './events.js';
import { LogLimiter } from '../log-limiter.js';

/** A catch-up from one peer at most this often (each a range reconciliation, recon-recovery.ts). */
export const CATCH_UP_EVERY_MS = 60_000;

export type BehindAction = 'catch-up' | 'refuse' | 'wait' | 'gone';

/** The decision (pure): `lastTry` is when this node last caught up from that peer (ms), if ever. */
export function onBehind(o: { gone: boolean; restored: boolean; busy: boolean; lastTry: number | undefined; now: number }): BehindAction {
  if (o.gone) return 'gone';
  if (!o.restored) return 'refuse';
  if (o.busy || (o.lastTry !== undefined && o.now - o.lastTry < CATCH_UP_EVERY_MS)) return 'wait';
  return 'catch-up';
}

export class CatchUp {
  /** Frontiers refused since start (this node kept its writes). */
  refused = 0;
  /** The first peer that declared this node gone, and when (it must re-bootstrap). */
  refusedAsGone: { peer: string; since: number } | null = null;
  private restored: boolean;
  private readonly tried = new Map<string, number>();
  private readonly warnings = new LogLimiter();

  constructor(
    private readonly ks: Keyspace,
    private readonly log: Logger,
    /** Takes what differs from the peer, and its frontier (recon-recovery.ts). */
    private readonly repair: (peer: string) => Promise<unknown>,
    /** A bootstrap or repair is under way. */
    private readonly busy: () => boolean,
    private readonly events: SyncEvents = NO_SYNC_EVENTS,
  ) {
    const mark = ks.getMeta(META_RESTORED);
    this.restored = mark !== undefined && mark.length > 0;
  }

  get pending(): boolean {
    return this.restored;
  }

  /** This node lacks `lacking` dots of `peer`'s frontier; `gone`: the peer declared it gone. */
  behind(peer: string, lacking: number, gone: boolean): void {
    const now = Date.now();
    switch (onBehind({ gone, restored: this.restored, busy: this.busy(), lastTry: this.tried.get(peer), now })) {
      case 'gone':
        this.refusedAsGone ??= { peer, since: now };
        return;
      case 'refuse': {
        this.refused++;
        this.events.refused('gc_frontier');
        const held = this.warnings.take(peer, now);
        if (held !== null) {
          this.log.warn(
            { peer, lacking, ...(held > 0 ? { suppressed: held } : {}) },
            'a peer\'s garbage-collection frontier covers writes this node never received: not believed, nothing here is dropped (the peer sends this node no deltas; if it is honest, this node was not counted when it collected, and `replikv repair --peer` takes its word)',
          );
        }
        return;
      }
      case 'wait':
        return;
      case 'catch-up':
        this.tried.set(peer, now);
        this.log.warn({ peer, lacking }, 'restored from a backup and behind the peer\'s garbage-collection horizon: catching up from it by range reconciliation (only the states that differ)');
        void this.repair(peer).then(
          () => this.done(),
          (err: unknown) => this.log.warn({ peer, reason: (err as Error).message }, 'catching up from the peer failed; it is tried again'),
        );
    }
  }

  /**
   * An exchange found this node within a peer's horizon: a restored node then takes that peer's
   * delta, after which its clock covers the peer's, and so every frontier an honest node computed
   * with that peer as a member. It is an ordinary node from now on (left marked, it would believe
   * the first frontier it is ever behind, a lying member's too).
   */
  within(): void {
    if (this.restored) void this.done();
  }

  private async done(): Promise<void> {
    if (!this.restored) return;
    this.restored = false;
    await this.ks.putMeta(META_RESTORED, new Uint8Array(0)).catch((err: unknown) => this.log.warn({ reason: (err as Error).message }, 'cannot clear the restored mark'));
  }
}
