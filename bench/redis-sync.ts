// The Redis half of the bootstrap benchmark: a primary redis-server filled with the same keys and
// values, then a replica started against it, timed until its full sync is over. Both without
// persistence; the primary streams its RDB straight to the socket (diskless sync, no delay) and the
// replica loads it straight from the socket (swapdb), the fastest full sync Redis offers.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Resp } from './resp.js';

/** Dataset shared by both halves: key i and its 100-byte value. */
export interface Dataset {
  n: number;
  key(i: number): string;
  value(i: number): Uint8Array;
}

export interface SyncTiming {
  /** From spawning the replica to its first log line. */
  firstLogMs: number;
  /** From spawning the replica to link up, no sync in progress and DBSIZE equal to n. */
  syncedMs: number;
}

const MSET_KEYS = 1000;
/** The repository root (benchmarks run from dist/bench/). */
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const IN_FLIGHT = 16;

/** True when redis-server is on PATH, installing Debian's packages first if needed (scripts/test-tools.sh). */
export function ensureRedis(): boolean {
  try {
    execFileSync(join(REPO, 'scripts', 'test-tools.sh'), { stdio: 'inherit' });
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    console.log(`no redis-server (${(err as Error).message.split('\n')[0]}); skipping the Redis half`);
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function connectWithin(port: number, ms: number): Promise<Resp> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await Resp.connect(port);
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not accept connections within ${ms} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** Starts and tears down redis-server processes; cleanup() kills them all and removes their dirs. */
export class RedisPair {
  private readonly procs: ChildProcess[] = [];
  private readonly dirs: string[] = [];
  private readonly clients: Resp[] = [];

  private async server(extra: string[]): Promise<{ port: number; proc: ChildProcess; firstLog: Promise<number> }> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'rkv-redis-'));
    this.dirs.push(dir);
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--logfile', '', '--daemonize', 'no'];
    const proc = spawn('redis-server', [...args, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(proc);
    let log = '';
    proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    proc.on('exit', (code) => code !== null && code !== 0 && console.log(`redis-server on port ${port} exited with ${code}:\n${log.slice(-2000)}`));
    const firstLog = new Promise<number>((resolve) => proc.stdout!.once('data', () => resolve(performance.now())));
    return { port, proc, firstLog };
  }

  /** A redis-server on a free port with `extra` settings (they override the defaults above); its port and pid once it answers. */
  async standalone(extra: string[]): Promise<{ port: number; pid: number }> {
    const { port, proc } = await this.server(extra);
    this.clients.push(await connectWithin(port, 10_000));
    return { port, pid: proc.pid! };
  }

  /** A primary on a free port, filled with the dataset through pipelined MSETs. */
  async primary(data: Dataset): Promise<{ port: number; version: string }> {
    const { port } = await this.server(['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0']);
    const c = await connectWithin(port, 10_000);
    this.clients.push(c);
    const pending: Promise<unknown>[] = [];
    for (let b = 0; b < data.n; b += MSET_KEYS) {
      const args: (string | Uint8Array)[] = ['MSET'];
      for (let i = b; i < Math.min(data.n, b + MSET_KEYS); i++) args.push(data.key(i), data.value(i));
      pending.push(c.call(...args));
      if (pending.length >= IN_FLIGHT) await pending.shift();
    }
    await Promise.all(pending);
    const size = await c.call('DBSIZE');
    if (size !== data.n) throw new Error(`the Redis primary holds ${size} keys, not ${data.n}`);
    const info = String(await c.call('INFO', 'server'));
    return { port, version: /redis_version:(\S+)/.exec(info)?.[1] ?? '?' };
  }

  /** Starts a replica of the primary on `port` and times its full sync. */
  async replicaSync(primaryPort: number, n: number, timeoutMs: number): Promise<SyncTiming> {
    const t0 = performance.now();
    const { port, firstLog } = await this.server(['--replicaof', '127.0.0.1', String(primaryPort), '--repl-diskless-load', 'swapdb']);
    const c = await connectWithin(port, timeoutMs);
    this.clients.push(c);
    const deadline = t0 + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const info = String(await c.call('INFO', 'replication'));
        const up = /master_link_status:up/.test(info) && /master_sync_in_progress:0/.test(info);
        const size = up ? await c.call('DBSIZE') : -1;
        last = `link ${/master_link_status:(\w+)/.exec(info)?.[1]}, dbsize ${size}`;
        if (up && size === n) break;
      } catch (err) {
        last = (err as Error).message; // e.g. LOADING while a non-swapdb load runs
      }
      if (performance.now() > deadline) throw new Error(`the Redis replica did not sync within ${timeoutMs} ms; last seen: ${last}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const syncedMs = performance.now() - t0;
    return { firstLogMs: (await firstLog) - t0, syncedMs };
  }

  async cleanup(): Promise<void> {
    for (const c of this.clients.splice(0)) c.close();
    await Promise.all(
      this.procs.splice(0).map((p) => {
        if (p.exitCode !== null || p.signalCode !== null) return undefined;
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        return gone;
      }),
    );
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}
