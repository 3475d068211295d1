// Issue 8, command line: `replikv` and `replikv backup` with no command are usage errors (exit 64,
// usage on stderr), and with --json every error is one JSON line on stderr,
// {"error": MESSAGE, "code": CODE}, with the same exit codes as without it. Real CLI, real daemon.
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, Fleet } from '../helpers/daemons.js';
import { run } from '../helpers/process.js';

const fleet = new Fleet();
afterEach(() => fleet.cleanup());

async function cli(...args: string[]) {
  const c = run([CLI, ...args]);
  const { code } = await c.exited;
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

/** The one JSON line an error with --json must be (fails on anything else on stderr). */
function jsonError(stderr: string): { error: string; code: string } {
  const lines = stderr.split('\n');
  expect(lines, stderr).toHaveLength(2);
  expect(lines[1]).toBe('');
  const parsed = JSON.parse(lines[0]!) as { error: string; code: string };
  expect(Object.keys(parsed).sort()).toEqual(['code', 'error']);
  return parsed;
}

describe('usage errors', () => {
  it('replikv and replikv backup with no command print the usage on stderr and exit 64', async () => {
    const bare = await cli();
    expect(bare.code).toBe(64);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toMatch(/^Usage: replikv \[options\] \[command\]/);
    const backup = await cli('backup');
    expect(backup.code).toBe(64);
    expect(backup.stdout).toBe('');
    expect(backup.stderr).toMatch(/^Usage: replikv backup \[options\] \[command\]/);
    // Asking for help is not an error.
    const help = await cli('help');
    expect(help.code).toBe(0);
    expect((await cli('backup', '--help')).code).toBe(0);
  });
});

describe('--json errors', () => {
  it('are one JSON line with the error code, and keep the exit codes: usage 64, no daemon 2, not found 1', async () => {
    const usage = await cli('put', 'only-a-key', '--json');
    expect(usage.code).toBe(64);
    expect(jsonError(usage.stderr)).toEqual({ error: "missing required argument 'value'", code: 'USAGE' });
    const unknown = await cli('scan', '--json', '--no-such-flag');
    expect(unknown.code).toBe(64);
    expect(jsonError(unknown.stderr)).toMatchObject({ code: 'USAGE', error: expect.stringContaining('--no-such-flag') });

    const dir = fleet.tmpdir();
    const none = await cli('status', '--json', '--data-dir', dir);
    expect(none.code).toBe(2);
    expect(jsonError(none.stderr)).toMatchObject({ code: 'DAEMON_UNAVAILABLE', error: expect.stringContaining(`${dir}/control.sock`) });

    const d = await fleet.start();
    const missing = await d.cli('get', 'nope', '--json');
    expect([missing.code, missing.stdout]).toEqual([1, '']);
    expect(jsonError(missing.stderr)).toEqual({ error: 'not found: nope', code: 'NOT_FOUND' });
    const badKey = await d.cli('put', '--key-base64', '/w==', 'v', '--json');
    expect(badKey.code).toBe(1);
    expect(jsonError(badKey.stderr)).toMatchObject({ code: 'INVALID_KEY' });
    const badContext = await d.cli('put', 'k', 'v', '--context', 'garbage', '--json');
    expect(badContext.code).toBe(1);
    expect(jsonError(badContext.stderr)).toMatchObject({ code: 'INVALID_TOKEN', error: expect.stringMatching(/^invalid context token/) });

    // Without --json the same errors stay plain text.
    expect((await d.cli('get', 'nope')).stderr).toBe('replikv: not found: nope\n');
  });
});
