// Backups of live daemons through the real CLI, restores into new data directories, and restored
// nodes rejoining their peers.
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from '../../src/control/api.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { cli, keysFile as writeKeys, ok } from '../helpers/backup-cli.js';
import { Fleet, untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { built, run, until } from '../helpers/process.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs());
  await fleet.cleanup();
});

const keysFile = (n: number, prefix: string, value?: string) => writeKeys(fleet.tmpdir(), n, prefix, value);
// Garbage collection off: once a node has collected a delete, a partial backup is taken as a full
// one and a node restored from before it catches up by a full snapshot (both tested in gc.test.ts);
// the tests that delete keys here check partial chains and catch-up by deltas, not when GC runs.
const NO_GC = { extra: ['--gc-interval', '0'] };

/** Every live key and value, through the daemon's scan. */
async function contents(node: TestDaemon): Promise<string> {
  return ok(node.cli('scan'));
}

/** Digest, count and every live key of a restored directory, read straight from its store. */
async function restoredImage(dir: string) {
  const ks = await Keyspace.openDir(dir);
  try {
    const s = ks.summary();
    const lines: string[] = [];
    for (let after: string | undefined, page; (page = ks.scan({ after, limit: 10_000 })).items.length > 0; after = page.cursor ?? undefined) {
      for (const i of page.items) lines.push(`${i.key}\t${Buffer.from(i.value).toString()}\n`);
      if (page.cursor === null) break;
    }
    return { digest: s.digest, keys: s.keys, replicaId: s.replicaId, scan: lines.join('') };
  } finally {
    await ks.close();
  }
}

