// `npm run bench -- recon`: what range reconciliation moves (issue 18), counted in frame bytes
// (each frame's length prefix included) and round trips, with the real keyspace, range index,
// reconciliation shell and message encoders; the two nodes talk over an in-process pipe, so the
// figures are exact counts, not timings. Three cases:
// - two nodes in sync: one session's bytes (and a DIGEST's, which gossip sends every round anyway);
// - a node missing 1,000 of 100,000 writes: the clock delta of an ordinary sync exchange, and a
//   reconciliation for comparison, against the missing states' bytes;
// - a node restored from a backup after 1% of 20,000 keys were changed or deleted and garbage
//   collection moved the frontier past the backup: the catch-up by reconciliation
//   (recon-recovery.ts) against the changed states' bytes, and today's whole snapshot beside it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Clock } from '../src/core/clock.js';
import { chunkEntries, DEFAULT_DELTA_LIMITS } from '../src/core/delta.js';
import { Keyspace } from '../src/store/keyspace.js';
import { MemoryBackend } from '../src/store/memory-backend.js';
import { encodeDigest, encodeEntries, encodeSnapBegin, encodeSnapChunk, END_MESSAGE, EXCHANGE_ACK_MESSAGE, MSG } from '../src/sync/messages.js';
import { recoverByRanges } from '../src/sync/recon-recovery.js';
import { copyInto, piped, wire, type Traffic } from '../test/helpers/recon-pipe.js';

const T0 = 1_800_000_000_000;
const time = { now: T0 };
const value = (tag: string, key: string) => Buffer.from(`${tag} ${key} `.padEnd(100, '.'));

async function node(): Promise<Keyspace> {
  return Keyspace.open(new MemoryBackend(), { now: () => time.now });
}

async function putAll(ks: Keyspace, keys: string[], tag: string): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) await ks.write(keys.slice(i, i + 1000).map((key) => ({ type: 'put' as const, key, value: value(tag, key) })));
}

const keysOf = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => `${prefix}/${i}`);

/** Key and state bytes of `keys` in `ks`, read back from a push chunk (the states as stored). */
function statesBytes(ks: Keyspace, keys: string[]): number {
  return ks.pushChunk(keys).entries.reduce((n, e) => n + e.key.length + e.state.length, 0);
}

async function inSync(): Promise<void> {
  // a on LMDB, so the index build's time is the real backend's (the memory one sorts per batch)
  const dir = mkdtempSync(join(tmpdir(), 'replikv-bench-recon-'));
  const [a, b] = [await Keyspace.openDir(dir, { now: () => time.now, durability: 'relaxed' }), await node()];
  await putAll(a, keysOf(100_000), 'v');
  await copyInto(a, b);
  const t0 = performance.now();
  (await a.rangeView(time.now))!.snap.close(); // the index is built on first use: one pass over the states
  const built = performance.now() - t0;
  const t: Traffic = { received: 0, sent: 0, roundTrips: 0 };
  await piped(b, a, t, () => time.now).reconcileWith('a', { at: time.now, word: 0, apply: async () => {} });
  const s = b.summary();
  const digest = encodeDigest({ replicaId: s.replicaId, digest: Buffer.from(s.digest, 'hex'), digestAt: s.digestAt, clock: s.clock, forgotten: [], frontier: s.frontier });
  console.log(`two nodes in sync (100,000 keys): a reconciliation moves ${t.sent + t.received} bytes (${t.sent} sent, ${t.received} received) in ${t.roundTrips} round trips; a DIGEST is ${wire(digest)} bytes; building the range index at first use took ${built.toFixed(0)} ms on LMDB (wall time, this machine; a batch of 4,096 keys a turn)`);
  await Promise.all([a.close(), b.close()]);
  rmSync(dir, { recursive: true, force: true });
}

