// Repair of a damaged replica from a healthy peer's snapshot (pure). A damaged store cannot tell
// which of its states are right, so the peer's state wins; the one thing the peer cannot supply is
// a write only this replica holds (a sibling whose dot the peer's snapshot clock does not know),
// and those are kept by merging them into the peer's state. Of the local siblings the peer knows,
// only the peer's copies are used, so damaged bytes cannot survive or spread back.
//
// A key the peer's snapshot lacks is kept when it is readable here: absence proves nothing (the
// peer may have lost the key, or omit it on purpose), and a repair must not let one member wipe a
// node by serving it an empty snapshot under a clock that covers everything. Only a state the peer
// sends, whose dots it knows, replaces the local one.

import type { Clock } from './clock.js';
import { merge, type KeyState, type Sibling } from './key-state.js';

/**
 * The state a damaged replica should hold for one key: `remote` is the healthy peer's state from a
 * snapshot whose clock is `peerClock` (undefined: the peer has no such key), `local` this replica's
 * own (undefined: absent or unreadable). Undefined means the key should not exist here (an
 * unreadable local state the peer has no state for).
 * On a healthy replica this is the plain merge, so repairing an undamaged key changes nothing.
 */
export function repairKey(local: KeyState | undefined, remote: KeyState | undefined, peerClock: Clock): KeyState | undefined {
  if (local === undefined) return remote;
  if (remote === undefined) return local;
  if (local.sibs.every((s) => peerClock.covers(s.r, s.c))) return remote;
  // Own writes, plus the siblings the peer holds too (so merge keeps the peer's copy of those,
  // instead of reading the local context's knowledge of them as "superseded").
  const held = (s: Sibling) => remote.sibs.some((x) => x.r === s.r && x.c === s.c);
  const mine: KeyState = { ctx: local.ctx, sibs: local.sibs.filter((s) => !peerClock.covers(s.r, s.c) || held(s)) };
  return merge(remote, mine);
}