describe('backups of a live daemon', () => {
  it('full, incremental, differential, incremental through the CLI: each restore is the keyspace of its moment', async () => {
    const a = await fleet.start(NO_GC);
    const repo = join(fleet.tmpdir(), 'repo');
    await ok(a.cli('import', keysFile(2000, 'k')));
    const moments: { id: string; status: Status; scan: string }[] = [];
    const take = async (type: string) => {
      const out = await ok(a.cli('backup', 'create', '--type', type, '--repo', repo, '--json'));
      moments.push({ id: (JSON.parse(out) as { id: string }).id, status: await a.status(), scan: await contents(a) });
    };
    await take('full');
    for (const i of [1, 2, 3]) await ok(a.cli('del', `k/${i}`));
    await ok(a.cli('put', 'k/10', 'changed'));
    await take('incremental');
    await ok(a.cli('import', keysFile(300, 'more')));
    await ok(a.cli('del', 'k/4'));
    await take('differential');
    await ok(a.cli('put', 'k/1', 'back again'));
    await take('incremental');

    const list = JSON.parse(await ok(cli('backup', 'list', '--repo', repo, '--json'))) as { id: string; type: string; parent: string | null; keys: number; bytes: number }[];
    expect(list.map((b) => [b.id, b.type, b.parent, b.keys])).toEqual([
      ['000001-full', 'full', null, 2000],
      ['000002-incremental', 'incremental', '000001-full', 1997],
      ['000003-differential', 'differential', '000001-full', 2296],
      ['000004-incremental', 'incremental', '000003-differential', 2297],
    ]);
    expect(list[1]!.bytes).toBeLessThan(list[0]!.bytes / 10);
    expect(await ok(cli('backup', 'verify', '--repo', repo))).toMatch(/^ok: 4 backups/);

    for (const m of moments) {
      const target = join(fleet.tmpdir(), 'restored');
      await ok(cli('restore', '--repo', repo, '--data-dir', target, '--until', m.id));
      const img = await restoredImage(target);
      expect([img.digest, img.keys], m.id).toEqual([m.status.digest, m.status.keys]);
      expect(img.scan, m.id).toBe(m.scan);
      expect(img.replicaId).not.toBe(m.status.replicaId);
    }
  }, 120_000);

  it('a flipped byte, a missing chunk and a wrong key: verify and restore exit 4 with the reason and write nothing', async () => {
    const a = await fleet.start();
    const repo = join(fleet.tmpdir(), 'repo');
    const keyFile = join(fleet.tmpdir(), 'key');
    writeFileSync(keyFile, 'a passphrase\n');
    const wrongKey = join(fleet.tmpdir(), 'wrong');
    writeFileSync(wrongKey, 'another passphrase\n');
    await ok(a.cli('import', keysFile(2000, 'k')));
    await ok(a.cli('backup', 'create', '--type', 'full', '--repo', repo, '--key-file', keyFile));
    const target = join(fleet.tmpdir(), 'restored');
    const refused = async (args: string[], reason: RegExp | string) => {
      const r = await cli(...args);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(reason);
    };

    await refused(['backup', 'verify', '--repo', repo, '--key-file', wrongKey], /wrong key/);
    await refused(['restore', '--repo', repo, '--data-dir', target, '--key-file', wrongKey], /wrong key/);
    await refused(['restore', '--repo', repo, '--data-dir', target], /encrypted: give its passphrase with --key-file/);

    const chunk = join(repo, 'backups', '000001-full', 'chunk-000000.bin');
    const good = readFileSync(chunk);
    const bad = Buffer.from(good);
    bad[100]! ^= 0xff;
    writeFileSync(chunk, bad);
    await refused(['backup', 'verify', '--repo', repo, '--key-file', keyFile], `${chunk} is damaged`);
    await refused(['restore', '--repo', repo, '--data-dir', target, '--key-file', keyFile], `${chunk} is damaged`);

    writeFileSync(chunk, good);
    expect(await ok(cli('backup', 'verify', '--repo', repo, '--key-file', keyFile))).toMatch(/every chunk decoded/);
    unlinkSync(chunk);
    await refused(['backup', 'verify', '--repo', repo], `${chunk} is missing`);
    await refused(['restore', '--repo', repo, '--data-dir', target, '--key-file', keyFile], `${chunk} is missing`);

    const missing = await cli('backup', 'list', '--repo', join(fleet.tmpdir(), 'nope'));
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/no backup repository at/)]);
    expect(existsSync(target)).toBe(false);
  }, 60_000);

  it('a node restored from a backup and started with peers catches up by deltas only', async () => {
    const [a, b] = (await fleet.cluster(2, NO_GC)) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    await ok(a.cli('import', keysFile(5000, 'k')));
    await untilConverged([a, b], 5000);
    const fullSync = (await b.status()).transfer.bytesReceived; // what the whole keyspace cost b
    const repo = join(fleet.tmpdir(), 'repo');
    await ok(b.cli('backup', 'create', '--type', 'full', '--repo', repo));
    await ok(a.cli('import', keysFile(50, 'later')));
    await ok(a.cli('del', 'k/7'));

    const dataDir = join(fleet.tmpdir(), 'restored');
    await ok(cli('restore', '--repo', repo, '--data-dir', dataDir));
    const c = await fleet.start({ ...NO_GC, dataDir, bootstrap: [a.addr] });
    const statuses = await untilConverged([a, b, c], 5049);
    const t = statuses[2]!.transfer;
    expect(statuses[2]!.replicaId).not.toBe(statuses[1]!.replicaId);
    expect(t.keysReceived).toBeGreaterThanOrEqual(51);
    expect(t.keysReceived).toBeLessThan(500);
    expect(t.bytesReceived).toBeLessThan(fullSync / 10);
  }, 120_000);

  it('a backup taken while writes are running is consistent', async () => {
    const a = await fleet.start();
    const repo = join(fleet.tmpdir(), 'repo');
    await ok(a.cli('import', keysFile(1000, 'base')));
    const writer = run([built('test/fixtures/put-loop.ts'), join(a.dataDir, 'control.sock')]);
    const acked = () => writer.stdout().split('\n').filter((l) => l.startsWith('ack ')).map((l) => `w/${l.slice(4)}`);
    const ackedBefore: string[][] = []; // writes acknowledged before each backup started
    try {
      await until(() => acked().length >= 300 || writer.proc.exitCode !== null, 'the writer to get going');
      for (const type of ['full', 'incremental']) {
        const before = acked();
        ackedBefore.push(before);
        await ok(a.cli('backup', 'create', '--type', type, '--repo', repo));
        await until(() => acked().length >= before.length + 300 || writer.proc.exitCode !== null, 'more writes after the backup');
        expect(writer.proc.exitCode, writer.stderr()).toBeNull(); // still writing throughout
      }
    } finally {
      writer.proc.kill('SIGKILL');
      await writer.exited;
    }
    ackedBefore.push([]);
    await ok(a.cli('backup', 'create', '--type', 'incremental', '--repo', repo));
    const final = await a.status();

    const list = JSON.parse(await ok(cli('backup', 'list', '--repo', repo, '--json'))) as { id: string; keys: number }[];
    expect(list[0]!.keys).toBeGreaterThan(1300);
    expect(list[1]!.keys).toBeGreaterThan(list[0]!.keys);
    for (const [i, m] of list.entries()) {
      const target = join(fleet.tmpdir(), 'restored');
      // restore itself refuses a result that differs from the snapshot's digest and count in the manifest
      await ok(cli('restore', '--repo', repo, '--data-dir', target, '--until', m.id));
      const img = await restoredImage(target);
      expect(img.keys).toBe(m.keys);
      const present = new Set(img.scan.split('\n').map((l) => l.split('\t')[0]));
      expect(ackedBefore[i]!.filter((k) => !present.has(k)), `writes acknowledged before ${m.id} but missing`).toEqual([]);
      if (i === list.length - 1) expect([img.digest, img.keys]).toEqual([final.digest, final.keys]);
    }
  }, 120_000);
});
