// Issue 8, command line: scripts/cluster.sh takes a base port, and its status shows each node's
// state, keys and peers. Runs the real script (real daemons) in a temporary CLUSTER_DIR on free
// ports, and always stops the cluster it started.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from '../../src/control/api.js';
import { CLI, Fleet } from '../helpers/daemons.js';
import { built, eventually, run } from '../helpers/process.js';

const SCRIPT = join(built('src/cli.ts'), '../../../scripts/cluster.sh');
const fleet = new Fleet();
let clusterDir: string | undefined;

afterEach(async () => {
  if (clusterDir !== undefined) {
    await script(clusterDir, 'stop');
    // Should stop have failed, no daemon of ours outlives the test.
    for (const n of [1, 2, 3]) {
      const pidFile = join(clusterDir, `node${n}.pid`);
      if (existsSync(pidFile)) {
        try {
          process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    clusterDir = undefined;
  }
  await fleet.cleanup();
});

function script(dir: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn('bash', [SCRIPT, ...args], { env: { ...process.env, CLUSTER_DIR: dir, BASE_PORT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((resolve) => proc.on('exit', (code) => resolve({ code, stdout: out, stderr: err })));
}

const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/** A base port P with P, P+1 and P+2 free on 127.0.0.1 (away from the default 7401). */
async function freeBasePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 20_000 + Math.floor(Math.random() * 40_000);
    if ((await canListen(p)) && (await canListen(p + 1)) && (await canListen(p + 2))) return p;
  }
  throw new Error('no three free consecutive ports found');
}

describe('scripts/cluster.sh', () => {
  it('refuses a base port that is not a port, with exit 64', async () => {
    const dir = fleet.tmpdir();
    clusterDir = dir; // whatever a wrong script would start there is stopped
    for (const bad of ['x', '0', '70000']) {
      const r = await script(dir, 'start', '--base-port', bad);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(/base port must be a number from 1 to 65533/);
    }
    expect(existsSync(join(dir, 'node1'))).toBe(false);
  });

  it('starts three nodes from --base-port P on P..P+2, and status shows state, keys and peers of each', async () => {
    const dir = fleet.tmpdir();
    const base = await freeBasePort();
    clusterDir = dir;
    const start = await script(dir, 'start', '--base-port', String(base));
    expect(start.code, start.stderr).toBe(0);
    expect(start.stdout).toContain(`127.0.0.1:${base}-${base + 2}`);
    // The three nodes share one swarm key the script made (0600), and it says so.
    expect(start.stdout).toContain(`--swarm-key ${join(dir, 'swarm.key')}`);
    expect(statSync(join(dir, 'swarm.key')).mode & 0o777).toBe(0o600);

    // Each node listens on its own port of the range.
    for (const n of [1, 2, 3]) {
      const s = run([CLI, 'status', '--json', '--data-dir', join(dir, `node${n}`)]);
      expect((await s.exited).code).toBe(0);
      expect((JSON.parse(s.stdout()) as Status).addrs.some((a) => a.includes(`/tcp/${base + n - 1}/`))).toBe(true);
    }

    const line = (n: number, keys: number) => `node${n}  127.0.0.1:${base + n - 1}  state ready  keys ${keys}  peers 2/2 alive`;
    const expected = (keys: number) => [1, 2, 3].map((n) => line(n, keys)).join('\n') + '\n';
    await eventually(() => script(dir, 'status'), (r) => r.code === 0 && r.stdout === expected(0), 'all three nodes ready with 2 alive peers', 60_000);

    const put = run([CLI, 'put', 'greeting', 'hello', '--data-dir', join(dir, 'node1')]);
    expect((await put.exited).code).toBe(0);
    const after = await eventually(() => script(dir, 'status'), (r) => r.stdout === expected(1), 'the key counted on every node', 60_000);
    expect(after.stdout.trimEnd().split('\n')).toHaveLength(3);

    const stop = await script(dir, 'stop');
    expect(stop.code).toBe(0);
    const down = await script(dir, 'status');
    expect(down.stdout).toMatch(new RegExp(`^node1  127\\.0\\.0\\.1:${base}  not running: no replikv daemon is listening`, 'm'));
    for (const n of [1, 2, 3]) expect(existsSync(join(dir, `node${n}.pid`))).toBe(false);

    // A plain start restarts the cluster on the ports it had (its nodes remember each other there).
    const again = await script(dir, 'start');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`127.0.0.1:${base}-${base + 2}`);
    await eventually(() => script(dir, 'status'), (r) => r.stdout === expected(1), 'the restarted nodes ready, with the key', 60_000);
    expect((await script(dir, 'stop')).code).toBe(0);
  }, 240_000);
});
