// The daemon as a process: one daemon per data directory (a kernel lock, free the moment its holder
// dies), signals (SIGTERM mid-bootstrap, SIGHUP), a prompt exit after "stopped", and start-ups that
// are refused with one clear line, a documented exit code, and nothing created.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, Fleet, untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { eventually, run, until, type Child } from '../helpers/process.js';

const fleet = new Fleet();
const children: Child[] = [];
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(25));
  for (const c of children.splice(0)) if (c.proc.exitCode === null && c.proc.signalCode === null) (c.proc.kill('SIGKILL'), await c.exited);
  await fleet.cleanup();
});

/** A daemon process the Fleet does not manage (for starts expected to be refused, or to race). */
function spawnDaemon(dataDir: string, ...extra: string[]): Child {
  const c = run([CLI, 'daemon', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--gossip-interval', '200', ...extra]);
  children.push(c);
  return c;
}

/** A refused start: exactly one line on stderr, the CLI's own, without a stack or libp2p's words. */
function expectOneLine(stderr: string, expected: string | RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  if (typeof expected === 'string') expect(lines[0]).toBe(expected);
  else expect(lines[0]).toMatch(expected);
  expect(stderr).not.toMatch(/\n\s+at |Error:|faultTolerance|libp2p/);
}

const ok = async (r: Promise<{ code: number | null; stdout: string; stderr: string }>) => {
  const res = await r;
  expect(res.code, res.stderr).toBe(0);
  return res;
};

/** Milliseconds from the "stopped" log line reaching us to the process's exit. */
async function stopAndMeasure(d: TestDaemon): Promise<{ code: number | null; stoppedToExitMs: number }> {
  let stoppedAt = 0;
  const onData = () => {
    if (stoppedAt === 0 && d.child.stderr().includes('"msg":"stopped"')) stoppedAt = Date.now();
  };
  d.child.proc.stderr!.on('data', onData);
  const { code } = await d.stop('SIGTERM');
  return { code, stoppedToExitMs: stoppedAt === 0 ? NaN : Date.now() - stoppedAt };
}

describe('one daemon per data directory', () => {
  it('a second daemon on the same data directory exits at once naming the first one\'s pid; the first keeps working', async () => {
    const a = await fleet.start();
    const before = await a.status();
    // its own port and control socket, so that only the data directory's lock can stop it
    const second = spawnDaemon(a.dataDir, '--control', join(fleet.tmpdir(), 'second.sock'));
    const { code } = await second.exited;
    expect(code, second.stderr()).toBe(75);
    expectOneLine(second.stderr(), `replikv: data directory ${a.dataDir} is in use by replikv daemon pid ${a.child.proc.pid}`);

    await ok(a.cli('put', 'still', 'here'));
    expect((await ok(a.cli('get', 'still'))).stdout).toBe('here');
    const after = await a.status();
    expect(after.replicaId).toBe(before.replicaId);
    expect(after.keys).toBe(1);
  });

  it('a daemon killed with SIGKILL does not hold its data directory: a restart at once starts, with its data', async () => {
    const a = await fleet.start();
    await ok(a.cli('put', 'k', 'v'));
    const { replicaId } = await a.status();
    await a.stop('SIGKILL');
    const again = await fleet.start({ dataDir: a.dataDir });
    expect((await ok(again.cli('get', 'k'))).stdout).toBe('v');
    expect((await again.status()).replicaId).toBe(replicaId);
    expect(again.peerId).toBe(a.peerId);
  });

  it('with durability relaxed, every write acknowledged before a SIGKILL is there after the restart', async () => {
    const relaxed = { extra: ['--durability', 'relaxed'] };
    const a = await fleet.start(relaxed);
    // 40 writers at once, so that commits are still being flushed when the kill comes
    const keys = Array.from({ length: 40 }, (_, i) => `acked-${i}`);
    await Promise.all(keys.map((k) => ok(a.cli('put', k, `v-${k}`))));
    await a.stop('SIGKILL');
    const again = await fleet.start({ ...relaxed, dataDir: a.dataDir });
    const lines = (await ok(again.cli('scan', '--prefix', 'acked-'))).stdout.trimEnd().split('\n');
    expect(lines.sort()).toEqual(keys.map((k) => `${k}\tv-${k}`).sort());
    expect((await again.status()).keys).toBe(keys.length);
  });

  it('of two daemons started at the same instant on a new data directory, exactly one runs', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = join(fleet.tmpdir(), 'data');
      const pair = [0, 1].map((i) => spawnDaemon(dir, '--control', join(fleet.tmpdir(), `c${i}.sock`)));
      const started = (c: Child) => c.stderr().includes('replikv daemon started');
      const exited = (c: Child) => c.proc.exitCode !== null || c.proc.signalCode !== null;
      await until(() => pair.every((c) => started(c) || exited(c)) && pair.some(exited), 'one daemon to start and the other to exit', 30_000);
      const loser = pair.find(exited)!;
      const winner = pair.find((c) => c !== loser)!;
      expect(started(winner), `round ${round}: ${pair.map((c) => c.stderr()).join('\n---\n')}`).toBe(true);
      expect(exited(winner)).toBe(false);
      expect(loser.proc.exitCode, loser.stderr()).toBe(75);
      expectOneLine(loser.stderr(), `replikv: data directory ${dir} is in use by replikv daemon pid ${winner.proc.pid}`);
      winner.proc.kill('SIGTERM');
      expect((await winner.exited).code, winner.stderr()).toBe(0);
    }
  });

  it('restore into a running daemon\'s data directory exits at once naming its pid, and the daemon keeps its data', async () => {
    const a = await fleet.start();
    await ok(a.cli('put', 'k', 'v'));
    const repo = join(fleet.tmpdir(), 'repo');
    await ok(a.cli('backup', 'create', '--type', 'full', '--repo', repo));
    const restore = run([CLI, 'restore', '--repo', repo, '--data-dir', a.dataDir]);
    const { code } = await restore.exited;
    expect(code, restore.stderr()).toBe(75);
    expectOneLine(restore.stderr(), `replikv: data directory ${a.dataDir} is in use by replikv daemon pid ${a.child.proc.pid}`);
    expect((await ok(a.cli('get', 'k'))).stdout).toBe('v');
  });
});

