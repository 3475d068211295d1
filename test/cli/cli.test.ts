// The real CLI as a child process: help, usage errors and config validation. The daemon's
// lifecycle is tested in test/daemon/replication.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { built, run } from '../helpers/process.js';

const CLI = built('src/cli.ts');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'replikv-cli-'));
  dirs.push(d);
  return d;
};

describe('replikv CLI', () => {
  it('prints help and version with exit 0', async () => {
    const help = run([CLI, '--help']);
    expect((await help.exited).code).toBe(0);
    expect(help.stdout()).toMatch(/Usage: replikv/);
    expect(help.stdout()).toMatch(/daemon/);
    const version = run([CLI, '--version']);
    expect((await version.exited).code).toBe(0);
    expect(version.stdout().trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('answers an unknown command or flag with usage and exit 64', async () => {
    const cmd = run([CLI, 'frobnicate']);
    expect((await cmd.exited).code).toBe(64);
    expect(cmd.stderr()).toMatch(/unknown command 'frobnicate'/);
    const flag = run([CLI, 'daemon', '--no-such-flag']);
    expect((await flag.exited).code).toBe(64);
    expect(flag.stderr()).toMatch(/unknown option/);
  });

  it('refuses a wrong config file naming the field and the reason, exit 78', async () => {
    const dir = tmp();
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ durability: 'sometimes', maxValueBytes: -1 }));
    const bad = run([CLI, 'daemon', '--config', file]);
    expect((await bad.exited).code).toBe(78);
    expect(bad.stderr()).toMatch(/durability/);
    expect(bad.stderr()).toMatch(/maxValueBytes/);
    writeFileSync(file, '{ not json');
    const broken = run([CLI, 'daemon', '--config', file]);
    expect((await broken.exited).code).toBe(78);
    expect(broken.stderr()).toMatch(/not valid JSON/);
    const missing = run([CLI, 'daemon', '--config', join(dir, 'nope.json')]);
    expect((await missing.exited).code).toBe(78);
    expect(missing.stderr()).toMatch(/cannot read config file .*nope\.json: ENOENT/);
  });
});
