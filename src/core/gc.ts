// Garbage collection decisions (pure; time and clocks come in as values). See docs/replication.md,
// "Garbage collection".
//
// A tombstone, or a value past its expiry, may go once it is stable: every current member's clock
// covers its dot, so every member's state already reflects it and no member can send the write
// it superseded again. What the node has collected is summed up in its GC frontier (the stable
// clock of its last collection, only ever growing): a remote sibling under the frontier that the
// node does not hold was collected here (or superseded), and is not taken back.

import { Clock } from './clock.js';
import type { KeyState } from './key-state.js';

/** Is this sibling garbage at `now`: a tombstone, or a value whose expiry has passed? */
function isGarbage(s: KeyState['sibs'][number], now: number): boolean {
  return s.value === null || (s.exp !== undefined && s.exp <= now);
}

/**
 * A key's state after collecting its stable garbage: undefined when nothing goes, null when no
 * sibling is left (the key goes), else the state with its context kept.
 * The key itself goes only once `stable` covers its whole context: from then on the frontier
 * alone stands for every write the context superseded. A member's clock may hold the delete
 * without the put it deleted (a pushed batch claims only the siblings it carries), and that put
 * must not come back from a node that still holds it. (Found by the GC property test.)
 */
export function collectKey(state: KeyState, stable: Clock, now: number): KeyState | null | undefined {
  const keep = state.sibs.filter((s) => !(isGarbage(s, now) && stable.covers(s.r, s.c)));
  if (keep.length === state.sibs.length) return undefined;
  if (keep.length > 0) return { ctx: state.ctx, sibs: keep };
  return state.ctx.every(([r, c]) => stable.base(r) >= c) ? null : undefined;
}

/**
 * A remote state without the siblings this node collected: those under the GC frontier that the
 * local state does not hold. The result may have no siblings (its context still supersedes).
 */
export function dropCollected(remote: KeyState, local: KeyState | undefined, frontier: Clock): KeyState {
  const keep = remote.sibs.filter((s) => !frontier.covers(s.r, s.c) || (local?.sibs.some((x) => x.r === s.r && x.c === s.c) ?? false));
  return keep.length === remote.sibs.length ? remote : { ctx: remote.ctx, sibs: keep };
}

/** The dots every one of these clocks (the node's own and its members' last ones) covers. */
export function stableClock(own: Clock, members: Iterable<Clock>): Clock {
  let stable = own;
  for (const m of members) stable = stable.intersect(m);
  return stable === own ? own.clone() : stable;
}

/** How many dots of a GC frontier a clock lacks (0: it knows every write collected under it). */
export function behindFrontier(theirs: Clock, frontier: Clock): number {
  return frontier.difference(theirs).size();
}

/**
 * May a peer whose clock is `theirs` be sent deltas? A delta's claim covers collected tombstones
 * without carrying them, so a peer that missed one would keep the value it deleted. Such a value
 * is under the frontier (a key goes only once the stable clock covers its whole context), and a
 * peer holds only siblings its clock knows: a peer whose clock shares no dot with the frontier
 * holds nothing a collected delete superseded (a node started apart, meeting this one for the
 * first time), and may be sent deltas too. Returns the frontier dots it lacks when it must not
 * be sent any (0: it may).
 */
export function withholdFrom(theirs: Clock, frontier: Clock): number {
  const lacking = behindFrontier(theirs, frontier);
  return lacking === 0 || frontier.intersect(theirs).isEmpty() ? 0 : lacking;
}