describe('signals', () => {
  const KEYS = 30_000;

  it('SIGTERM while bootstrapping exits 0 with a clean stop, and a restart resumes and reaches the same digest', async () => {
    const a = await fleet.start();
    const file = join(fleet.tmpdir(), 'keys.ndjson');
    writeFileSync(file, Array.from({ length: KEYS }, (_, i) => JSON.stringify({ key: `k/${String(i).padStart(6, '0')}`, value: 'v'.repeat(500) })).join('\n'));
    await ok(a.cli('import', file));
    const full = await a.status();
    expect(full.keys).toBe(KEYS);

    const opts = { dataDir: fleet.tmpdir(), bootstrap: [a.addr] };
    let b = await fleet.start(opts);
    // SIGTERM as soon as the status says bootstrapping; then again, after a restart, once keys flow
    // (if it is done before the first status, the keyspace must grow: the failure shows state "ready")
    for (const when of ['at the start', 'mid-stream'] as const) {
      const seen = await eventually(
        () => b.status(),
        (s) => s.state === 'bootstrapping' && (when === 'at the start' || (s.bootstrap?.keysReceived ?? 0) > 0),
        `the new node to be bootstrapping (${when})`,
      );
      const { code, stoppedToExitMs } = await stopAndMeasure(b);
      const log = b.child.stderr();
      expect(code, log).toBe(0);
      expect(log).toContain('"msg":"stopped"');
      expect(log).not.toMatch(/StoreError|unexpected error|Unhandled|"msg":"ready"/);
      console.log(`SIGTERM ${when} of a bootstrap (${seen.bootstrap?.keysReceived} of ${KEYS} keys): 'stopped' to exit ${stoppedToExitMs} ms`);
      b = await fleet.start(opts);
    }
    const wait = await b.cli('wait', '--ready', '--timeout', '120000');
    expect(wait.code, wait.stderr).toBe(0);
    const [, done] = await untilConverged([a, b], KEYS, 120_000);
    expect(done!.digest).toBe(full.digest);
  }, 240_000);

  it('SIGHUP is logged and ignored: the daemon keeps serving and later stops cleanly', async () => {
    const a = await fleet.start();
    a.child.proc.kill('SIGHUP');
    await until(() => a.child.stderr().includes('SIGHUP ignored') || a.child.proc.signalCode !== null || a.child.proc.exitCode !== null, 'the daemon to log SIGHUP');
    expect(a.child.proc.signalCode).toBeNull();
    expect(a.child.proc.exitCode).toBeNull();
    await ok(a.cli('put', 'after-hup', 'yes'));
    expect((await ok(a.cli('get', 'after-hup'))).stdout).toBe('yes');
    const { code } = await a.stop('SIGTERM');
    expect(code).toBe(0);
    expect(a.child.stderr()).toContain('"msg":"stopped"');
  });

  it('exits right after "stopped" (measured with two connected daemons, reported, not asserted)', async () => {
    const [a, b] = await fleet.cluster(2);
    await untilConnected([a!, b!]);
    await ok(a!.cli('put', 'k', 'v'));
    await untilConverged([a!, b!], 1);
    const times: number[] = [];
    for (const d of [a!, b!]) {
      const { code, stoppedToExitMs } = await stopAndMeasure(d);
      expect(code, d.child.stderr()).toBe(0);
      expect(d.child.stderr().trimEnd().split('\n').at(-1)).toContain('"msg":"stopped"');
      times.push(stoppedToExitMs);
    }
    console.log(`'stopped' to exit: ${times.join(' ms, ')} ms`);
  });
});

