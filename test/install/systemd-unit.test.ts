// Issue 11: the systemd unit in packaging/ is one systemd accepts, hardened, consistent with the
// daemon's exit codes, and its sysusers entry makes the user it runs as. systemd is not PID 1 here,
// so these are systemd's own offline checks (systemd-analyze verify and security --offline,
// systemd-sysusers --root); the unit's ExecStart line is run for real in package-install.test.ts.
// `verify` needs ExecStart's program to exist: copies here run node with the built cli.js. It does
// not look the User= up (User=nosuchuser passes it): the sysusers check below makes the user.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execStartWords, requireTool, ROOT, runTool, UNIT_FILE, type Ran } from '../helpers/install.js';
import { built } from '../helpers/process.js';

const unit = readFileSync(UNIT_FILE, 'utf8');
// The daemon's exit codes, read from the source (importing command-line.ts would load commander and the client for four numbers).
const EXIT = JSON.parse(
  /export const EXIT = (\{[^}]*\})/.exec(readFileSync(join(ROOT, 'src', 'command-line.ts'), 'utf8'))![1]!.replace(/(\w+):/g, '"$1":'),
) as Record<'usage' | 'config' | 'resource', number>;
const analyze = requireTool('systemd-analyze', 'systemd');
const scratch = mkdtempSync(join(tmpdir(), 'replikv-unit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The unit with ExecStart's program replaced by node running the built cli.js, in a fresh folder. */
function unitCopy(text: string): string {
  const file = join(mkdtempSync(join(scratch, 'unit-')), 'replikv.service');
  writeFileSync(file, text.replace('ExecStart=/usr/local/bin/replikv ', `ExecStart=${process.execPath} ${built('src/cli.ts')} `));
  return file;
}

/** verify passes only with exit 0 and nothing said: it exits 0 on unknown keys and bad values too. */
const clean = (r: Ran) => r.code === 0 && r.stderr.trim() === '' && r.stdout.trim() === '';

async function exposure(file: string): Promise<number> {
  const r = await runTool(analyze, ['security', '--offline=yes', file]);
  const m = /Overall exposure level for replikv\.service: (\d+(?:\.\d+)?)/.exec(r.stdout + r.stderr);
  if (m === null) throw new Error(`no exposure level in: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

describe('packaging/replikv.service', () => {
  it('passes systemd-analyze verify without a word, and a misspelt key, a bad value or a missing program does not', async () => {
    const ok = await runTool(analyze, ['verify', unitCopy(unit)]);
    expect(clean(ok), ok.stderr).toBe(true);

    const misspelt = await runTool(analyze, ['verify', unitCopy(unit.replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'))]);
    expect(clean(misspelt)).toBe(false);
    expect(misspelt.stderr).toMatch(/NoNewPrivilege/);
    const badValue = await runTool(analyze, ['verify', unitCopy(unit.replace('ProtectSystem=strict', 'ProtectSystem=strickt'))]);
    expect(clean(badValue)).toBe(false);
    // The shipped ExecStart names /usr/local/bin/replikv: verify checks that it exists.
    const missing = join(mkdtempSync(join(scratch, 'unit-')), 'replikv.service');
    writeFileSync(missing, unit.replace('/usr/local/bin/replikv', '/nonexistent/bin/replikv'));
    const noProgram = await runTool(analyze, ['verify', missing]);
    expect(noProgram.code).not.toBe(0);
    expect(noProgram.stderr).toMatch(/\/nonexistent\/bin\/replikv/);
  });

  it("scores as well hardened by systemd-analyze security, and the same unit without its hardening does not", async () => {
    const hardened = await exposure(unitCopy(unit));
    expect(hardened).toBeLessThanOrEqual(2);
    const plain = unit.replace(/# Hardening\.[\s\S]*?(?=\[Install\])/, '');
    expect(plain).not.toMatch(/ProtectSystem/);
    expect(await exposure(unitCopy(plain))).toBeGreaterThan(5);
  });

  it('runs as its own user with a 0700 state directory, and restarts on failures but not on usage or config errors', () => {
    const lines = new Set(unit.split('\n'));
    for (const l of ['User=replikv', 'Group=replikv', 'StateDirectory=replikv', 'StateDirectoryMode=0700', 'Restart=on-failure', 'KillSignal=SIGTERM']) {
      expect(lines.has(l), l).toBe(true);
    }
    const noRestart = /^RestartPreventExitStatus=(.*)$/m.exec(unit)![1]!.split(/\s+/).map(Number);
    expect(noRestart.sort()).toEqual([EXIT.usage, EXIT.config].sort());
    // The daemon's data directory is the state directory systemd makes writable.
    const words = execStartWords(unit);
    expect(words.slice(0, 2)).toEqual(['/usr/local/bin/replikv', 'daemon']);
    expect(words[words.indexOf('--data-dir') + 1]).toBe('/var/lib/replikv');
  });
});

describe('packaging/replikv.sysusers', () => {
  it('makes the replikv system user, home /var/lib/replikv, no login shell', async () => {
    const sysusers = requireTool('systemd-sysusers', 'systemd');
    const root = mkdtempSync(join(scratch, 'sysusers-'));
    mkdirSync(join(root, 'etc')); // an empty system: sysusers makes passwd and group there
    const r = await runTool(sysusers, ['--root', root, join(ROOT, 'packaging', 'replikv.sysusers')]);
    expect(r.code, r.stderr).toBe(0);
    const user = readFileSync(join(root, 'etc', 'passwd'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('replikv:'));
    expect(user).toBeDefined();
    const [, , uid, gid, , home, shell] = user!.split(':');
    expect(Number(uid)).toBeLessThan(1000); // a system user
    expect(readFileSync(join(root, 'etc', 'group'), 'utf8')).toMatch(new RegExp(`^replikv:x:${gid}:`, 'm'));
    expect([home, shell]).toEqual(['/var/lib/replikv', '/usr/sbin/nologin']);
  });
});
