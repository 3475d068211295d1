// `replikv daemon & replikv wait --ready`: wait may start before the daemon's control socket exists,
// and keeps trying until its timeout (exit 2 when no daemon answered). Other commands fail at once.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonUnavailableError } from '../../src/control/client.js';
import { notListening } from '../../src/control/until-answered.js';
import { cli } from '../helpers/backup-cli.js';
import { CLI, Fleet } from '../helpers/daemons.js';
import { run, until, type Child } from '../helpers/process.js';

const fleet = new Fleet();
let wait: Child | undefined;
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(25), wait?.stderr());
  if (wait !== undefined && wait.proc.exitCode === null) wait.proc.kill('SIGKILL'); // a wait left over by a failed test
  wait = undefined;
  await fleet.cleanup();
});

const errno = (code: string) => Object.assign(new Error(code), { code });

describe('wait for a daemon that is not up yet', () => {
  it('retries only while nothing listens on the socket', () => {
    expect(notListening(new DaemonUnavailableError('x', { cause: errno('ENOENT') }))).toBe(true);
    expect(notListening(new DaemonUnavailableError('x', { cause: errno('ECONNREFUSED') }))).toBe(true);
    expect(notListening(new DaemonUnavailableError('x', { cause: errno('EACCES') }))).toBe(false);
    expect(notListening(errno('ENOENT'))).toBe(false);
  });

  it('wait started before the daemon exits 0 once the daemon is up and ready', async () => {
    const dataDir = join(fleet.tmpdir(), 'node');
    const w = (wait = run([CLI, 'wait', '--ready', '--timeout', '120000', '--data-dir', dataDir]));
    // it has asked and found no socket, and is still waiting
    await until(() => w.stderr().includes(`waiting for a replikv daemon on ${join(dataDir, 'control.sock')}`) || w.proc.exitCode !== null, 'wait to find no daemon yet', 30_000);
    expect(w.proc.exitCode, w.stderr()).toBeNull();

    await fleet.start({ dataDir });
    const { code } = await w.exited;
    expect(code, w.stderr()).toBe(0);
    expect(w.stdout()).toBe('ready\n');
  });

  it('wait --timeout 1500 with no daemon exits 2 after the timeout, saying no daemon answered; other commands fail at once', async () => {
    const dataDir = join(fleet.tmpdir(), 'none');
    const sock = join(dataDir, 'control.sock');
    const started = Date.now();
    const r = await cli('wait', '--ready', '--timeout', '1500', '--data-dir', dataDir);
    const took = Date.now() - started;
    expect(r.code, r.stderr).toBe(2);
    expect(took).toBeGreaterThanOrEqual(1500);
    expect(r.stderr).toContain(`no replikv daemon answered within 1500 ms: no replikv daemon is listening on ${sock}`);

    const json = await cli('wait', '--timeout', '1500', '--json', '--data-dir', dataDir);
    expect(json.code, json.stderr).toBe(2);
    expect(JSON.parse(json.stderr.trim())).toMatchObject({ code: 'DAEMON_UNAVAILABLE' }); // one JSON line, no notice

    const get = await cli('get', 'k', '--data-dir', dataDir);
    expect(get.code, get.stderr).toBe(2);
    expect(get.stderr).toContain(`no replikv daemon is listening on ${sock}`);
    expect(get.stderr).not.toContain('answered within');
  });
});
