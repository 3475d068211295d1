// Commit-rate benchmark: what `durability` costs when many writers each wait for their own write
// (the shape of 50 Redis clients, or 50 HTTP clients, each with one request in flight).
// The keyspace with 50 concurrent writers, relaxed and strict, beside bare lmdb-js with the same
// 50 writers: its default (overlappingSync) and, for reference only, `noSync`, which replikv does
// not use (see README, "Durability"). Prints writes/s and commits/s; asserts nothing.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { Keyspace, type Durability } from '../src/store/keyspace.js';

const WRITERS = 50;
const SECONDS = Number(process.env.BENCH_COMMIT_SECONDS ?? 4);
const VALUE = Buffer.alloc(100, 7);

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Runs WRITERS loops of `write` (each awaits its own) for SECONDS; writes per second. */
async function loops(write: (writer: number, i: number) => Promise<unknown>): Promise<number> {
  let writes = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    for (let i = 0; performance.now() < end; i++) {
      await write(w, i);
      writes++;
    }
  }));
  return writes / ((performance.now() - t0) / 1000);
}

async function keyspaceRate(durability: Durability): Promise<[number, number]> {
  const dir = mkdtempSync(join(tmpdir(), 'replikv-bench-'));
  const ks = await Keyspace.openDir(dir, { durability });
  try {
    const [c0, t0] = [ks.commits, performance.now()];
    const rate = await loops((w, i) => ks.write([{ type: 'put', key: `w${w}:${i % 2000}`, value: VALUE }]));
    return [rate, (ks.commits - c0) / ((performance.now() - t0) / 1000)];
  } finally {
    await ks.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function lmdbRate(noSync: boolean): Promise<[number, number]> {
  const dir = mkdtempSync(join(tmpdir(), 'replikv-bench-'));
  const root = openLmdb({ path: dir, maxDbs: 4, noSync });
  const db = root.openDB({ name: 'states', encoding: 'binary', keyEncoding: 'binary' });
  const txns = new Set<number>();
  try {
    const t0 = performance.now();
    const rate = await loops((w, i) => root.transaction(() => {
      txns.add(root.getWriteTxnId());
      void db.put(Buffer.from(`w${w}:${i % 2000}`), VALUE);
    }));
    return [rate, txns.size / ((performance.now() - t0) / 1000)];
  } finally {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchCommitRate(): Promise<void> {
  console.log(`# commit rate: ${WRITERS} concurrent writers, one 100-byte put each per await, ${SECONDS} s a row`);
  const rows: [string, [number, number]][] = [];
  for (const durability of ['relaxed', 'strict'] as const) rows.push([`keyspace, ${durability}`, await keyspaceRate(durability)]);
  rows.push(['bare lmdb-js, default (overlappingSync)', await lmdbRate(false)]);
  rows.push(['bare lmdb-js, noSync (not used: see README)', await lmdbRate(true)]);
  for (const [name, [rate, commits]] of rows) console.log(`${name.padEnd(44)} ${fmt(rate).padStart(8)} writes/s ${fmt(commits).padStart(6)} commits/s`);
}
