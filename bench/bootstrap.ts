// Bootstrap benchmark (issue 4): a new node bootstraps from one peer holding BENCH_KEYS keys
// (default 1,000,000) with 100-byte random values; in the same run the same data moves through a
// Redis replica's full sync (diskless, zero delay), and the ratio of the two times is printed.
// Target: replikv within 2x Redis. Real processes on 127.0.0.1; filling is not measured.
import { randomBytes } from 'node:crypto';
import { Keyspace, type WriteOp } from '../src/store/keyspace.js';
import { Fleet } from '../test/helpers/daemons.js';
import { eventually } from '../test/helpers/process.js';
import { ensureRedis, RedisPair, type Dataset } from './redis-sync.js';

const N = Number(process.env.BENCH_KEYS ?? 1_000_000);
const VALUE_BYTES = 100;
const FILL_BATCH = 1000;
const TIMEOUT_MS = 600_000;

function dataset(n: number): Dataset {
  const values = randomBytes(n * VALUE_BYTES);
  return {
    n,
    key: (i) => `key:${String(i).padStart(8, '0')}`,
    value: (i) => values.subarray(i * VALUE_BYTES, (i + 1) * VALUE_BYTES),
  };
}

/** The user data moved: keys plus values, the same for both systems. */
function payloadBytes(d: Dataset): number {
  return d.n * (d.key(0).length + VALUE_BYTES);
}

/** Fills a store directly (faster than through a daemon; filling is not what is measured). */
async function fillStore(dir: string, d: Dataset): Promise<void> {
  const ks = await Keyspace.openDir(dir, { durability: 'relaxed' });
  try {
    const pending: Promise<unknown>[] = [];
    for (let b = 0; b < d.n; b += FILL_BATCH) {
      const ops: WriteOp[] = [];
      for (let i = b; i < Math.min(d.n, b + FILL_BATCH); i++) ops.push({ type: 'put', key: d.key(i), value: d.value(i) });
      pending.push(ks.write(ops));
      if (pending.length >= 4) await pending.shift();
    }
    await Promise.all(pending);
  } finally {
    await ks.close();
  }
}

interface Timing {
  firstLogMs: number;
  readyMs: number;
}

interface ReplikvTiming extends Timing {
  /** From the first log line to SNAP_BEGIN (dial, protocol negotiation, snapshot opened). */
  streamStartMs: number;
  /** From SNAP_BEGIN to every key stored. */
  streamMs: number;
  /** Key and state bytes the bootstrap stored, as its log says. */
  stateBytes: number;
}

async function replikvBootstrap(d: Dataset): Promise<ReplikvTiming> {
  const fleet = new Fleet();
  try {
    const srcDir = fleet.tmpdir();
    await fillStore(srcDir, d);
    const src = await fleet.start({ dataDir: srcDir, gossipIntervalMs: 1000 });
    const want = await src.status();
    if (want.keys !== d.n) throw new Error(`the source daemon holds ${want.keys} keys, not ${d.n}`);

    const t0 = performance.now();
    const fresh = await fleet.start({ bootstrap: [src.addr], gossipIntervalMs: 1000 }); // resolves on its first log line
    const firstLogMs = performance.now() - t0;
    await eventually(
      () => fresh.status(),
      (s) => s.state === 'ready' && s.digest === want.digest && s.keys === d.n,
      `the new node to be ready with the source's digest`,
      TIMEOUT_MS,
    );
    const readyMs = performance.now() - t0;
    // The daemon's own timestamps (pino, ms): when the stream began and when it was all stored.
    const lines = fresh.child.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { time: number; msg: string; bytes: number });
    const at = (msg: string) => lines.find((l) => l.msg === msg);
    const [started, begin, done] = [at('replikv daemon started'), at('streaming a snapshot from peer'), at('bootstrap complete')];
    if (started === undefined || begin === undefined || done === undefined) throw new Error(`the new node's log lacks bootstrap milestones:\n${fresh.child.stderr().slice(-2000)}`);
    return { firstLogMs, readyMs, streamStartMs: begin.time - started.time, streamMs: done.time - begin.time, stateBytes: done.bytes };
  } finally {
    await fleet.cleanup();
  }
}

async function redisFullSync(d: Dataset): Promise<(Timing & { version: string }) | undefined> {
  if (!ensureRedis()) return undefined;
  const pair = new RedisPair();
  try {
    const primary = await pair.primary(d);
    const t = await pair.replicaSync(primary.port, d.n, TIMEOUT_MS);
    return { firstLogMs: t.firstLogMs, readyMs: t.syncedMs, version: primary.version };
  } finally {
    await pair.cleanup();
  }
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export async function benchBootstrap(): Promise<void> {
  const d = dataset(N);
  const mb = payloadBytes(d) / 1e6;
  console.log(`\n# bootstrap: a new node from one peer holding ${fmt(N)} keys x ${VALUE_BYTES} B vs a Redis replica's full sync`);
  const rows: [string, string][] = [];
  const rates = (t: Timing) => `${fmt(N / (t.readyMs / 1000))} keys/s, ${(mb / (t.readyMs / 1000)).toFixed(1)} MB/s of keys+values`;

  const rkv = await replikvBootstrap(d);
  rows.push(['replikv: new daemon start to first log line', secs(rkv.firstLogMs)]);
  rows.push(['replikv: first log line to snapshot stream begun (dial, negotiation)', secs(rkv.streamStartMs)]);
  rows.push(['replikv: snapshot stream begun to every key stored', `${secs(rkv.streamMs)} (${(rkv.stateBytes / 1e6).toFixed(1)} MB of keys and key states)`]);
  rows.push(['replikv: start to state "ready" with the peer\'s digest (durability strict)', `${secs(rkv.readyMs)} (${rates(rkv)})`]);

  const redis = await redisFullSync(d);
  if (redis === undefined) {
    rows.push(['redis', 'skipped: redis-server could not be installed']);
  } else {
    rows.push([`redis ${redis.version}: replica start to first log line`, secs(redis.firstLogMs)]);
    rows.push([`redis ${redis.version}: replica start to link up, sync done, DBSIZE = ${fmt(N)}`, `${secs(redis.readyMs)} (${rates(redis)})`]);
    rows.push(['ratio replikv / redis (target: at most 2)', `${(rkv.readyMs / redis.readyMs).toFixed(2)}x`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}
