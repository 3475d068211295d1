// The digest and live key count of a keyspace as replikv counted them before garbage collection
// (manifest formats 1 and 2 record these): the hash of each whole encoded state, and a key live
// when the sibling with the highest (HLC, replica, counter) was not a tombstone. Only for checking
// those older backups; a full pass over the keyspace.

import { decodeKeyState } from '../core/codec.js';
import { Digest } from '../core/digest.js';
import { compareDots } from '../core/replica.js';
import type { Keyspace } from '../store/keyspace.js';
import { legacyStateHash } from '../store/state-hash.js';

export function legacySummary(ks: Keyspace): { digest: string; keys: number } {
  const digest = new Digest();
  let keys = 0;
  const snap = ks.snapshot();
  try {
    for (const { key, state } of snap.entries()) {
      digest.xor(legacyStateHash(key, state));
      let best: ReturnType<typeof decodeKeyState>['sibs'][number] | undefined;
      for (const s of decodeKeyState(state).sibs) {
        if (best === undefined || s.hlc > best.hlc || (s.hlc === best.hlc && compareDots(s, best) > 0)) best = s;
      }
      if (best?.value !== null) keys++;
    }
  } finally {
    snap.close();
  }
  return { digest: digest.hex(), keys };
}
