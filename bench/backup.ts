// Backup benchmark: 1,000,000 keys with unique 100-byte random values (random values do not
// compress, the honest case). The keyspace is served on a real control socket by this process;
// `backup create` and `restore` run as the real CLI in their own processes, as a user runs them.
// Prints full backup and restore rates, the size of an incremental after 1% of the keys changed,
// and compressor speeds on one real chunk. Asserts nothing.

import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { encodeChunk } from '../src/backup/frames.js';
import { Repo } from '../src/backup/repo.js';
import { Clock } from '../src/core/clock.js';
import type { NodeApi } from '../src/control/api.js';
import { startControlServer } from '../src/control/server.js';
import { Keyspace, type WriteOp } from '../src/store/keyspace.js';

const N = Number(process.env.BENCH_KEYS ?? 1_000_000);
const BATCH = 1000;
const CLI = new URL('../src/cli.js', import.meta.url).pathname;
const key = (i: number) => `user:${String(i).padStart(8, '0')}`;
const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function writeKeys(ks: Keyspace, indices: Iterable<number>): Promise<void> {
  let ops: WriteOp[] = [];
  const pending: Promise<unknown>[] = [];
  for (const i of indices) {
    ops.push({ type: 'put', key: key(i), value: randomBytes(100) });
    if (ops.length === BATCH) {
      pending.push(ks.write(ops));
      ops = [];
      if (pending.length >= 4) await pending.shift();
    }
  }
  pending.push(ks.write(ops));
  await Promise.all(pending);
}

/** Runs the CLI; resolves with the wall time in seconds (the process start included). */
function cli(args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`replikv ${args.join(' ')}: ${err}`))));
  });
}

/** What the daemon does for a full backup, without sending: read one snapshot, encode the frames. */
function walk(ks: Keyspace): number {
  const t0 = performance.now();
  const view = ks.changes(Clock.empty());
  try {
    for (const chunk of view.chunks) encodeChunk(chunk);
  } finally {
    view.close();
  }
  return (performance.now() - t0) / 1000;
}

function codecRates(raw: Buffer): string[][] {
  const rate = (f: () => Buffer) => {
    const t0 = performance.now();
    const out = f();
    return `${fmt(raw.length / 1e6 / ((performance.now() - t0) / 1000))} MB/s, ratio ${fmt(out.length / raw.length, 3)}`;
  };
  return [
    ['chunk codec: brotli quality 1 (chosen)', rate(() => brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } }))],
    ['chunk codec: gzip level 1', rate(() => gzipSync(raw, { level: 1 }))],
    ['chunk codec: none', `ratio 1.000`],
  ];
}

export async function benchBackup(): Promise<void> {
  console.log(`\n# backup: ${fmt(N)} keys, unique 100-byte random values; CLI processes against a control socket`);
  const dirs = [mkdtempSync(join(tmpdir(), 'replikv-bench-bk-'))];
  const [root] = dirs as [string];
  const ks = await Keyspace.openDir(join(root, 'node'), { durability: 'relaxed' });
  // What backup create asks of a daemon: that it answers, and the stream.
  const api = { changes: (since) => ks.changes(since), status: () => ({ keys: ks.count() }) } as Pick<NodeApi, 'changes'> as NodeApi;
  const socket = join(root, 'control.sock');
  const server = await startControlServer(socket, api);
  try {
    await writeKeys(ks, Array.from({ length: N }, (_, i) => i));
    const logical = N * (key(0).length + 100);
    const tWalk = walk(ks);
    const repoDir = join(root, 'repo');
    const tFull = await cli(['backup', 'create', '--type', 'full', '--repo', repoDir, '--control', socket]);
    const changed = new Set<number>();
    while (changed.size < N / 100) changed.add(randomInt(N));
    await writeKeys(ks, changed);
    const tInc = await cli(['backup', 'create', '--type', 'incremental', '--repo', repoDir, '--control', socket]);
    const tRestore = await cli(['restore', '--repo', repoDir, '--data-dir', join(root, 'restored'), '--until', '000001-full']);
    const repo = await Repo.open(repoDir);
    const [full, inc] = (await repo.manifests()) as [Awaited<ReturnType<Repo['manifests']>>[number], Awaited<ReturnType<Repo['manifests']>>[number]];
    const rows = [
      ['keyspace (keys + values)', `${fmt(logical / 1e6, 1)} MB; ${fmt(full.rawBytes / 1e6, 1)} MB as encoded key states`],
      ['floor: the snapshot walk and frame encoding alone, in process', `${fmt(tWalk, 2)} s, ${fmt(logical / 1e6 / tWalk)} MB/s of keyspace`],
      ['full backup (`backup create --type full`)', `${fmt(tFull, 2)} s, ${fmt(logical / 1e6 / tFull)} MB/s of keyspace; ${fmt(full.bytes / 1e6, 1)} MB stored in ${full.chunks.length} chunks`],
      ['restore of the full backup (`restore`)', `${fmt(tRestore, 2)} s, ${fmt(logical / 1e6 / tRestore)} MB/s of keyspace`],
      [`incremental after ${fmt(changed.size)} keys (1%) changed`, `${fmt(tInc, 2)} s; ${fmt(inc.bytes / 1e6, 2)} MB stored = ${fmt(inc.bytes / full.bytes, 4)} of the full; ${fmt(inc.entries)} key states`],
      ...codecRates(await repo.readChunk(full, full.chunks[0]!)),
    ];
    const width = Math.max(...rows.map((r) => r[0]!.length));
    for (const [k, v] of rows) console.log(`${k!.padEnd(width)}  ${v}`);
  } finally {
    await server.close();
    await ks.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
