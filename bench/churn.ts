// Churn benchmark (issue 10: a keyspace that lives for years). N keys of 100 B, then rounds that
// take the oldest 10% of the live keys out and write 10% new ones, in three variants, one after
// the other in this process, each on a fresh store:
//   gc-off  deletes, nothing ever collected (the behaviour before garbage collection);
//   gc-on   deletes, collected the way the daemon collects (src/sync/collector.ts) on a node with
//           no members (so the stable clock is its own): every GC_INTERVAL_MS, batches of 1000 keys
//           (then sized so that a step holds the event loop about 40 ms, collector.ts) until none
//           is left, a setImmediate between batches, concurrently with the writes.
//           The interval is 1 s here; the daemon's default (gcIntervalMs) is 10 s;
//   ttl     instead of deleting, the 10% are written again with an expiry 1 s ahead, collected as in gc-on.
// After each round: live keys, tombstones, expired values not yet collected, the store's bytes in
// use (its B-tree pages), the size of its data file, and the write rates. At the end of a variant,
// after collecting until nothing is left, the same; then whether the store plateaus (the mean of
// the first rounds against the last) and what collecting costs the writes (gc-on against gc-off).
// Also: the node clock a digest carries after a node is rebuilt 50 times (each rebuild is a new
// replica id; retiring replica ids is not done, so every node keeps them all for ever).
// Prints figures; asserts nothing (the machine is shared and noisy).

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../src/core/clock.js';
import { encodeClock } from '../src/core/codec.js';
import { Keyspace, STORE_DIR, type WriteOp } from '../src/store/keyspace.js';
import { MemoryBackend } from '../src/store/memory-backend.js';
import { encodeDigest } from '../src/sync/messages.js';
import { RetiredTable } from '../src/core/retired.js';
import { nextBatch } from '../src/sync/collector.js';

const N = Number(process.env.BENCH_KEYS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_CHURN_ROUNDS ?? 20);
const REBUILDS = 50;
const BATCH = 1000;
/** The daemon's default is 10 s (gcIntervalMs); 1 s here so that a round of a few seconds sees several collections. */
const GC_INTERVAL_MS = 1000;
/** Keys per collection step, as the daemon's collector takes them: 1000, then sized by what a step costs (collector.ts). */
const GC_BATCH = 1000;
const TTL_MS = 1000;
/** Rounds averaged at each end to tell a plateau from growth. */
const ENDS = Math.max(1, Math.min(5, Math.floor(ROUNDS / 2)));

type Variant = 'gc-off' | 'gc-on' | 'ttl';

interface Row {
  round: string;
  live: number;
  tombstones: number;
  /** ttl only: values past their expiry still held. */
  expiredHeld: number | null;
  storeBytes: number;
  fileBytes: number;
  /** Writes per second of the round's deletes (ttl: its writes with an expiry) and of its new keys. */
  outRate: number | null;
  putRate: number | null;
  /** Siblings collected during the round, in how many steps, and the store's commits in the round (writes' and collection's). */
  collected: number;
  steps: number;
  commits: number;
}

interface Result {
  variant: Variant;
  rows: Row[];
  final: Row;
  /** Whole-run rates: all the round's writes of a kind over the time they took. */
  outRate: number;
  putRate: number;
  /** Collections started during the rounds and the time they were under way; then the final collection to rest. */
  gc: { runs: number; busyMs: number; drainMs: number };
  /** Wall time of the rounds' writes. */
  roundsMs: number;
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function writeKeys(ks: Keyspace, keys: number[], op: (k: number) => WriteOp): Promise<{ n: number; ms: number }> {
  const t0 = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let b = 0; b < keys.length; b += BATCH) {
    pending.push(ks.write(keys.slice(b, b + BATCH).map(op)));
    if (pending.length >= 4) await pending.shift();
  }
  await Promise.all(pending);
  return { n: keys.length, ms: performance.now() - t0 };
}

