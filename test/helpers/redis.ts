// Redis clients nobody here wrote, for the Redis protocol tests: Debian's redis-cli as a child
// process (scripts/test-tools.sh installs it before npm test), and a raw socket for what no real
// client would send.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { TestDaemon } from './daemons.js';

/** The port a daemon started with --resp HOST:0 is bound to (status.resp). */
export async function respPort(d: TestDaemon): Promise<number> {
  const s = await d.status();
  if (s.resp == null) throw new Error('the daemon has no resp listener');
  return Number(s.resp.addr.slice(s.resp.addr.lastIndexOf(':') + 1));
}

/** Runs redis-cli against 127.0.0.1:port with `args`, writing `input` to its stdin; its output and exit code. */
export function redisCli(port: number, args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input);
  });
}

/** Sends `bytes` on a fresh connection and returns everything read until the server closes it (or `ms` pass). */
export function rawExchange(port: number, bytes: Buffer | string, ms = 10_000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false });
    }, ms);
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('error', (err) => (clearTimeout(timer), reject(err)));
    s.on('close', () => (clearTimeout(timer), resolve({ text, closed: true })));
    s.write(bytes);
  });
}
