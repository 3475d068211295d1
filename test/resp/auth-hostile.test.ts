// A password-protected Redis listener (redis-cli and ioredis with and without the password), a
// non-loopback listener refused without one, and hostile input: each bad connection gets an error
// and is closed, while the daemon keeps serving everyone else.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, Fleet, type TestDaemon } from '../helpers/daemons.js';
import { run } from '../helpers/process.js';
import { rawExchange, redisCli, respPort } from '../helpers/redis.js';

const fleet = new Fleet();
let node: TestDaemon;
let port: number;
const PASSWORD = 'correct horse battery staple';

beforeAll(async () => {
  const dir = fleet.tmpdir();
  const file = join(dir, 'resp.password');
  writeFileSync(file, `${PASSWORD}\n`, { mode: 0o600 });
  node = await fleet.start({ extra: ['--resp', '127.0.0.1:0', '--resp-password-file', file] });
  port = await respPort(node);
});

afterAll(() => fleet.cleanup());

describe('AUTH', () => {
  it('refuses every command before AUTH, and a wrong password; takes the right one', async () => {
    expect((await redisCli(port, ['GET', 'k'])).stdout).toMatch(/^NOAUTH Authentication required/);
    const wrong = await redisCli(port, ['-a', 'nope', '--no-auth-warning', 'PING']);
    expect(wrong.stdout + wrong.stderr).toMatch(/WRONGPASS invalid username-password pair/);
    expect((await redisCli(port, ['-a', PASSWORD, '--no-auth-warning', 'SET', 'k', 'v'])).stdout).toBe('OK\n');
    expect((await redisCli(port, ['--user', 'default', '--pass', PASSWORD, '--no-auth-warning', 'GET', 'k'])).stdout).toBe('v\n');
    const good = new Redis({ host: '127.0.0.1', port, password: PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      expect(await good.get('k')).toBe('v');
    } finally {
      good.disconnect();
    }
    const bad = new Redis({ host: '127.0.0.1', port, password: 'wrong', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const errors: string[] = [];
    bad.on('error', (e: Error) => errors.push(e.message));
    try {
      await expect(bad.connect().then(() => bad.get('k'))).rejects.toThrow();
      expect(errors.join('\n')).toMatch(/WRONGPASS invalid username-password pair/);
    } finally {
      bad.disconnect();
    }
  });

  it('a listener other than loopback without a password is refused at start (exit 78, nothing created)', async () => {
    const dir = join(fleet.tmpdir(), 'never');
    const child = run([CLI, 'daemon', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--resp', '0.0.0.0:0']);
    const { code } = await child.exited;
    expect(code).toBe(78);
    expect(child.stderr()).toMatch(/resp: 0\.0\.0\.0:0 is reachable from other machines and no respPassword is set/);
    expect(existsSync(dir)).toBe(false);
    const bad = run([CLI, 'daemon', '--data-dir', dir, '--resp', 'localhost']);
    expect((await bad.exited).code).toBe(78);
    expect(bad.stderr()).toMatch(/expected HOST:PORT/);
  });
});

describe('hostile clients', () => {
  const stillServes = async () => expect((await redisCli(port, ['-a', PASSWORD, '--no-auth-warning', 'PING'])).stdout).toBe('PONG\n');

  it('a huge bulk length is refused at its header and the connection closed', async () => {
    const r = await rawExchange(port, `AUTH "${PASSWORD}"\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$99999999999\r\n`);
    expect(r.text).toBe('+OK\r\n-ERR Protocol error: invalid bulk length (at most 17825792 bytes)\r\n');
    expect(r.closed).toBe(true);
    await stillServes();
  });

  it('an inline line that never ends is refused once it passes 64 KiB', async () => {
    const r = await rawExchange(port, 'GET ' + 'x'.repeat(70_000));
    expect(r.text).toBe('-ERR Protocol error: too big inline request\r\n');
    expect(r.closed).toBe(true);
    await stillServes();
  });

  it('garbage bytes get errors, never a crash', async () => {
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    const r = await rawExchange(port, Buffer.concat([junk, Buffer.from('\r\n*1\r\n$x\r\n')]));
    expect(r.text).toMatch(/^-NOAUTH Authentication required\.\r\n/);
    expect(r.text).toMatch(/-ERR Protocol error: /);
    expect(r.closed).toBe(true);
    const mid = await rawExchange(port, `*2\r\n$4\r\nAUTH\r\n$${Buffer.byteLength(PASSWORD)}\r\n${PASSWORD}\r\n*1\r\n+PING\r\n`);
    expect(mid.text).toBe("+OK\r\n-ERR Protocol error: expected '$', got '+'\r\n");
    await stillServes();
    expect(node.child.proc.exitCode).toBeNull();
    expect(node.child.stderr()).toMatch(/resp: protocol error, connection closed/);
  });
});