/**
 * The daemon's collection loop (Collector in src/sync/collector.ts) for a node with no members,
 * whose stable clock is its own: a timer every GC_INTERVAL_MS starts a collection unless one is
 * under way; a collection takes the node clock once and collects GC_BATCH keys a transaction
 * until a step says there is no more, with a turn of the event loop between steps. It counts
 * what it collects step by step (the daemon's only sums a whole collection).
 */
class GcLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  runs = 0;
  steps = 0;
  busyMs = 0;
  keys = 0;
  siblings = 0;

  constructor(private readonly ks: Keyspace) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.collect(() => this.stopped).finally(() => (this.running = undefined));
    }, GC_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Collections, one after the other, until one finds nothing: the store at rest. */
  async drain(): Promise<void> {
    for (;;) {
      const before = this.siblings;
      await this.collect(() => false);
      if (this.siblings === before) return;
    }
  }

  private async collect(stop: () => boolean): Promise<void> {
    const t0 = performance.now();
    this.runs++;
    const stable: Clock = this.ks.summary().clock; // no members: the stable clock is the node's own
    try {
      let batch = GC_BATCH;
      while (!stop()) {
        const step = await this.ks.collectGarbage(stable, batch);
        this.steps++;
        this.keys += step.keys;
        this.siblings += step.siblings;
        if (!step.more) break;
        batch = nextBatch(batch, step.busyMs);
        await new Promise((r) => setImmediate(r)); // a turn for the writes between steps
      }
    } finally {
      this.busyMs += performance.now() - t0;
    }
  }
}

/** Expiry times written (in write order) and how many of them have passed. */
class Expiries {
  private readonly at: number[] = [];
  private passed = 0;

  add(t: number): void {
    this.at.push(t);
  }

  get last(): number {
    return this.at.at(-1) ?? 0;
  }

  passedBy(now: number): number {
    while (this.passed < this.at.length && this.at[this.passed]! <= now) this.passed++;
    return this.passed;
  }
}

function printRow(r: Row): void {
  const rate = (x: number | null) => (x === null ? '-' : fmt(x));
  const cells = [
    r.round.padStart(5),
    fmt(r.live).padStart(9),
    fmt(r.tombstones).padStart(10),
    (r.expiredHeld === null ? '-' : fmt(r.expiredHeld)).padStart(12),
    mib(r.storeBytes).padStart(11),
    mib(r.fileBytes).padStart(10),
    rate(r.outRate).padStart(10),
    rate(r.putRate).padStart(7),
    fmt(r.collected).padStart(10),
    fmt(r.steps).padStart(6),
    fmt(r.commits).padStart(8),
  ];
  console.log(cells.join('  '));
}

