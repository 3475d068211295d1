// Which peer a bootstrapping node streams its snapshot from, or whether there is nothing to fetch.
// Pure: the bootstrapper probes its connected peers and asks this module what to do.
//
// A node waits only for a peer that has data to give. When every connected peer has answered and
// none holds any data (a new cluster whose nodes were all started empty, each listing the others as
// bootstrap peers), there is nothing to stream: after a short grace, in which more peers may connect
// or be learned from the others, the node is done and ready with an empty keyspace. A node that
// already stored part of a snapshot keeps waiting: the data it came from exists somewhere.

/** What a connected peer has to give, as its answer to a probe says. */
export type Supply =
  /** A node that is ready and has a non-empty clock: it can serve a snapshot. */
  | 'data'
  /** A bootstrapping or repairing node that already holds part of the keyspace. */
  | 'partial'
  /** A node with nothing: an empty clock and no keys (ready or bootstrapping). */
  | 'empty'
  /** No answer (the probe failed or timed out). */
  | 'unknown';

export interface SourceInput {
  supply: ReadonlyMap<string, Supply>;
  /** When each peer last failed to serve us (ms), if it did. */
  failedAt: ReadonlyMap<string, number>;
  now: number;
  /** Since when every connected peer has answered 'empty' (null: not so at the last decision). */
  emptySince: number | null;
  graceMs: number;
  /** This node already stored part of a snapshot. */
  partial: boolean;
}

export type SourceDecision =
  | { action: 'stream'; peer: string }
  | { action: 'wait'; emptySince: number | null }
  /** Nobody has data: the bootstrap is complete with nothing fetched. */
  | { action: 'none' };

export function chooseSource(input: SourceInput): SourceDecision {
  const withData = [...input.supply].filter(([, s]) => s === 'data').map(([peer]) => peer);
  if (withData.length > 0) {
    // The peer that failed us longest ago (or never) first.
    withData.sort((a, b) => (input.failedAt.get(a) ?? 0) - (input.failedAt.get(b) ?? 0));
    return { action: 'stream', peer: withData[0]! };
  }
  const allEmpty = input.supply.size > 0 && [...input.supply.values()].every((s) => s === 'empty');
  if (!allEmpty || input.partial) return { action: 'wait', emptySince: null };
  const since = input.emptySince ?? input.now;
  return input.now - since >= input.graceMs ? { action: 'none' } : { action: 'wait', emptySince: since };
}
