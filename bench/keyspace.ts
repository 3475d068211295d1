// Keyspace benchmark (issue: foundation). 1,000,000 keys with 100-byte random values.
// Prints throughput figures; asserts nothing (the machine is shared and noisy).

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { Clock } from '../src/core/clock.js';
import { Keyspace, type Durability, type WriteOp } from '../src/store/keyspace.js';

const N = Number(process.env.BENCH_KEYS ?? 1_000_000);
const ONE_BY_ONE = Number(process.env.BENCH_ONE_BY_ONE ?? 20_000);
const BATCH = 1000;
const IN_FLIGHT = 4;

const key = (i: number) => `user:${String(i).padStart(8, '0')}`;

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'replikv-bench-'));
}

async function fill(ks: Keyspace, n: number, values: Buffer): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const start = next;
      next = Math.min(n, next + BATCH);
      const ops: WriteOp[] = [];
      for (let i = start; i < next; i++) ops.push({ type: 'put', key: key(i), value: values.subarray((i % 1000) * 100, (i % 1000) * 100 + 100) });
      await ks.write(ops);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return n / ((performance.now() - t0) / 1000);
}

async function oneByOne(ks: Keyspace, n: number, values: Buffer): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await ks.put(key(i), values.subarray((i % 1000) * 100, (i % 1000) * 100 + 100));
  return n / ((performance.now() - t0) / 1000);
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

/**
 * The floor under any put: bare lmdb-js doing what one replikv put must do at least (read the
 * old state, write the new state, write one dot-index entry) with no replication logic, batched
 * the same way. Measured in the same run so the ratio says what the model itself costs.
 */
async function lmdbFloor(path: string, n: number, values: Buffer): Promise<number> {
  const root = openLmdb({ path, maxDbs: 4, noMemInit: true });
  const states = root.openDB({ name: 'states', encoding: 'binary', keyEncoding: 'binary' });
  const dots = root.openDB({ name: 'dots', encoding: 'binary', keyEncoding: 'binary' });
  const t0 = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let b = 0; b < n; b += BATCH) {
    pending.push(
      root.transaction(() => {
        for (let i = b; i < Math.min(n, b + BATCH); i++) {
          const k = Buffer.from(key(i));
          const dot = Buffer.alloc(24);
          dot.writeUInt32BE(i, 20);
          states.get(k);
          states.put(k, values.subarray((i % 1000) * 100, (i % 1000) * 100 + 140));
          dots.put(dot, k);
        }
      }),
    );
    if (pending.length >= IN_FLIGHT) await pending.shift();
  }
  await Promise.all(pending);
  const rate = n / ((performance.now() - t0) / 1000);
  await root.close();
  return rate;
}

export async function benchKeyspace(): Promise<void> {
  const values = randomBytes(100 * 1000);
  const dirs: string[] = [];
  const open = async (durability: Durability) => {
    const d = dir();
    dirs.push(d);
    return Keyspace.openDir(d, { durability });
  };
  console.log(`# keyspace: ${fmt(N)} keys, 100-byte random values`);
  try {
    const rows: [string, string][] = [];
    const floorDir = dir();
    dirs.push(floorDir);
    const floor = await lmdbFloor(floorDir, N, Buffer.concat([values, values.subarray(0, 40)]));
    rows.push([`floor: bare lmdb-js get + 2 puts (${BATCH}/txn)`, `${fmt(floor)} ops/s`]);
    let filledDir = '';
    for (const durability of ['relaxed', 'strict'] as const) {
      const ks = await open(durability);
      if (durability === 'relaxed') filledDir = dirs[dirs.length - 1]!;
      const rate = await fill(ks, N, values);
      rows.push([
        `put ${durability}, batched (${BATCH}/batch, ${IN_FLIGHT} in flight)`,
        `${fmt(rate)} puts/s (${fmt(ks.commits)} commits; ${(rate / floor).toFixed(2)}x the floor)`,
      ]);
      await ks.close();
    }
    for (const durability of ['relaxed', 'strict'] as const) {
      const ks = await open(durability);
      const rate = await oneByOne(ks, ONE_BY_ONE, values);
      rows.push([`put ${durability}, one by one (${fmt(ONE_BY_ONE)} sequential awaits)`, `${fmt(rate)} puts/s`]);
      await ks.close();
    }

    // reads, scans and deltas on a relaxed store of N keys
    const a = await Keyspace.openDir(filledDir, { durability: 'relaxed' });
    let t0 = performance.now();
    let found = 0;
    for (let i = 0; i < N; i++) if (a.get(key((i * 7919) % N)) !== undefined) found++;
    rows.push(['get (random order)', `${fmt(N / ((performance.now() - t0) / 1000))} gets/s (${fmt(found)} found)`]);

    t0 = performance.now();
    let scanned = 0;
    let cursor: string | undefined;
    do {
      const page = a.scan({ after: cursor, limit: 10_000 });
      scanned += page.items.length;
      cursor = page.cursor ?? undefined;
    } while (cursor !== undefined);
    rows.push(['full scan (pages of 10,000)', `${fmt(scanned / ((performance.now() - t0) / 1000))} keys/s (${fmt(scanned)} keys)`]);

    t0 = performance.now();
    let streamed = 0;
    const snap = a.snapshot();
    for (const _ of snap.entries()) streamed++;
    snap.close();
    rows.push(['snapshot stream (raw key states, as bootstrap and backup read them)', `${fmt(streamed / ((performance.now() - t0) / 1000))} keys/s`]);

    const b = await open('relaxed');
    t0 = performance.now();
    let selectMs = 0;
    let entries = 0;
    const gen = a.delta(Clock.empty(), { maxEntries: 8192, maxBytes: 4 << 20 });
    const pending: Promise<unknown>[] = [];
    for (;;) {
      const s0 = performance.now();
      const next = gen.next();
      selectMs += performance.now() - s0;
      if (next.done) break;
      entries += next.value.entries.length;
      pending.push(b.applyDelta(next.value));
      if (pending.length >= 4) await pending.shift();
    }
    await Promise.all(pending);
    const total = (performance.now() - t0) / 1000;
    const same = b.summary().digest === a.summary().digest;
    rows.push([
      'delta selection + application into an empty replica',
      `${fmt(entries)} keys in ${total.toFixed(2)} s (${fmt(entries / total)} keys/s; selection ${(selectMs / 1000).toFixed(2)} s; digests ${same ? 'equal' : 'DIFFER'})`,
    ]);
    await a.close();
    await b.close();

    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
