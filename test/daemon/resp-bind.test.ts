// A busy --resp port refuses the daemon start (exit 75) before anything is created: a fresh data
// directory is not made, an existing one's files are left byte for byte (but the lock file, which
// names the last pid that held it), and once the port is free the same command starts and
// redis-cli gets PONG from it.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/control/client.js';
import { CLI, Fleet } from '../helpers/daemons.js';
import { run, until, type Child } from '../helpers/process.js';
import { redisCli } from '../helpers/redis.js';

const fleet = new Fleet();
const children: Child[] = [];
let busy: Server | undefined;
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') for (const c of children) console.error(c.stderr().split('\n').slice(-25).join('\n'));
  for (const c of children.splice(0)) if (c.proc.exitCode === null && c.proc.signalCode === null) (c.proc.kill('SIGKILL'), await c.exited);
  busy?.close();
  busy = undefined;
  await fleet.cleanup();
});

/** A port another program listens on. */
async function portInUse(): Promise<number> {
  busy = createServer();
  await new Promise<void>((r) => busy!.listen(0, '127.0.0.1', r));
  return (busy.address() as AddressInfo).port;
}

/** The daemon on `dir` with its own swarm key (DATA_DIR/swarm.key, so a refused start could have made one). */
function daemon(dir: string, resp: string): Child {
  const c = run([CLI, 'daemon', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--resp', resp]);
  children.push(c);
  return c;
}

/** Every entry under `dir`: path, mode and, for files, a digest of the bytes. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const st = lstatSync(path);
      const digest = st.isFile() ? createHash('sha256').update(readFileSync(path)).digest('hex') : st.isDirectory() ? 'dir' : 'other';
      out[join(rel, name)] = `${st.mode.toString(8)} ${st.size} ${digest}`;
      if (st.isDirectory()) walk(path, join(rel, name));
    }
  };
  walk(dir, '');
  return out;
}

async function refused(dir: string, port: number): Promise<void> {
  const c = daemon(dir, `127.0.0.1:${port}`);
  const { code } = await c.exited;
  expect(code, c.stderr()).toBe(75);
  const lines = c.stderr().trimEnd().split('\n');
  expect(lines, c.stderr()).toHaveLength(1);
  expect(lines[0]).toBe(`replikv: resp: 127.0.0.1:${port} is in use (by another program, or by another listener of this daemon: --listen, --metrics)`);
}

describe('a busy --resp port', () => {
  it('refuses a start on a fresh data directory and creates nothing; once free, the same command serves PONG', async () => {
    const port = await portInUse();
    const dir = join(fleet.tmpdir(), 'new', 'data');
    await refused(dir, port);
    expect(existsSync(join(dir, '..')), 'no data directory (nor its parent) made').toBe(false);

    await new Promise<void>((r) => busy!.close(() => r()));
    busy = undefined;
    const c = daemon(dir, `127.0.0.1:${port}`);
    await until(() => c.stderr().includes('"resp listening"') || c.proc.exitCode !== null, 'resp listening', 60_000);
    expect(c.proc.exitCode, c.stderr()).toBeNull();
    const line = JSON.parse(c.stderr().split('\n').find((l) => l.includes('"resp listening"'))!) as { addr: string };
    expect(line.addr).toBe(`127.0.0.1:${port}`);
    expect((await new ControlClient(join(dir, 'control.sock')).status()).resp).toEqual({ addr: `127.0.0.1:${port}` });
    expect(await redisCli(port, ['PING'])).toMatchObject({ code: 0, stdout: 'PONG\n' });
    for (const f of ['identity.key', 'swarm.key', 'store']) expect(existsSync(join(dir, f)), f).toBe(true);
  }, 120_000);

  it('leaves an existing data directory byte for byte as it was', async () => {
    const dir = fleet.tmpdir();
    const first = daemon(dir, '127.0.0.1:0');
    await until(() => first.stderr().includes('"msg":"ready"') || first.proc.exitCode !== null, 'the first start to be ready', 60_000);
    expect(first.proc.exitCode, first.stderr()).toBeNull();
    first.proc.kill('SIGTERM');
    expect((await first.exited).code, first.stderr()).toBe(0);
    const before = snapshot(dir);
    for (const f of ['identity.key', 'swarm.key', join('store', 'data.mdb')]) expect(Object.keys(before), f).toContain(f);

    await refused(dir, await portInUse());
    // daemon.lock names its last holder's pid (data-dir.ts), the refused start's now: that file
    // alone may differ, as after any refused start
    const lockless = (s: Record<string, string>) => ({ ...s, 'daemon.lock': 'present' });
    expect(lockless(snapshot(dir))).toEqual(lockless(before));
  }, 120_000);

  it('refuses a start on an existing empty data directory and leaves it empty', async () => {
    const dir = fleet.tmpdir();
    await refused(dir, await portInUse());
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);
});
