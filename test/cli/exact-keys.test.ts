// Issue 8, command line: a KEY (or VALUE, or scan bound) the shell gives as bytes that are not
// UTF-8 reaches Node as U+FFFD replacements. The real CLI against a real daemon must refuse it
// (exit 1, naming --key-base64) instead of writing a changed key, and --key-base64 names any key
// exactly. Arguments with invalid UTF-8 are built by bash ($'\xff'), since spawn takes strings.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, Fleet, type TestDaemon } from '../helpers/daemons.js';

const fleet = new Fleet();
afterEach(() => fleet.cleanup());

/** Runs `replikv ARGS` through bash, so ARGS may hold $'\xff' quoting (raw bytes). */
function shell(d: TestDaemon, args: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn('bash', ['-c', `exec "$NODE" "$CLI" ${args} --data-dir "$DIR"`], {
    env: { ...process.env, NODE: process.execPath, CLI, DIR: d.dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout: out, stderr: err })));
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('keys and values that are not valid UTF-8 on the command line', () => {
  it('refuses them with exit 1 and writes nothing, so two different byte keys no longer collide', async () => {
    const d = await fleet.start();
    const first = await shell(d, `put $'\\xff' first`);
    const second = await shell(d, `put $'\\xfe' second`);
    for (const r of [first, second]) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^replikv: invalid key: the argument is not valid UTF-8.*--key-base64/);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    // Nothing was written: no U+FFFD key holding either value, no key at all.
    expect((await d.cli('get', '--key-base64', b64('\uFFFD'))).code).toBe(1);
    expect((await d.status()).keys).toBe(0);
    expect((await shell(d, `get $'\\xff'`)).code).toBe(1);
    expect((await shell(d, `del $'\\xfe'`)).stderr).toMatch(/--key-base64/);

    // A VALUE that is not UTF-8 is refused the same way, pointing at stdin.
    const value = await shell(d, `put k $'a\\xffb'`);
    expect(value.code).toBe(1);
    expect(value.stderr).toMatch(/^replikv: invalid value: .*pass - and give the raw bytes on stdin/);
    const prefix = await shell(d, `scan --prefix $'\\xc3'`);
    expect([prefix.code, prefix.stdout]).toEqual([1, '']);
    expect(prefix.stderr).toMatch(/invalid --prefix/);
    expect((await shell(d, `scan --after=$'\\xc3'`)).code).toBe(1);
    expect((await d.status()).keys).toBe(0);

    // A U+FFFD the user really typed (its UTF-8 bytes) is a key like any other.
    const typed = await shell(d, `put $'\\xef\\xbf\\xbd' typed`);
    expect(typed.code, typed.stderr).toBe(0);
    expect(await shell(d, `get $'\\xef\\xbf\\xbd'`)).toMatchObject({ code: 0, stdout: 'typed' });
    expect((await d.status()).keys).toBe(1);
  });

  it('--key-base64 names a key with a newline or a leading - exactly, for put, get and del', async () => {
    const d = await fleet.start();
    for (const [key, value] of [['line\nbreak', 'one'], ['-dash', 'two'], ['\t\u00e9\u{1F600}', 'three']] as const) {
      const put = await d.cli('put', '--key-base64', b64(key), value);
      expect(put.code, put.stderr).toBe(0);
      expect(await d.cli('get', '--key-base64', b64(key))).toMatchObject({ code: 0, stdout: value });
      expect(JSON.parse((await d.cli('get', '--json', '--key-base64', b64(key))).stdout)).toMatchObject({ key, value });
    }
    const scan = JSON.parse((await d.cli('scan', '--json')).stdout) as { items: { key: string }[] };
    expect(scan.items.map((i) => i.key).sort()).toEqual(['\t\u00e9\u{1F600}', '-dash', 'line\nbreak'].sort());

    expect((await d.cli('del', '--key-base64', b64('line\nbreak'))).code).toBe(0);
    const gone = await d.cli('get', '--key-base64', b64('line\nbreak'));
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe('replikv: not found: "line\\nbreak"\n'); // one line
    expect((await d.status()).keys).toBe(2);

    const bad = await d.cli('put', '--key-base64', '/w==', 'v');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^replikv: invalid key: the base64 decodes to bytes that are not valid UTF-8/);
    expect((await d.cli('get', '--key-base64', 'not base64!')).stderr).toMatch(/not canonical padded base64/);
    expect((await d.status()).keys).toBe(2);
  });
});
