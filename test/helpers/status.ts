// Status fields of a node with no garbage collection under way, for tests that build a Status by hand.

import type { Status } from '../../src/control/api.js';

export const IDLE_GC: Pick<Status, 'tombstones' | 'storeBytes' | 'gc'> = {
  tombstones: 0,
  storeBytes: 0,
  gc: {
    enabled: true,
    collected: { keys: 0, siblings: 0 },
    lastRunAt: null,
    members: 0,
    stableAgeMs: null,
    heldBackBy: null,
    gone: [],
    frontier: 0,
    retiredReplicas: 0,
    retiredHash: '0'.repeat(32),
    retiredRefused: 0,
    withheldFrom: [],
    behind: [],
    refusedAsGone: null,
  },
};
