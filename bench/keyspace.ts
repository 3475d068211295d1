// Keyspace benchmark (issue: foundation). 1,000,000 keys with 100-byte random values.
// Prints throughput figures; asserts nothing (the machine is shared and noisy).

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { Clock } from '../src/core/clock.js';
import { Keyspace, type Durability, type WriteOp } from '../src/store/keyspace.js';
import { MemoryBackend } from '../src/store/memory-backend.js';
import { ChangeFeed, DEFAULT_FEED_LIMITS, type FeedLimits } from '../src/feed/change-feed.js';

const N = Number(process.env.BENCH_KEYS ?? 1_000_000);
const ONE_BY_ONE = Number(process.env.BENCH_ONE_BY_ONE ?? 20_000);
const BATCH = 1000;
const IN_FLIGHT = 4;

/** The daemon's feed limits. */
const FEED: FeedLimits = DEFAULT_FEED_LIMITS;
const FEED_ROUNDS = Number(process.env.BENCH_FEED_ROUNDS ?? 5);

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

/**
 * The daemon's change feed behind the batched relaxed fill: none, never watched, watched, and
 * watched once then left (the feed records for resumeGraceMs after the last watcher leaves; a
 * grace of 0 stands for the time after it). On the in-memory backend: on LMDB the commits' I/O,
 * and its noise on a shared machine, hide what the feed costs per change. The cases take turns,
 * FEED_ROUNDS rounds; each row gives medians of puts/s, of the process's CPU time per put, and of
 * the time spent in onChange (the feed's own work) per put: the last two drift less than the
 * first when other processes share the cores.
 */
async function feedFills(values: Buffer): Promise<[string, string][]> {
  const cases: [string, FeedLimits | null, 'never' | 'watching' | 'left'][] = [
    ['no change feed', null, 'never'],
    ['change feed, never watched', FEED, 'never'],
    ['change feed, one watcher reading all', FEED, 'watching'],
    ['change feed, watched once, left within the grace period', FEED, 'left'],
    ['change feed, watched once, left before the grace period', Object.assign({}, FEED, { resumeGraceMs: 0 }), 'left'],
  ];
  const runs = cases.map(() => ({ rate: [] as number[], cpu: [] as number[], feed: [] as number[] }));
  for (let round = 0; round < FEED_ROUNDS; round++) {
    for (let c = 0; c < cases.length; c++) {
      const i = (c + round) % cases.length;
      const [, limits, watch] = cases[i]!;
      const ks = await Keyspace.open(new MemoryBackend(), { durability: 'relaxed' });
      let feedMs = 0;
      if (limits !== null) {
        const feed = new ChangeFeed(limits);
        ks.onChange = (b) => {
          const t = performance.now();
          feed.record(b);
          feedMs += performance.now() - t;
        };
        const w = watch === 'never' ? undefined : feed.watch(Buffer.alloc(0), undefined, { send: () => true, end: () => undefined });
        if (watch === 'left') w!.close();
      }
      const cpu0 = process.cpuUsage();
      runs[i]!.rate.push(await fill(ks, N, values));
      const cpu = process.cpuUsage(cpu0);
      runs[i]!.cpu.push((cpu.user + cpu.system) / N);
      runs[i]!.feed.push((feedMs * 1000) / N);
      await ks.close();
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
  return cases.map(([name], i) => {
    const r = runs[i]!;
    return [`put in memory, batched, ${name}`, `${fmt(median(r.rate))} puts/s, ${median(r.cpu).toFixed(2)} µs CPU/put, ${median(r.feed).toFixed(3)} µs in the feed/put (medians of ${r.rate.length})`];
  });
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
    rows.push(...(await feedFills(values)));
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
