// `npm run bench:compare`: the hot paths of this checkout ("head") against an older revision
// ("base", default bea81f3, the code before issue 9), both built and measured side by side in one
// run. Issue 9's budget: bootstrap, import and delta application within 10% of the base.
//
//   npm run bench:compare -- [--base REV] [--head REV] [--rounds N] [--network private|open|both]
//                            [--only delta,import,bootstrap,crypto] [--json FILE] [--rebuild]
//   BENCH_KEYS=N sizes the workloads (default 200,000 keys x 100 B).
//
// The base is `git archive`d into $TMPDIR/replikv-compare-<sha> (kept between runs; --rebuild
// makes it again), given this checkout's node_modules when its dependencies are the same (else
// `npm ci` there), and built (npm run build). --head REV does the same for another head; without it the
// head is this checkout as built (`npm run bench:compare` builds it first).
//
// Workloads, each run for base and head in every round (the order alternates: A B, B A, ...):
//   delta     a fresh process per sample loads that build's dist/src/store/keyspace.js and applies
//             N remote key states (chunks selected by a peer's Keyspace.delta, as a pull sends
//             them) into an empty replica, then the N newer states of the same keys over them.
//   import    that build's daemon on an empty data directory; that build's `replikv import` of an
//             NDJSON file of N keys (CLI wall time, process start included).
//   bootstrap a second daemon of that build, empty, --bootstrap pointing at the first: time from
//             spawn to `status` ready with the source's digest, and the snapshot stream alone
//             (from the daemon's own log timestamps).
//   crypto    ed25519 sign/verify and HMAC-SHA256 (bench/crypto-cost.ts), with what one signature
//             per chunk would cost per second of the traffic measured above.
// Each is timed by the wall clock and by CPU time (user + system of the processes doing the work:
// the delta worker; the daemon during import; both daemons during bootstrap), which other load on
// the machine disturbs less. Reports the median of each workload per build, the spread (slowest - fastest) / median, and the
// ratio head / base against the 10% budget. Everything runs on 127.0.0.1 and in temp directories.
import '../src/polyfill.js';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Clock } from '../src/core/clock.js';
import { encodeHeads, type Head } from '../src/core/head.js';
import { generateSwarmKey } from '../src/net/swarm-key.js';
import { Keyspace, type WriteOp } from '../src/store/keyspace.js';
import { cryptoRows, measureCrypto, type OpRate } from './crypto-cost.js';

const SELF = fileURLToPath(import.meta.url);
/** This checkout (dist/bench/compare.js is two levels below it). */
const REPO = resolve(dirname(SELF), '..', '..');
const BUDGET = 1.1;
const VALUE_BYTES = 100;
const READY_TIMEOUT_MS = 600_000;

// ---------------------------------------------------------------- builds

interface Build {
  /** "base" or "head". */
  role: 'base' | 'head';
  label: string;
  sha: string;
  dir: string;
}

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 }).trim();
}

