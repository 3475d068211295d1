// `npm start` under a supervisor: SIGTERM goes to the npm process only, and npm forwards it to
// its script's shell alone. The daemon must be that process (the script execs node), or it keeps
// running as an orphan holding the data directory's lock (dash, /bin/sh here, does not exec the
// last command of `sh -c` by itself).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/control/client.js';
import { Fleet } from '../helpers/daemons.js';
import { eventually, run, until, type Child } from '../helpers/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const fleet = new Fleet();
let npm: Child | undefined;
let daemonPid: number | undefined;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(npm?.stderr().slice(-3000));
  // a failed run must not leave an orphaned daemon behind
  if (daemonPid !== undefined && alive(daemonPid)) process.kill(daemonPid, 'SIGKILL');
  if (npm !== undefined && npm.proc.exitCode === null && npm.proc.signalCode === null) (npm.proc.kill('SIGKILL'), await npm.exited);
  npm = daemonPid = undefined;
  await fleet.cleanup();
});

describe('npm start', () => {
  it('SIGTERM to the npm process stops the daemon cleanly and frees its data directory', async () => {
    const dataDir = join(fleet.tmpdir(), 'data');
    // config/default.json, with the data directory and the peer port moved out of the way
    npm = run(['start', '--', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0'], { cwd: ROOT, exe: 'npm' });
    const status = await eventually(() => new ControlClient(join(dataDir, 'control.sock')).status(), (s) => s.state === 'ready', 'the daemon under npm start to be ready', 60_000);
    expect(status.addrs.some((a) => a.startsWith('/ip4/127.0.0.1/'))).toBe(true);
    daemonPid = Number(readFileSync(join(dataDir, 'daemon.lock'), 'utf8').trim());
    expect(alive(daemonPid)).toBe(true);

    npm.proc.kill('SIGTERM'); // the npm pid only, as a supervisor does
    const { code } = await npm.exited;
    const pid = daemonPid;
    await until(() => !alive(pid), `the daemon (pid ${pid}) to exit after SIGTERM to npm`, 30_000);
    expect(code, npm.stderr()).toBe(0);
    expect(npm.stderr()).toContain('"msg":"stopped"');
  });
});
