// A repository whose repo.json was deleted is damaged (exit 4, naming the file), not "no repository"
// (exit 1), and backup create does not start a second repository over its backups.
import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DamagedBackupError } from '../../src/backup/errors.js';
import { Repo } from '../../src/backup/repo.js';
import { CLI } from '../helpers/daemons.js';
import { run } from '../helpers/process.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('a repository without its repo.json', () => {
  it('verify, list, prune and restore exit 4 naming the file; create refuses it as damaged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rkv-repo-'));
    dirs.push(dir);
    await Repo.openOrCreate(dir);
    const file = join(dir, 'repo.json');
    unlinkSync(file);
    const target = join(dir, 'restored');
    const calls = [
      ['backup', 'verify', '--repo', dir],
      ['backup', 'list', '--repo', dir],
      ['backup', 'prune', '--repo', dir, '--keep-full', '1'],
      ['restore', '--repo', dir, '--data-dir', target],
    ];
    for (const args of calls) {
      const c = run([CLI, ...args]);
      const { code } = await c.exited;
      expect(code, `${args.join(' ')}: ${c.stderr()}`).toBe(4);
      expect(c.stderr()).toContain(`${file} is missing`);
    }
    // backup create (which opens the repository this way) does not start a new, unrelated one over it
    await expect(Repo.openOrCreate(dir)).rejects.toThrow(DamagedBackupError);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(target)).toBe(false);
    // a directory that never was a repository is still "not a repository" (exit 1)
    const plain = mkdtempSync(join(tmpdir(), 'rkv-plain-'));
    dirs.push(plain);
    const c = run([CLI, 'backup', 'list', '--repo', plain]);
    expect((await c.exited).code).toBe(1);
    expect(c.stderr()).toMatch(/is not a backup repository/);
  });
});
