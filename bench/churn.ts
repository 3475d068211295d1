// Churn benchmark (issue 10's baseline: a keyspace that lives for years). N keys of 100 B, then
// rounds that delete 10% of the live keys and write 10% new ones; after each round the store's data
// file size and the tombstones it holds. Today nothing is ever collected, so both only grow: this
// is the "before" that tombstone GC must bring to a plateau. Also: the node clock a digest carries
// after a node is rebuilt 50 times (each rebuild is a new replica id, kept by every node for ever).
// Prints figures; asserts nothing (the machine is shared and noisy).

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeClock, resolveEncoded } from '../src/core/codec.js';
import { Keyspace, STORE_DIR, type WriteOp } from '../src/store/keyspace.js';
import { MemoryBackend } from '../src/store/memory-backend.js';
import { encodeDigest } from '../src/sync/messages.js';

const N = Number(process.env.BENCH_KEYS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_CHURN_ROUNDS ?? 20);
const REBUILDS = 50;
const BATCH = 1000;

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

async function writeKeys(ks: Keyspace, keys: number[], op: (k: number) => WriteOp): Promise<number> {
  const t0 = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let b = 0; b < keys.length; b += BATCH) {
    pending.push(ks.write(keys.slice(b, b + BATCH).map(op)));
    if (pending.length >= 4) await pending.shift();
  }
  await Promise.all(pending);
  return keys.length / ((performance.now() - t0) / 1000);
}

/** Tombstones held: key states whose resolved sibling is a delete (a full scan). */
function tombstones(ks: Keyspace): number {
  const snap = ks.snapshot();
  try {
    let n = 0;
    for (const { state } of snap.entries()) if (resolveEncoded(state) === null) n++;
    return n;
  } finally {
    snap.close();
  }
}

async function churn(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'replikv-churn-'));
  const ks = await Keyspace.openDir(dir, { durability: 'relaxed' });
  const file = join(dir, STORE_DIR, 'data.mdb');
  const value = Buffer.alloc(100, 7);
  const key = (i: number) => `churn:${String(i).padStart(9, '0')}`;
  try {
    let live = Array.from({ length: N }, (_, i) => i);
    let next = N;
    const rate = await writeKeys(ks, live, (i) => ({ type: 'put', key: key(i), value }));
    console.log(`churn: ${fmt(N)} keys x 100 B written at ${fmt(rate)} writes/s; data file ${mib(statSync(file).size)}`);
    console.log('round  live keys  tombstones  data file  deletes/s  puts/s');
    for (let round = 1; round <= ROUNDS; round++) {
      const tenth = Math.floor(live.length / 10);
      const gone = live.slice(0, tenth); // the oldest tenth: a rolling window, as a cache would have
      live = live.slice(tenth);
      const dels = await writeKeys(ks, gone, (i) => ({ type: 'del', key: key(i) }));
      const fresh = Array.from({ length: tenth }, () => next++);
      const puts = await writeKeys(ks, fresh, (i) => ({ type: 'put', key: key(i), value }));
      live = live.concat(fresh);
      const line = [String(round).padStart(5), fmt(ks.summary().keys).padStart(9), fmt(tombstones(ks)).padStart(11), mib(statSync(file).size).padStart(10), fmt(dels).padStart(10), fmt(puts).padStart(7)];
      console.log(line.join('  '));
    }
  } finally {
    await ks.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A node rebuilt 50 times beside a steady one: every rebuild is a replica id in every clock, for good. */
async function rebuilds(): Promise<void> {
  const steady = await Keyspace.open(new MemoryBackend());
  await steady.write(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: Buffer.from('v') })));
  const digestBytes = () => encodeDigest({ replicaId: steady.replicaId, digest: new Uint8Array(16), clock: steady.summary().clock, peers: [], forgotten: [] }).length;
  const before = { clock: encodeClock(steady.summary().clock).length, digest: digestBytes() };
  for (let i = 0; i < REBUILDS; i++) {
    const rebuilt = await Keyspace.open(new MemoryBackend()); // a wiped data directory: a new replica
    for (const chunk of steady.delta(rebuilt.summary().clock)) await rebuilt.applyDelta(chunk);
    await rebuilt.put(`k${i % 100}`, Buffer.from(`rebuild ${i}`)); // it writes, so its id is in the clock
    for (const chunk of rebuilt.delta(steady.summary().clock)) await steady.applyDelta(chunk);
  }
  const clock = steady.summary().clock;
  console.log(
    `rebuilds: after ${REBUILDS} rebuilds of one node the steady node's clock names ${clock.replicas().length} replicas; ` +
      `encoded clock ${before.clock} -> ${encodeClock(clock).length} bytes, DIGEST ${before.digest} -> ${digestBytes()} bytes (every gossip round)`,
  );
}

export async function benchChurn(): Promise<void> {
  await rebuilds();
  await churn();
}
