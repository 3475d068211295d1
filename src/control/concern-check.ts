// A write concern this node cannot meet is refused before anything is written: waiting for more
// replicas than the node knows of could only end in a timeout, after the write was made.

import { ReplikvError } from '../errors.js';

/** --w asks for more replicas than this node knows (itself and the peers in its peer table). */
export class UnattainableConcernError extends ReplikvError {
  override readonly code = 'CONCERN_UNATTAINABLE';
}

/** Throws when `w` replicas cannot be reached with `peers` known peers; 'all' always can. */
export function checkConcern(w: number | 'all', peers: number): void {
  if (w === 'all' || w <= 1 + peers) return;
  const known = peers === 0 ? 'itself alone' : `itself and ${peers} peer${peers === 1 ? '' : 's'}`;
  throw new UnattainableConcernError(`--w ${w} asks for more replicas than the ${1 + peers} this node knows (${known})`);
}
