// The warnings `status` shows: what an operator must act on, each saying what to do. Pure: the
// daemon gathers the facts (replicator, catch-up, forgets) and this words them.

export interface WarningFacts {
  /** Seconds this node, holding data, has reached no peer (null: not long enough to warn). */
  aloneSeconds: number | null;
  /** Seconds a bootstrapping node has reached no peer (null: not bootstrapping, or not long enough). */
  unreachedSeconds: number | null;
  /** Peers that told this node, as they hung up, that their operator forgot it. */
  refusingPeers: string[];
  /** An operator-signed forget of this node that a peer passed on. */
  forgottenBy: { peer: string; at: number } | null;
  /** The peer that declared this node gone (out of touch past gcGraceMs). */
  refusedAsGone: { peer: string; since: number } | null;
  /** Peers whose GC frontier covers writes this node never received (not believed). */
  behind: { peer: string; lacking: number }[];
}

export function statusWarnings(f: WarningFacts): string[] {
  const out: string[] = [];
  if (f.aloneSeconds !== null) out.push(`no peer reachable for ${f.aloneSeconds} s: writes on this node are not being replicated`);
  if (f.unreachedSeconds !== null) out.push(bootstrapUnreached(f.unreachedSeconds));
  if (f.refusingPeers.length > 0) {
    out.push(`peers refuse this node: forgotten by an operator on peer ${f.refusingPeers.join(', ')} (replikv forget); writes reach those nodes only through other nodes, if any`);
  }
  if (f.forgottenBy !== null) {
    out.push(`forgotten by an operator (a signed forget from ${new Date(f.forgottenBy.at).toISOString()}, passed on by peer ${f.forgottenBy.peer}): nodes that hear it refuse this node for 30 days; a machine that should come back needs its whole data directory emptied (a new identity and a new replica), not only its identity`);
  }
  if (f.refusedAsGone !== null) {
    out.push(`refused by peer ${f.refusedAsGone.peer}: this node was out of touch for longer than gcGraceMs and lacks deletes collected since; stop it, move its data directory away and start it again to re-bootstrap`);
  }
  for (const { peer, lacking } of f.behind) {
    if (peer === f.refusedAsGone?.peer) continue;
    out.push(`peer ${peer} says it collected ${lacking} writes this node never received: not believed, and that peer sends this node no deltas; if it is honest, run \`replikv repair --peer ${peer}\` to take its word`);
  }
  return out;
}

/** An empty node that reaches nobody waits for ever: say what to check. */
export function bootstrapUnreached(seconds: number): string {
  return `bootstrapping, but no peer reached for ${seconds} s: check the --bootstrap addresses, and that this node has the cluster's swarm key (--swarm-key FILE; a different key shows in the log as dial failures)`;
}
