// Random histories on two keyspaces, for the counts kept in step by the change sets (sibling and
// expiring counts): writes with fresh or stale contexts, deletes, deltas from the other replica,
// and garbage collection of what both hold.
import type { Keyspace } from '../../src/store/keyspace.js';

export type TwoReplicaOp =
  /** `expireAt`: the put's expiry, if it has one. */
  | { t: 'put'; on: number; key: number; stale: boolean; expireAt?: number }
  | { t: 'del'; on: number; key: number; stale: boolean }
  | { t: 'sync'; on: number }
  | { t: 'gc'; on: number };

/**
 * Runs one op on nodes[op.on]. `first` keeps each key's context from its first read on a node, so a
 * stale write supersedes only that and stands concurrent with the writes after it.
 */
export async function runOp(nodes: readonly Keyspace[], o: TwoReplicaOp, first: Map<string, string>): Promise<void> {
  const ks = nodes[o.on]!;
  if (o.t === 'sync') {
    const other = nodes[1 - o.on]!;
    for (const chunk of other.delta(ks.summary().clock, { maxEntries: 4, maxBytes: 1 << 20 })) await ks.applyDelta(chunk);
  } else if (o.t === 'gc') {
    // Stable: what both hold (the intersection), as the collector would compute it.
    await ks.collectGarbage(nodes[0]!.summary().clock.intersect(nodes[1]!.summary().clock));
  } else {
    const key = `k${o.key}`;
    const context = o.stale ? first.get(`${o.on}|${key}`) : ks.read(key)?.context;
    const ctx = context === undefined ? {} : { context };
    if (o.t === 'put') await ks.write([{ type: 'put', key, value: Buffer.from(`v${Math.random()}`), ...ctx, ...(o.expireAt === undefined ? {} : { expireAt: o.expireAt }) }]);
    else await ks.del(key, ctx);
    if (!first.has(`${o.on}|${key}`)) first.set(`${o.on}|${key}`, ks.read(key)!.context);
  }
}