async function churn(variant: Variant): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), `replikv-churn-${variant}-`));
  const ks = await Keyspace.openDir(dir, { durability: 'relaxed' });
  const file = join(dir, STORE_DIR, 'data.mdb');
  const value = Buffer.alloc(100, 7);
  const key = (i: number) => `churn:${String(i).padStart(9, '0')}`;
  const gc = variant === 'gc-off' ? undefined : new GcLoop(ks);
  const expiries = new Expiries();
  const before = { siblings: 0, steps: 0, commits: ks.commits };
  const row = (round: string, outRate: number | null, putRate: number | null): Row => {
    const s = ks.gcStats();
    const now = { siblings: gc?.siblings ?? 0, steps: gc?.steps ?? 0, commits: ks.commits };
    const [collected, steps, commits] = [now.siblings - before.siblings, now.steps - before.steps, now.commits - before.commits];
    Object.assign(before, now);
    return {
      round,
      live: ks.summary().keys,
      tombstones: s.tombstones,
      // Every value written with an expiry is the key's only sibling, so a key collected is one
      // expired value gone (the count may lag by the one step whose commit is being reported).
      expiredHeld: variant === 'ttl' ? expiries.passedBy(Date.now()) - (gc?.keys ?? 0) : null,
      storeBytes: s.storeBytes,
      fileBytes: statSync(file).size,
      outRate,
      putRate,
      collected,
      steps,
      commits,
    };
  };
  try {
    let live = Array.from({ length: N }, (_, i) => i);
    let next = N;
    const first = await writeKeys(ks, live, (i) => ({ type: 'put', key: key(i), value }));
    const what = { 'gc-off': 'deletes, never collected', 'gc-on': `deletes, collected every ${GC_INTERVAL_MS} ms`, ttl: `writes with a ${TTL_MS} ms expiry, collected every ${GC_INTERVAL_MS} ms` }[variant];
    console.log(`\nchurn ${variant} (${what}): ${fmt(N)} keys x 100 B written at ${fmt(first.n / (first.ms / 1000))} writes/s`);
    console.log(`round  live keys  tombstones  expired held  storeBytes  data file  ${variant === 'ttl' ? 'expiring/s' : ' deletes/s'}  puts/s  collected  steps  commits`);
    const rows = [row('0', null, null)];
    printRow(rows[0]!);
    gc?.start();
    const total = { out: 0, outMs: 0, put: 0, putMs: 0 };
    for (let round = 1; round <= ROUNDS; round++) {
      const tenth = Math.floor(live.length / 10);
      const gone = live.slice(0, tenth); // the oldest tenth: a rolling window, as a cache would have
      live = live.slice(tenth);
      const out = await writeKeys(
        ks,
        gone,
        variant === 'ttl'
          ? (i) => {
              const expireAt = Date.now() + TTL_MS;
              expiries.add(expireAt);
              return { type: 'put', key: key(i), value, expireAt };
            }
          : (i) => ({ type: 'del', key: key(i) }),
      );
      const fresh = Array.from({ length: tenth }, () => next++);
      const put = await writeKeys(ks, fresh, (i) => ({ type: 'put', key: key(i), value }));
      live = live.concat(fresh);
      total.out += out.n;
      total.outMs += out.ms;
      total.put += put.n;
      total.putMs += put.ms;
      rows.push(row(String(round), out.n / (out.ms / 1000), put.n / (put.ms / 1000)));
      printRow(rows.at(-1)!);
    }
    const busy = { runs: gc?.runs ?? 0, busyMs: gc?.busyMs ?? 0, drainMs: 0 };
    if (gc !== undefined) {
      await gc.stop();
      Object.assign(busy, { runs: gc.runs, busyMs: gc.busyMs });
      await sleep(Math.max(0, expiries.last - Date.now() + 1)); // ttl: until the last expiry has passed
      const t0 = performance.now();
      await gc.drain();
      busy.drainMs = performance.now() - t0;
    }
    const final = row('final', null, null);
    printRow(final);
    return {
      variant,
      rows: rows.slice(1),
      final,
      outRate: total.out / (total.outMs / 1000),
      putRate: total.put / (total.putMs / 1000),
      gc: busy,
      roundsMs: total.outMs + total.putMs,
    };
  } finally {
    await gc?.stop();
    await ks.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function summarize(results: Result[]): void {
  console.log(`\nchurn summary: rounds 1-${ENDS} against rounds ${ROUNDS - ENDS + 1}-${ROUNDS} (mean), after collecting to rest, and the writes' cost of collecting`);
  console.log('variant  storeBytes first  storeBytes last  growth  data file first  data file last  growth  storeBytes final  data file final  out/s (x gc-off)    puts/s (x gc-off)  collections in the rounds       final collection');
  const off = results.find((r) => r.variant === 'gc-off');
  for (const r of results) {
    const first = r.rows.slice(0, ENDS);
    const last = r.rows.slice(-ENDS);
    const ends = (pick: (x: Row) => number) => {
      const a = mean(first.map(pick));
      const b = mean(last.map(pick));
      return [mib(a).padStart(16), mib(b).padStart(15), `x${(b / a).toFixed(2)}`.padStart(6)];
    };
    const vs = (x: number, base: number | undefined) => `${fmt(x)} (x${base === undefined ? '?' : (x / base).toFixed(2)})`;
    const cells = [
      r.variant.padEnd(7),
      ...ends((x) => x.storeBytes),
      ...ends((x) => x.fileBytes),
      mib(r.final.storeBytes).padStart(16),
      mib(r.final.fileBytes).padStart(15),
      vs(r.outRate, off?.outRate).padStart(16),
      vs(r.putRate, off?.putRate).padStart(20),
      (r.variant === 'gc-off' ? '-' : `${r.gc.runs}, under way ${(r.gc.busyMs / 1000).toFixed(1)} s of ${(r.roundsMs / 1000).toFixed(1)} s`).padEnd(31),
      r.variant === 'gc-off' ? '-' : `${(r.gc.drainMs / 1000).toFixed(1)} s`,
    ];
    console.log(cells.join('  '));
  }
  console.log(`(out/s: deletes, or for ttl the writes with an expiry; storeBytes: B-tree pages in use, the rest of the data file is free pages; GC every ${GC_INTERVAL_MS} ms here, 10 s in the daemon by default)`);
}

/**
 * A node rebuilt 50 times beside a steady one: every rebuild is a replica id in every clock, for
 * good. Retired (core/retired.ts, as the replicator retires the replica of a peer that came back as
 * a new one), they are left out of the DIGESTs between two nodes that hold the same table.
 */
async function rebuilds(): Promise<void> {
  const steady = await Keyspace.open(new MemoryBackend());
  await steady.write(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: Buffer.from('v') })));
  const table = new RetiredTable();
  const digestBytes = (clock: Clock, retired?: Parameters<typeof encodeDigest>[0]['retired']) =>
    encodeDigest({ replicaId: steady.replicaId, digest: new Uint8Array(16), clock, forgotten: [], ...(retired === undefined ? {} : { retired }) }).length;
  const before = { clock: encodeClock(steady.summary().clock).length, digest: digestBytes(steady.summary().clock) };
  for (let i = 0; i < REBUILDS; i++) {
    const rebuilt = await Keyspace.open(new MemoryBackend()); // a wiped data directory: a new replica
    for (const chunk of steady.delta(rebuilt.summary().clock)) await rebuilt.applyDelta(chunk);
    await rebuilt.put(`k${i % 100}`, Buffer.from(`rebuild ${i}`)); // it writes, so its id is in the clock
    for (const chunk of rebuilt.delta(steady.summary().clock)) await steady.applyDelta(chunk);
    if (i < REBUILDS - 1) table.add(rebuilt.replicaId, steady.summary().clock.max(rebuilt.replicaId), steady.summary().clock); // the next rebuild retires it
  }
  const clock = steady.summary().clock;
  const { clock: sent, omitted } = table.compress(clock);
  console.log(
    `rebuilds: after ${REBUILDS} rebuilds of one node the steady node's clock names ${clock.replicas().length} replicas; ` +
      `encoded clock ${before.clock} -> ${encodeClock(clock).length} bytes, DIGEST ${before.digest} -> ${digestBytes(clock)} bytes without retiring; ` +
      `with the ${table.size} old replicas retired, the DIGEST between two nodes that know them is ${digestBytes(sent, { hash: table.hash(), omitted, records: [] })} bytes ` +
      `(the one DIGEST that teaches the table: ${digestBytes(clock, { hash: table.hash(), omitted: new Uint8Array(0), records: table.entries() })} bytes)`,
  );
}

export async function benchChurn(): Promise<void> {
  await rebuilds();
  const results: Result[] = [];
  for (const variant of ['gc-off', 'gc-on', 'ttl'] as const) results.push(await churn(variant));
  summarize(results);
}