const depFields = (file: string) => {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  return JSON.stringify(['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'overrides'].map((f) => p[f] ?? null));
};

/** Whether `dir` (an archive of `sha`) needs exactly the node_modules this checkout has. */
function sameDependencies(dir: string, sha: string): boolean {
  if (depFields(join(dir, 'package.json')) !== depFields(join(REPO, 'package.json'))) return false;
  // package-lock.json and deps/ (a file: override) against this checkout's working tree
  return spawnSync('git', ['diff', '--quiet', sha, '--', 'package-lock.json', 'deps'], { cwd: REPO }).status === 0;
}

function step(msg: string): void {
  process.stderr.write(`[compare] ${msg}\n`);
}

/** Archives, links or installs dependencies, and builds `rev` in a temp directory kept for later runs. */
function buildRevision(role: Build['role'], rev: string, rebuild: boolean): Build {
  const sha = git(['rev-parse', '--verify', `${rev}^{commit}`]);
  const label = `${rev} (${sha.slice(0, 7)})`;
  const dir = join(tmpdir(), `replikv-compare-${sha.slice(0, 12)}`);
  const marker = join(dir, '.compare-built');
  if (!rebuild && existsSync(marker)) {
    step(`${role} ${label}: reusing the build in ${dir} (--rebuild to make it again)`);
    return { role, label, sha, dir };
  }
  step(`${role} ${label}: git archive into ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tar = execFileSync('git', ['archive', '--format=tar', sha], { cwd: REPO, maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  if (sameDependencies(dir, sha)) {
    const modules = realpathSync(join(REPO, 'node_modules'));
    step(`${role}: same dependencies as this checkout; node_modules -> ${modules}`);
    symlinkSync(modules, join(dir, 'node_modules'), 'dir');
  } else {
    step(`${role}: dependencies differ from this checkout; npm ci in ${dir}`);
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  // The revision's own build (tsc, and since the bundled CLI also rolldown): what it ships.
  step(`${role}: npm run build`);
  const t0 = performance.now();
  execFileSync('npm', ['run', 'build'], { cwd: dir, stdio: ['ignore', process.stderr, 'inherit'] }); // its output is no report
  step(`${role}: built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  writeFileSync(marker, `${sha}\n`);
  return { role, label, sha, dir };
}

function thisCheckout(): Build {
  const sha = git(['rev-parse', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  const branch = git(['rev-parse', '--abbrev-ref', 'HEAD']);
  if (!existsSync(join(REPO, 'dist', 'src', 'cli.js'))) throw new Error(`${REPO} is not built: run npm run build first`);
  return { role: 'head', label: `${branch} (${sha.slice(0, 7)}${dirty ? ' + uncommitted changes' : ''})`, sha, dir: REPO };
}

// ---------------------------------------------------------------- data, made once for both builds

const key = (i: number) => `key:${String(i).padStart(8, '0')}`;

interface Data {
  dir: string;
  n: number;
  ndjson: string;
  swarmKey: string;
  /** Delta chunk files: every key new to the replica, then newer states of the same keys. */
  deltaNew: string;
  deltaNewer: string;
  /** The peer's digest after both: what the replica must end with. */
  digest: string;
  chunks: number;
}

/**
 * Chunk file: u32 count, then per chunk u32 claim length, claim JSON [[replica, from, to]], u32 heads
 * length, the signed heads (core/head.ts encoding; a build without heads ignores them), u32 entries,
 * (u32 len, key, u32 len, state)*.
 */
function encodeChunks(chunks: Iterable<{ entries: { key: Uint8Array; state: Uint8Array }[]; claim: Clock; heads?: readonly Head[] }>): { bytes: Buffer; count: number; entries: number } {
  const parts: Buffer[] = [];
  const u32 = (x: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(x);
    return b;
  };
  let count = 0;
  let entries = 0;
  for (const c of chunks) {
    const runs: [string, number, number][] = [];
    c.claim.forEachRun((r, from, to) => runs.push([r, from, to]));
    const claim = Buffer.from(JSON.stringify(runs));
    const heads = Buffer.from(encodeHeads(c.heads ?? []));
    parts.push(u32(claim.length), claim, u32(heads.length), heads, u32(c.entries.length));
    for (const e of c.entries) parts.push(u32(e.key.length), Buffer.from(e.key), u32(e.state.length), Buffer.from(e.state)); // copies: the snapshot's buffers do not outlive it
    count++;
    entries += c.entries.length;
  }
  return { bytes: Buffer.concat([u32(count), ...parts]), count, entries };
}

function decodeChunks(buf: Buffer): { runs: [string, number, number][]; heads: Uint8Array; entries: { key: Uint8Array; state: Uint8Array }[] }[] {
  let at = 0;
  const u32 = () => {
    const x = buf.readUInt32BE(at);
    at += 4;
    return x;
  };
  const bytes = (len: number) => {
    const b = buf.subarray(at, at + len);
    at += len;
    return b;
  };
  const out = [];
  for (let c = u32(); c > 0; c--) {
    const runs = JSON.parse(bytes(u32()).toString()) as [string, number, number][];
    const heads = bytes(u32());
    const entries = [];
    for (let e = u32(); e > 0; e--) entries.push({ key: bytes(u32()), state: bytes(u32()) });
    out.push({ runs, heads, entries });
  }
  return out;
}

async function writeAll(ks: Keyspace, n: number, value: (i: number) => Uint8Array): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (let b = 0; b < n; b += 1000) {
    const ops: WriteOp[] = [];
    for (let i = b; i < Math.min(n, b + 1000); i++) ops.push({ type: 'put', key: key(i), value: value(i) });
    pending.push(ks.write(ops));
    if (pending.length >= 4) await pending.shift();
  }
  await Promise.all(pending);
}

async function makeData(n: number): Promise<Data> {
  const dir = mkdtempSync(join(tmpdir(), 'replikv-compare-run-'));
  step(`data: ${n.toLocaleString('en-US')} keys x ${VALUE_BYTES} B in ${dir}`);
  // 100-character hex values: the NDJSON file carries exactly VALUE_BYTES per value
  const hex = randomBytes((n * VALUE_BYTES) / 2).toString('hex');
  const value = (i: number) => hex.slice(i * VALUE_BYTES, (i + 1) * VALUE_BYTES);
  const ndjson = join(dir, 'import.ndjson');
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`{"key":"${key(i)}","value":"${value(i)}"}\n`);
  writeFileSync(ndjson, lines.join(''));
  const swarmKey = join(dir, 'swarm.key');
  writeFileSync(swarmKey, generateSwarmKey(), { mode: 0o600 });

  // The remote peer: its deltas, as a pull would select them for a replica that has nothing, then for one that has all of them.
  const peer = await Keyspace.openDir(join(dir, 'peer'), { durability: 'relaxed' });
  try {
    await writeAll(peer, n, (i) => Buffer.from(value(i)));
    const first = encodeChunks(peer.delta(Clock.empty()));
    const seen = peer.summary().clock.clone();
    const newer = randomBytes(n * VALUE_BYTES);
    await writeAll(peer, n, (i) => newer.subarray(i * VALUE_BYTES, (i + 1) * VALUE_BYTES));
    const second = encodeChunks(peer.delta(seen));
    if (first.entries !== n || second.entries !== n) throw new Error(`the peer's deltas hold ${first.entries} and ${second.entries} keys, not ${n}`);
    const deltaNew = join(dir, 'delta-new.bin');
    const deltaNewer = join(dir, 'delta-newer.bin');
    writeFileSync(deltaNew, first.bytes);
    writeFileSync(deltaNewer, second.bytes);
    return { dir, n, ndjson, swarmKey, deltaNew, deltaNewer, digest: peer.summary().digest, chunks: first.count };
  } finally {
    await peer.close();
    rmSync(join(dir, 'peer'), { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- delta worker (a fresh process per sample)

interface DeltaResult {
  newMs: number;
  newerMs: number;
  /** CPU time of the worker process (all its threads, LMDB's included) over each. */
  newCpuMs: number;
  newerCpuMs: number;
}

/**
 * The adapter: what the delta workload needs from a build, found in its own dist. At bea81f3 and at
 * issue 9's head the same: Keyspace.openDir(dir, { durability }), applyDelta({ entries, claim }),
 * summary().digest, close(); Clock.fromIntervals. Older or newer builds missing openDir or
 * fromIntervals are served by Keyspace.open(new LmdbBackend(dir/store)) and Clock.addRange.
 */
async function loadBuild(buildDir: string) {
  const url = (p: string) => pathToFileURL(join(buildDir, 'dist', 'src', p)).href;
  if (existsSync(join(buildDir, 'dist', 'src', 'polyfill.js'))) await import(url('polyfill.js'));
  const ksMod = (await import(url('store/keyspace.js'))) as Record<string, any>;
  const clockMod = (await import(url('core/clock.js'))) as Record<string, any>;
  const K = ksMod.Keyspace;
  const C = clockMod.Clock;
  const open = async (dir: string) => {
    if (typeof K.openDir === 'function') return K.openDir(dir, { durability: 'relaxed' });
    const { LmdbBackend } = (await import(url('store/lmdb-backend.js'))) as Record<string, any>;
    return K.open(new LmdbBackend(join(dir, 'store')), { durability: 'relaxed' });
  };
  const clock = (runs: [string, number, number][]) => {
    if (typeof C.fromIntervals === 'function') return C.fromIntervals(runs);
    const c = C.empty();
    for (const [r, from, to] of runs) c.addRange(r, from, to);
    return c;
  };
  // a build with signed heads checks every counter against them: the chunks carry them as a pull's would
  const headMod = existsSync(join(buildDir, 'dist', 'src', 'core', 'head.js')) ? ((await import(url('core/head.js'))) as Record<string, any>) : undefined;
  const heads = (bytes: Uint8Array) => (headMod === undefined ? {} : { heads: headMod.decodeHeads(bytes) });
  return { open, clock, heads };
}

async function deltaWorker(buildDir: string, dataDir: string, digest: string): Promise<void> {
  const b = await loadBuild(buildDir);
  const read = (f: string) => decodeChunks(readFileSync(join(dataDir, f))).map((c) => ({ entries: c.entries, claim: b.clock(c.runs), ...b.heads(c.heads) }));
  const first = read('delta-new.bin');
  const second = read('delta-newer.bin');
  const dir = mkdtempSync(join(tmpdir(), 'replikv-compare-delta-'));
  try {
    const ks = await b.open(dir);
    // One chunk at a time, as the replicator applies a pull's DELTA messages.
    const cpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const [t0, c0] = [performance.now(), cpu()];
    for (const c of first) await ks.applyDelta(c);
    const [t1, c1] = [performance.now(), cpu()];
    for (const c of second) await ks.applyDelta(c);
    const [t2, c2] = [performance.now(), cpu()];
    const got = ks.summary().digest;
    await ks.close();
    if (got !== digest) throw new Error(`the replica's digest ${got} differs from the peer's ${digest}`);
    const r: DeltaResult = { newMs: t1 - t0, newerMs: t2 - t1, newCpuMs: c1 - c0, newerCpuMs: c2 - c1 };
    process.stdout.write(`${JSON.stringify(r)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runDelta(build: Build, data: Data): Promise<DeltaResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [SELF, '--worker', 'delta', '--build', build.dir, '--data', data.dir, '--digest', data.digest], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', rej);
    child.on('exit', (code) => (code === 0 ? res(JSON.parse(out) as DeltaResult) : rej(new Error(`delta worker (${build.role}) exited ${code}: ${err.slice(-2000)}`))));
  });
}

// ---------------------------------------------------------------- daemons: import, then bootstrap from it

type Network = 'private' | 'open' | 'defaults';

interface Daemon {
  proc: ChildProcess;
  stderr: () => string;
  addr: string;
  exited: Promise<void>;
}

const cli = (build: Build) => join(build.dir, 'dist', 'src', 'cli.js');

/**
 * Network flags for a build. private: a shared swarm key file. open: none ("none" where the build
 * knows it, else no flag). defaults: what each build does unconfigured, for a fleet: an older build
 * runs an open network; one that knows "none" makes a private network by default, whose fleet shares
 * one key (without it each daemon would make its own and reach no other).
 */
async function networkArgs(build: Build, network: Network, data: Data): Promise<string[]> {
  if (network === 'private') return ['--swarm-key', data.swarmKey];
  const config = (await import(pathToFileURL(join(build.dir, 'dist', 'src', 'config.js')).href)) as { OPEN_NETWORK?: string };
  if (config.OPEN_NETWORK === undefined) return [];
  return network === 'open' ? ['--swarm-key', config.OPEN_NETWORK] : ['--swarm-key', data.swarmKey];
}

async function startDaemon(build: Build, dataDir: string, net: string[], bootstrap?: string): Promise<Daemon> {
  const args = [cli(build), 'daemon', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--gossip-interval', '1000', ...net];
  if (bootstrap !== undefined) args.push('--bootstrap', bootstrap);
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const t0 = performance.now();
  while (!err.includes('replikv daemon started')) {
    if (proc.exitCode !== null) throw new Error(`the ${build.role} daemon exited: ${err.slice(-2000)}`);
    if (performance.now() - t0 > 30_000) throw new Error(`the ${build.role} daemon did not start in 30 s: ${err.slice(-2000)}`);
    await sleep(20);
  }
  const first = JSON.parse(err.split('\n')[0]!) as { addrs: string[] };
  return { proc, stderr: () => err, addr: first.addrs[0]!, exited };
}

async function stopDaemon(d: Daemon): Promise<void> {
  if (d.proc.exitCode !== null || d.proc.signalCode !== null) return;
  d.proc.kill('SIGTERM');
  const timer = setTimeout(() => d.proc.kill('SIGKILL'), 15_000);
  await d.exited;
  clearTimeout(timer);
}

/** CPU time (user + system, all threads) a live process has used so far, from /proc (10 ms ticks). */
function cpuMsOf(d: Daemon): number {
  const stat = readFileSync(`/proc/${d.proc.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
  return (Number(fields[11]) + Number(fields[12])) * (1000 / CLK_TCK);
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface StatusLike {
  state: string;
  keys: number;
  digest: string;
}

async function statusOf(build: Build, dataDir: string): Promise<StatusLike> {
  const { ControlClient } = (await import(pathToFileURL(join(build.dir, 'dist', 'src', 'control', 'client.js')).href)) as {
    ControlClient: new (socket: string) => { status(): Promise<StatusLike> };
  };
  return new ControlClient(join(dataDir, 'control.sock')).status();
}

interface DaemonResult {
  importMs: number;
  /** CPU time the daemon spent during the import (the CLI's own is not counted). */
  importCpuMs: number;
  /** CPU time of the new daemon from its spawn to ready, plus the source's over the same time. */
  bootstrapCpuMs: number;
  bootstrapMs: number;
  streamMs: number;
  /** Key and state bytes the bootstrap stored, as its log says. */
  streamBytes: number;
}

async function runDaemons(build: Build, data: Data, network: Network): Promise<DaemonResult> {
  const net = await networkArgs(build, network, data);
  const srcDir = mkdtempSync(join(tmpdir(), 'replikv-compare-src-'));
  const newDir = mkdtempSync(join(tmpdir(), 'replikv-compare-new-'));
  const daemons: Daemon[] = [];
  try {
    const src = await startDaemon(build, srcDir, net);
    daemons.push(src);
    const c0 = cpuMsOf(src);
    const t0 = performance.now();
    const imp = spawnSync(process.execPath, [cli(build), 'import', data.ndjson, '--data-dir', srcDir], { encoding: 'utf8' });
    const importMs = performance.now() - t0;
    const importCpuMs = cpuMsOf(src) - c0;
    if (imp.status !== 0 || !imp.stdout.includes(`imported ${data.n} keys`)) throw new Error(`${build.role} import failed (${imp.status}): ${imp.stdout}${imp.stderr}`);
    const want = await statusOf(build, srcDir);
    if (want.keys !== data.n) throw new Error(`the ${build.role} source holds ${want.keys} keys, not ${data.n}`);

    const srcCpu = cpuMsOf(src);
    const t1 = performance.now();
    const fresh = await startDaemon(build, newDir, net, src.addr);
    daemons.push(fresh);
    for (;;) {
      const s = await statusOf(build, newDir).catch(() => undefined);
      if (s !== undefined && s.state === 'ready' && s.keys === data.n && s.digest === want.digest) break;
      if (performance.now() - t1 > READY_TIMEOUT_MS) throw new Error(`the ${build.role} bootstrap did not finish: ${fresh.stderr().slice(-2000)}`);
      await sleep(25);
    }
    const bootstrapMs = performance.now() - t1;
    const bootstrapCpuMs = cpuMsOf(fresh) + cpuMsOf(src) - srcCpu;
    const lines = fresh
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { time: number; msg: string; bytes?: number });
    const begin = lines.find((l) => l.msg === 'streaming a snapshot from peer');
    const done = lines.find((l) => l.msg === 'bootstrap complete');
    if (begin === undefined || done === undefined) throw new Error(`the ${build.role} bootstrap's log lacks its milestones: ${fresh.stderr().slice(-2000)}`);
    return { importMs, importCpuMs, bootstrapMs, bootstrapCpuMs, streamMs: done.time - begin.time, streamBytes: done.bytes ?? 0 };
  } finally {
    for (const d of daemons.reverse()) await stopDaemon(d);
    rmSync(srcDir, { recursive: true, force: true });
    rmSync(newDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- statistics and the report

interface Row {
  workload: string;
  base: number[];
  head: number[];
  baseMedian: number;
  headMedian: number;
  /** (slowest - fastest) / median, per build. */
  baseSpread: number;
  headSpread: number;
  /** Ratio of the medians. */
  ratio: number;
  /** head / base within each round (the two ran back to back, so a change in the machine's load between rounds cancels). */
  paired: number[];
  pairedMedian: number;
  verdict: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const spread = (xs: number[]) => (Math.max(...xs) - Math.min(...xs)) / median(xs);

function row(workload: string, base: number[], head: number[]): Row {
  const baseMedian = median(base);
  const headMedian = median(head);
  const ratio = headMedian / baseMedian;
  const paired = base.map((b, i) => head[i]! / b);
  const pairedMedian = median(paired);
  // Judged on the paired ratios: over the budget in the median round, but not in the best one, is noise-bound.
  const verdict = pairedMedian <= BUDGET ? 'within 10%' : Math.min(...paired) <= BUDGET ? 'over 10%, within noise' : 'OVER 10%';
  return { workload, base, head, baseMedian, headMedian, baseSpread: spread(base), headSpread: spread(head), ratio, paired, pairedMedian, verdict };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const ms = (x: number) => `${(x / 1000).toFixed(3)} s`;
const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      base: { type: 'string', default: 'bea81f3' },
      head: { type: 'string' },
      rounds: { type: 'string', default: '5' },
      network: { type: 'string', default: 'private' },
      only: { type: 'string', default: 'delta,import,bootstrap,crypto' },
      json: { type: 'string' },
      rebuild: { type: 'boolean', default: false },
      worker: { type: 'string' },
      build: { type: 'string' },
      data: { type: 'string' },
      digest: { type: 'string' },
    },
  });
  if (values.worker === 'delta') return deltaWorker(values.build!, values.data!, values.digest!);

  const n = Number(process.env.BENCH_KEYS ?? 200_000);
  const rounds = Number(values.rounds);
  const only = new Set(values.only.split(','));
  const networks: Network[] = values.network === 'both' ? ['private', 'open'] : [values.network as Network];
  if (!networks.every((x) => ['private', 'open', 'defaults'].includes(x))) throw new Error('--network must be private, open, defaults or both');
  if (!Number.isInteger(n) || n < 1000) throw new Error('BENCH_KEYS must be an integer of at least 1,000');
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');

  const base = buildRevision('base', values.base, values.rebuild);
  const head = values.head === undefined ? thisCheckout() : buildRevision('head', values.head, values.rebuild);
  const loadBefore = loadavg();
  const started = performance.now();
  const data = await makeData(n);
  const samples = new Map<string, { base: number[]; head: number[] }>();
  const add = (w: string, b: Build, x: number) => {
    if (!samples.has(w)) samples.set(w, { base: [], head: [] });
    samples.get(w)![b.role].push(x);
  };
  let streamBytes = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? [base, head] : [head, base];
      step(`round ${r + 1}/${rounds}: ${order.map((b) => b.role).join(', ')}`);
      if (only.has('delta')) {
        for (const b of order) {
          const d = await runDelta(b, data);
          add('delta: apply N new keys', b, d.newMs);
          add('delta: apply N newer states', b, d.newerMs);
          add('delta: apply N new keys, CPU', b, d.newCpuMs);
          add('delta: apply N newer states, CPU', b, d.newerCpuMs);
        }
      }
      if (only.has('import') || only.has('bootstrap')) {
        for (const network of networks) {
          for (const b of order) {
            const d = await runDaemons(b, data, network);
            const tag = networks.length > 1 ? ` (${network} network)` : '';
            if (only.has('import')) {
              add(`import: replikv import N keys${tag}`, b, d.importMs);
              add(`import: daemon CPU${tag}`, b, d.importCpuMs);
            }
            if (only.has('bootstrap')) {
              add(`bootstrap: spawn to ready${tag}`, b, d.bootstrapMs);
              add(`bootstrap: snapshot stream${tag}`, b, d.streamMs);
              add(`bootstrap: CPU of both daemons${tag}`, b, d.bootstrapCpuMs);
            }
            if (b.role === 'head') streamBytes = d.streamBytes;
          }
        }
      }
    }
  } finally {
    rmSync(data.dir, { recursive: true, force: true });
  }
  const rows = [...samples].map(([w, s]) => row(w, s.base, s.head));
  const crypto = only.has('crypto') ? measureCrypto() : [];
  const loadAfter = loadavg();
  const elapsed = (performance.now() - started) / 1000;

  const out: string[] = [];
  out.push(`# replikv A/B: base ${base.label} vs head ${head.label}`);
  out.push(
    `${fmt(n)} keys x ${VALUE_BYTES} B; ${rounds} rounds, order alternating; network for the daemons: ${networks.join(' and ')}; ` +
      `${cpus().length} cores, load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after; ${elapsed.toFixed(0)} s`,
  );
  out.push('');
  if (rows.length > 0) {
    out.push(
      table(
        ['workload (wall or CPU time; lower is better)', 'base median', 'head median', 'head/base', 'spread base', 'spread head', 'paired head/base: median [range]', 'verdict (budget 10%)'],
        rows.map((x) => [
          x.workload,
          ms(x.baseMedian),
          ms(x.headMedian),
          `${x.ratio.toFixed(3)}x`,
          pct(x.baseSpread),
          pct(x.headSpread),
          `${x.pairedMedian.toFixed(3)}x [${Math.min(...x.paired).toFixed(2)}-${Math.max(...x.paired).toFixed(2)}]`,
          x.verdict,
        ]),
      ),
    );
    out.push(
      'head/base: ratio of the medians. spread: (slowest - fastest) / median of that build\'s rounds. paired: head / base within each round ' +
        '(run back to back); the verdict is on its median, "within noise" when the median round is over 10% and the best is not.',
    );
  }
  const derived: Record<string, number> = {};
  if (crypto.length > 0) {
    out.push('');
    out.push('# signing and MAC cost (node:crypto, one core)');
    const rowsC = cryptoRows(crypto);
    const width = Math.max(...rowsC.map(([k]) => k.length));
    for (const [k, v] of rowsC) out.push(`${k.padEnd(width)}  ${v}`);
    const [signOp, verifyOp, hmacOp] = crypto as [OpRate, OpRate, OpRate];
    const us = (x: number) => `${x < 100 ? x.toFixed(1) : fmt(x)} µs`;
    const find = (w: string) => rows.find((x) => x.workload === w || x.workload.startsWith(`${w} (`));
    // What each would add, in CPU time, to the head's own CPU time for the same traffic (load-independent),
    // and per second at the head's measured wall rate (which the machine's load slows).
    const [deltaWall, deltaCpu] = [find('delta: apply N new keys'), find('delta: apply N new keys, CPU')];
    if (deltaWall !== undefined && deltaCpu !== undefined) {
      const cpuPerChunkUs = (deltaCpu.headMedian * 1000) / data.chunks;
      const chunksPerSec = data.chunks / (deltaWall.headMedian / 1000);
      Object.assign(derived, { deltaChunks: data.chunks, deltaCpuPerChunkUs: cpuPerChunkUs, deltaChunksPerSec: chunksPerSec });
      out.push(
        `delta: the head applies a chunk (up to 4,096 keys, ${fmt(n / data.chunks)} here) in ${us(cpuPerChunkUs)} of CPU; one signature per chunk adds ` +
          `${us(signOp.cpuUsPerOp)} to sign (${pct(signOp.cpuUsPerOp / cpuPerChunkUs)}) and ${us(verifyOp.cpuUsPerOp)} to verify (${pct(verifyOp.cpuUsPerOp / cpuPerChunkUs)}); ` +
          `at the head's wall rate here (${fmt(chunksPerSec)} chunks/s, ${fmt(n / (deltaWall.headMedian / 1000))} keys/s) that is ` +
          `${us(chunksPerSec * verifyOp.cpuUsPerOp)} of verification per second of traffic`,
      );
    }
    const [streamWall, bootCpu] = [find('bootstrap: snapshot stream'), find('bootstrap: CPU of both daemons')];
    if (streamWall !== undefined && bootCpu !== undefined && streamBytes > 0) {
      const mib = streamBytes / 2 ** 20;
      const cpuPerMibUs = (bootCpu.headMedian * 1000) / mib;
      const mibPerSec = mib / (streamWall.headMedian / 1000);
      Object.assign(derived, { bootstrapMiB: mib, bootstrapCpuPerMiBUs: cpuPerMibUs, bootstrapMiBPerSec: mibPerSec });
      out.push(
        `bootstrap: ${mib.toFixed(1)} MiB of keys and states cost both daemons ${us(cpuPerMibUs)} of CPU per MiB (process start included); ` +
          `one signature per MiB adds ${us(signOp.cpuUsPerOp + verifyOp.cpuUsPerOp)} sign + verify (${pct((signOp.cpuUsPerOp + verifyOp.cpuUsPerOp) / cpuPerMibUs)}), ` +
          `an HMAC-SHA256 of every KiB ${us(1024 * hmacOp.cpuUsPerOp)} per MiB (${pct((1024 * hmacOp.cpuUsPerOp) / cpuPerMibUs)}); ` +
          `at the head's stream rate here (${mibPerSec.toFixed(1)} MiB/s) the HMACs take ${us(mibPerSec * 1024 * hmacOp.cpuUsPerOp)} per second of traffic`,
      );
    }
    out.push(
      `gossip: one signed head per round (default every 1 s, fanout 1) costs each node ${us(signOp.cpuUsPerOp)} to sign and ${us(verifyOp.cpuUsPerOp)} per head it verifies, per second`,
    );
  }
  console.log(out.join('\n'));

  if (values.json !== undefined) {
    const report = {
      base: { rev: values.base, label: base.label, sha: base.sha },
      head: { rev: values.head ?? 'working tree', label: head.label, sha: head.sha },
      keys: n,
      valueBytes: VALUE_BYTES,
      rounds,
      networks,
      cores: cpus().length,
      loadavg: { before: loadBefore, after: loadAfter },
      seconds: elapsed,
      budget: BUDGET,
      workloads: rows,
      crypto,
      derived,
    };
    writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
    step(`wrote ${values.json}`);
  }
}

await main();