describe('a refused start creates nothing', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())));
    server = undefined;
  });

  async function portInUse(): Promise<number> {
    server = createServer();
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return (server.address() as { port: number }).port;
  }

  it('a listen address in use: exit 75, one line naming it, no data directory created and nothing left in an existing one', async () => {
    const port = await portInUse();
    const addr = `/ip4/127.0.0.1/tcp/${port}`;
    const fresh = join(fleet.tmpdir(), 'new', 'data');
    const existing = fleet.tmpdir();
    for (const dir of [fresh, existing]) {
      const c = run([CLI, 'daemon', '--data-dir', dir, '--listen', addr]);
      children.push(c);
      const { code } = await c.exited;
      expect(code, c.stderr()).toBe(75);
      expectOneLine(c.stderr(), `replikv: cannot listen on ${addr} (address already in use)`);
    }
    expect(existsSync(join(fresh, '..'))).toBe(false);
    expect(readdirSync(existing)).toEqual([]);
  });

  it('a bad swarm key file: exit 78, one line naming it, nothing created', async () => {
    const keyFile = join(fleet.tmpdir(), 'swarm.key');
    writeFileSync(keyFile, 'not a swarm key\n');
    const fresh = join(fleet.tmpdir(), 'data');
    const existing = fleet.tmpdir();
    for (const dir of [fresh, existing]) {
      const c = spawnDaemon(dir, '--swarm-key', keyFile);
      const { code } = await c.exited;
      expect(code, c.stderr()).toBe(78);
      expectOneLine(c.stderr(), new RegExp(`^replikv: ${keyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a swarm key`));
    }
    expect(existsSync(fresh)).toBe(false);
    expect(readdirSync(existing)).toEqual([]);
  });

  it('a data directory that cannot be created or written: exit 75, one line with the reason', async () => {
    const parent = fleet.tmpdir();
    const file = join(parent, 'a-file');
    writeFileSync(file, 'x');
    const cases: [string, string][] = [
      [join(file, 'data'), 'not a directory (ENOTDIR)'],
      [file, 'not a directory (EEXIST)'],
      // procfs answers mkdir with ENOENT under an existing parent: Node's recursive mkdir spins for ever on it
      ['/proc/replikv-test/data', 'no such file or directory (ENOENT)'],
    ];
    for (const [dir, reason] of cases) {
      const c = spawnDaemon(dir);
      const { code } = await c.exited;
      expect(code, c.stderr()).toBe(75);
      expectOneLine(c.stderr(), `replikv: data directory ${dir} cannot be created or written: ${reason}`);
    }
    expect(readdirSync(parent)).toEqual(['a-file']);
    // and a directory whose lock file cannot be opened (a directory in its place)
    const odd = fleet.tmpdir();
    mkdirSync(join(odd, 'daemon.lock'));
    const c = spawnDaemon(odd);
    expect((await c.exited).code, c.stderr()).toBe(75);
    expectOneLine(c.stderr(), /^replikv: data directory .* cannot be written: EISDIR$/);
    expect(readdirSync(odd)).toEqual(['daemon.lock']);
  });
});
