// How many keys hold concurrent siblings, and how many siblings are held: counted once over every
// state when the store opens (only when asked: it reads the whole store), then kept in step by the
// change sets. In memory only, so the store format does not change.

import { siblingCount } from '../core/codec.js';
import { DecodeError } from '../errors.js';
import type { ReadView } from './backend.js';

export interface SiblingStats {
  /** Keys whose state holds more than one sibling (concurrent versions: values, tombstones, expiring values). */
  keys: number;
  /** Siblings held over all keys. */
  siblings: number;
}

/** One pass over the key states; unreadable ones (damage: verify reports it) count as none. */
export function countSiblings(view: ReadView): SiblingStats {
  const out = { keys: 0, siblings: 0 };
  view.visitStates(undefined, false, (_key, state) => {
    try {
      const n = siblingCount(state);
      out.siblings += n;
      if (n > 1) out.keys++;
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
    }
    return true;
  });
  return out;
}

/** What one state replacing another changes (either may be absent: a new key, a removed one). */
export function siblingChange(stats: SiblingStats, before: number, after: number): void {
  stats.siblings += after - before;
  stats.keys += (after > 1 ? 1 : 0) - (before > 1 ? 1 : 0);
}
