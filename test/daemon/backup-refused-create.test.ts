// A refused `backup create` creates nothing: an incremental or differential backup into a path
// with no repository used to leave a new repository (repo.json with the key file's salt) behind,
// and the full backup after it, given no key, was told the repository is encrypted.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, ok } from '../helpers/backup-cli.js';
import { Fleet } from '../helpers/daemons.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs());
  await fleet.cleanup();
});

describe('backup create into a path with no repository', () => {
  it('an incremental or differential backup is refused (exit 1) leaving no repository; a full one without a key then works there', async () => {
    const d = await fleet.start();
    await ok(d.cli('put', 'greeting', 'hello'));
    const tmp = fleet.tmpdir();
    const repo = join(tmp, 'new-repo');
    const key = join(tmp, 'key');
    writeFileSync(key, 'correct horse battery staple\n');

    for (const type of ['incremental', 'differential']) {
      const r = await d.cli('backup', 'create', '--type', type, '--repo', repo, '--key-file', key);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('no full backup in the repository yet');
      expect(existsSync(repo), `${type} left ${repo} behind`).toBe(false);
    }

    expect(await ok(d.cli('backup', 'create', '--type', 'full', '--repo', repo))).toMatch(/^created \S+-full/m);
    expect(await ok(d.cli('backup', 'create', '--type', 'incremental', '--repo', repo))).toMatch(/^created \S+-incremental/m);
    const list = JSON.parse(await ok(cli('backup', 'list', '--repo', repo, '--json'))) as { type: string }[];
    expect(list.map((b) => b.type)).toEqual(['full', 'incremental']);
  });
});
