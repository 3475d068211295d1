// When to send a peer this node's peer list (PEERS, on a stream of its own; docs/protocol.md, "Peer
// exchange"). Pure bookkeeping, ticks passed in. A peer gets the list once it connects, and then
// only when the list changed, at most every PEX_EVERY_TICKS: two nodes whose peers stay the same
// send each other no peer list at all. A membership protocol with shuffles (HyParView) replaces
// this module without touching DIGEST.

import { createHash } from 'node:crypto';

export const PEX_EVERY_TICKS = 10;

export class PexSchedule {
  /** Per peer: the tick and the list (as a hash) last sent on its current connection. */
  private readonly sent = new Map<string, { tick: number; list: string }>();
  /** The last list hashed: a tick offers one list to every connected peer, hashed once. */
  private last: { list: readonly string[]; hash: string } | undefined;

  constructor(private readonly everyTicks = PEX_EVERY_TICKS) {}

  /** Is `list` due to `peer` at `tick`? If so it counts as sent (call forget() when the send fails). */
  due(peer: string, tick: number, list: readonly string[]): boolean {
    if (this.last?.list !== list) this.last = { list, hash: listHash(list) };
    const hash = this.last.hash;
    const last = this.sent.get(peer);
    if (last !== undefined && (last.list === hash || tick - last.tick < this.everyTicks)) return false;
    this.sent.set(peer, { tick, list: hash });
    return true;
  }

  /** The peer disconnected: a new connection gets the list at once. */
  forget(peer: string): void {
    this.sent.delete(peer);
  }

  /** The list did not reach `peer`: tried again `everyTicks` after `tick` (not every tick: it may not speak PEERS at all). */
  failed(peer: string, tick: number): void {
    this.sent.set(peer, { tick, list: '' });
  }
}

/** Order-independent: the same addresses in another order are the same list. */
function listHash(list: readonly string[]): string {
  const h = createHash('sha256');
  for (const a of [...list].sort()) h.update(a).update('\n');
  return h.digest('hex');
}