async function missing(): Promise<void> {
  const [a, b, c] = [await node(), await node(), await node()];
  await putAll(a, keysOf(99_000), 'v');
  await copyInto(a, b);
  await copyInto(a, c);
  const extra = keysOf(1000, 'new');
  await putAll(a, extra, 'v');
  const missingBytes = statesBytes(a, extra);
  // the ordinary sync exchange: DIGEST each way, a's DELTAs for what b's clock lacks, END each way, ACK
  const sb = b.summary();
  const sa = a.summary();
  const digest = (s: typeof sa) => wire(encodeDigest({ replicaId: s.replicaId, digest: Buffer.from(s.digest, 'hex'), digestAt: s.digestAt, clock: s.clock, forgotten: [], frontier: s.frontier }));
  let delta = 0;
  for (const chunk of a.delta(sb.clock)) {
    delta += wire(encodeEntries(MSG.delta, chunk));
    await b.applyDelta(chunk);
  }
  const exchange = digest(sa) + digest(sb) + delta + 2 * wire(END_MESSAGE) + wire(EXCHANGE_ACK_MESSAGE);
  console.log(`a node missing 1,000 of 100,000 writes (${missingBytes} bytes of states): the sync exchange's clock delta moves ${exchange} bytes (${(exchange / missingBytes).toFixed(2)}x) in 1 round trip (DIGEST, then DIGEST + DELTAs)`);
  // the same gap by reconciliation alone (no clock delta first)
  const t: Traffic = { received: 0, sent: 0, roundTrips: 0 };
  await piped(c, a, t, () => time.now).reconcileWith('a', { at: time.now, word: 1, apply: async (entries, heads) => void (await c.applyDelta({ entries, claim: Clock.empty(), heads })) });
  const moved = t.sent + t.received;
  console.log(`  by reconciliation alone: ${moved} bytes (${(moved / missingBytes).toFixed(2)}x; ${t.received} received, ${(t.received / missingBytes).toFixed(2)}x) in ${t.roundTrips} round trips`);
  await Promise.all([a.close(), b.close(), c.close()]);
}

async function restored(): Promise<void> {
  const [a, c] = [await node(), await node()];
  const keys = keysOf(20_000);
  await putAll(a, keys, 'first');
  await copyInto(a, c); // c: the backup, restored
  const changed = keys.filter((_, i) => i % 100 === 7);
  const deleted = keys.filter((_, i) => i % 100 === 57);
  await putAll(a, changed, 'second');
  for (let i = 0; i < deleted.length; i += 1000) await a.write(deleted.slice(i, i + 1000).map((key) => ({ type: 'del' as const, key })));
  time.now += 60_000;
  while ((await a.collectGarbage(a.summary().clock)).more);
  const changedBytes = statesBytes(a, changed);
  const deletedBytes = statesBytes(c, deleted);
  const t: Traffic = { received: 0, sent: 0, roundTrips: 0 };
  const report = await recoverByRanges(c, piped(c, a, t, () => time.now), 'a');
  if (report === 'busy' || c.summary(time.now).digest !== a.summary(time.now).digest) throw new Error('the restored node did not catch up');
  const snap = a.snapshot();
  let whole = wire(encodeSnapBegin(snap.clock, snap.keys, snap.heads, snap.frontier));
  for (const chunk of chunkEntries(snap.entries(), DEFAULT_DELTA_LIMITS)) whole += wire(encodeSnapChunk(chunk.entries));
  snap.close();
  console.log(
    `a restored node, 1% of 20,000 keys changed (${changed.length}) or deleted (${deleted.length}), frontier past the backup: ` +
      `${t.received} bytes received (${(t.received / changedBytes).toFixed(2)}x the ${changedBytes} bytes of changed states), ${t.sent} sent, ` +
      `${t.roundTrips} round trips, ${report.received} states received, ${report.removed} keys removed; ` +
      `the deleted keys' old states were ${deletedBytes} bytes; today's whole snapshot: ${whole} bytes (${(whole / changedBytes).toFixed(1)}x)`,
  );
  await Promise.all([a.close(), c.close()]);
}

export async function benchRecon(): Promise<void> {
  console.log('\n# Range reconciliation (frame bytes and round trips, exact counts)');
  await inSync();
  await missing();
  await restored();
}
