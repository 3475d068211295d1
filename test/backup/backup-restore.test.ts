// Backups and restores in one process: a real keyspace on LMDB behind the real control server
// (Unix socket), the repository on disk. A history of full, incremental and differential backups
// with writes, deletes and concurrent siblings in between; restoring up to each backup must give
// exactly the keyspace of that moment. Then damage: flipped bytes, missing chunks and links, wrong keys.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pruneSelection } from '../../src/backup/chain.js';
import { createBackup } from '../../src/backup/create.js';
import { BackupError, DamagedBackupError, WrongKeyError } from '../../src/backup/errors.js';
import type { BackupType, Manifest } from '../../src/backup/manifest.js';
import { Repo } from '../../src/backup/repo.js';
import { restoreBackup } from '../../src/backup/restore.js';
import { verifyRepo } from '../../src/backup/verify.js';
import type { NodeApi } from '../../src/control/api.js';
import { ControlClient } from '../../src/control/client.js';
import { startControlServer } from '../../src/control/server.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { legacySummary } from '../../src/backup/legacy-summary.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'replikv-bk-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function keyspace(dir = tmp()): Promise<Keyspace> {
  const ks = await Keyspace.openDir(dir, { durability: 'relaxed' });
  cleanup.push(() => ks.close());
  return ks;
}

/** A node: a keyspace served on a control socket, as the daemon serves it. */
async function node() {
  const ks = await keyspace();
  const dir = tmp();
  const api = { changes: (since) => ks.changes(since) } as Pick<NodeApi, 'changes'> as NodeApi;
  const server = await startControlServer(join(dir, 'control.sock'), api);
  cleanup.push(() => server.close());
  const client = new ControlClient(join(dir, 'control.sock'));
  return {
    ks,
    client,
    backup: (repo: Repo, type: BackupType) => createBackup({ repo, type, open: (since) => client.backupStream(since) }),
  };
}

/** Everything a reader can see: every key (deleted ones too) with its siblings, plus the summary. */
function image(ks: Keyspace) {
  const s = ks.summary();
  const keys: Record<string, unknown> = {};
  const snap = ks.snapshot();
  try {
    for (const { key } of snap.entries()) {
      const k = Buffer.from(key).toString();
      keys[k] = ks.read(k)!.siblings.map((x) => [x.value === null ? null : Buffer.from(x.value).toString(), x.replica, x.counter, x.hlc]);
    }
  } finally {
    snap.close();
  }
  return { digest: s.digest, keys: s.keys, clock: s.clock.toJSON(), states: keys };
}

async function write(ks: Keyspace, from: number, to: number, tag: string): Promise<void> {
  const ops = [];
  for (let i = from; i < to; i++) ops.push({ type: 'put' as const, key: `k/${i}`, value: Buffer.from(`${tag}-${i}`) });
  await ks.write(ops);
}

async function remove(ks: Keyspace, keys: number[]): Promise<void> {
  await ks.write(keys.map((i) => ({ type: 'del' as const, key: `k/${i}` })));
}

async function restored(repo: Repo, until?: string) {
  const target = join(tmp(), 'restored');
  const r = await restoreBackup({ repo, dataDir: target, until });
  const ks = await keyspace(target);
  return { r, ks, target };
}

async function refusedRestore(repo: Repo, pattern: RegExp): Promise<void> {
  const parent = tmp();
  const target = join(parent, 'restored');
  await expect(restoreBackup({ repo, dataDir: target })).rejects.toThrow(pattern);
  expect(existsSync(target)).toBe(false);
  expect(readdirSync(dirname(target))).toEqual([]); // no temporary directory left either
}

describe('backup and restore', () => {
  it('full, incremental, differential, incremental: a restore up to each gives exactly the keyspace of that moment', async () => {
    const { ks, backup } = await node();
    const other = await keyspace(); // a second replica, for concurrent siblings
    const repo = await Repo.openOrCreate(join(tmp(), 'repo'));
    const moments: { m: Manifest; img: ReturnType<typeof image> }[] = [];
    const take = async (type: BackupType) => moments.push({ m: await backup(repo, type), img: image(ks) });

    await write(ks, 0, 2000, 'a');
    await take('full');
    await write(ks, 1500, 2300, 'b');
    await remove(ks, [3, 4, 5, 1600, 2200]);
    await write(other, 10, 20, 'concurrent'); // siblings of k/10..19 once merged
    for (const chunk of other.delta(ks.summary().clock)) await ks.applyDelta(chunk);
    await take('incremental');
    await write(ks, 100, 200, 'c');
    await remove(ks, [6, 7, 1700]);
    await write(ks, 3, 4, 'revived');
    await take('differential');
    await remove(ks, [8]);
    await write(ks, 5000, 5010, 'd');
    await take('incremental');

    expect(moments.map((x) => [x.m.type, x.m.parent])).toEqual([
      ['full', null],
      ['incremental', '000001-full'],
      ['differential', '000001-full'],
      ['incremental', '000003-differential'],
    ]);
    expect(moments[1]!.m.entries).toBeLessThan(1000); // the changes, not the keyspace
    expect(moments[3]!.m.entries).toBe(11);
    for (const { m, img } of moments) {
      const { r, ks: back } = await restored(repo, m.id);
      expect(image(back), `restore up to ${m.id}`).toEqual(img);
      expect(back.recompute()).toMatchObject({ digest: img.digest, keys: img.keys, unreadable: 0 });
      expect(r.replicaId).not.toBe(ks.replicaId); // a fresh replica
      expect(back.get('k/3') === undefined).toBe(m.seq === 2); // deleted after the full, written again before the differential
    }
    expect((await verifyRepo({ repo })).backups).toHaveLength(4);
  });

  it('an encrypted repository restores with its key and refuses a wrong one, clearly', async () => {
    const { ks, backup } = await node();
    const dir = join(tmp(), 'repo');
    const repo = await Repo.openOrCreate(dir, 'correct horse');
    await write(ks, 0, 500, 'x');
    await backup(repo, 'full');
    await remove(ks, [1, 2]);
    await backup(repo, 'incremental');
    const { ks: back } = await restored(await Repo.open(dir, 'correct horse'));
    expect(image(back)).toEqual(image(ks));
    await expect(Repo.open(dir, 'wrong horse')).rejects.toThrow(WrongKeyError);
    await expect(Repo.open(dir, 'wrong horse')).rejects.toThrow(/wrong key/);
    const noKey = await Repo.open(dir); // lists and checks hashes without the key
    expect((await verifyRepo({ repo: noKey })).decoded).toBe(false);
    await expect(restoreBackup({ repo: noKey, dataDir: join(tmp(), 'r') })).rejects.toThrow(/encrypted: give its passphrase/);
    await expect(Repo.open(join(tmp(), 'nothing-here'))).rejects.toThrow(BackupError);
    // chunks are not readable as plain brotli output: the values do not appear in the files
    const chunk = readdirSync(join(dir, 'backups', '000001-full')).find((f) => f.startsWith('chunk-'))!;
    expect(readFileSync(join(dir, 'backups', '000001-full', chunk)).includes('x-1')).toBe(false);
  });

  it('manifests from before authentication (format 1) keep working in the clear, and are refused in an encrypted repository until a new full backup', async () => {
    const { ks, backup } = await node();
    /** Turns a backup's manifest into what replikv wrote before manifests were authenticated. */
    const formatOne = (dir: string, id: string) => {
      const file = join(dir, 'backups', id, 'manifest.json');
      const { mac: _mac, parentMac: _parentMac, ...old } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      // as replikv wrote them then: the digest and count before garbage collection (legacy-summary.ts)
      writeFileSync(file, JSON.stringify({ ...old, format: 1, ...legacySummary(ks) }, null, 2) + '\n');
      return file;
    };
    await write(ks, 0, 300, 'x');
    const plainDir = join(tmp(), 'plain');
    const plain = await Repo.openOrCreate(plainDir);
    const old = await backup(plain, 'full');
    formatOne(plainDir, old.id);
    await write(ks, 0, 10, 'y');
    expect((await backup(plain, 'incremental')).format).toBe(3); // made on a format-1 parent
    expect(await verifyRepo({ repo: plain })).toMatchObject({ decoded: true, authenticated: false });
    expect(image((await restored(plain)).ks)).toEqual(image(ks));

    const dir = join(tmp(), 'encrypted');
    const repo = await Repo.openOrCreate(dir, 'correct horse');
    const file = formatOne(dir, (await backup(repo, 'full')).id);
    const predates = `${file} predates manifest authentication (format 1)`;
    await expect(backup(repo, 'incremental')).rejects.toThrow(predates);
    await expect(verifyRepo({ repo })).rejects.toThrow(predates);
    await refusedRestore(repo, /predates manifest authentication/);
    // the way on: a new full backup, which authenticates, and restores
    const full = await backup(repo, 'full');
    expect(await verifyRepo({ repo, id: full.id })).toMatchObject({ backups: [full.id], authenticated: true });
    expect(image((await restored(repo)).ks)).toEqual(image(ks));
  });

  describe('damage', () => {
    async function repoWithChain() {
      const { ks, backup } = await node();
      const dir = join(tmp(), 'repo');
      const repo = await Repo.openOrCreate(dir);
      await write(ks, 0, 3000, 'v'.repeat(100));
      const full = await backup(repo, 'full');
      await write(ks, 0, 10, 'new');
      const inc = await backup(repo, 'incremental');
      return { repo, dir, full, inc };
    }

    it('a flipped byte in a chunk: verify names the file, restore fails and writes nothing', async () => {
      const { repo, full } = await repoWithChain();
      const file = repo.chunkPath(full.id, full.chunks[0]!);
      const bytes = readFileSync(file);
      bytes[bytes.length >> 1]! ^= 0x01;
      writeFileSync(file, bytes);
      await expect(verifyRepo({ repo })).rejects.toThrow(DamagedBackupError);
      await expect(verifyRepo({ repo })).rejects.toThrow(`${file} is damaged: its SHA-256 does not match the manifest`);
      await refusedRestore(repo, /SHA-256 does not match/);
    });

    it('a missing chunk, and a missing link of the chain', async () => {
      const { repo, dir, full, inc } = await repoWithChain();
      unlinkSync(repo.chunkPath(inc.id, inc.chunks[0]!));
      await expect(verifyRepo({ repo, id: inc.id })).rejects.toThrow(`${repo.chunkPath(inc.id, inc.chunks[0]!)} is missing`);
      await refusedRestore(repo, /is missing/);
      // the full backup alone is still fine
      expect((await verifyRepo({ repo, id: full.id })).backups).toEqual([full.id]);
      rmSync(join(dir, 'backups', full.id), { recursive: true });
      await expect(verifyRepo({ repo })).rejects.toThrow(/broken chain: backup 000002-incremental needs 000001-full, which is missing/);
      await refusedRestore(repo, /broken chain/);
    });

    it('a damaged manifest, and a target that is not empty', async () => {
      const { repo, dir, inc } = await repoWithChain();
      const target = tmp();
      writeFileSync(join(target, 'precious'), 'keep me');
      await expect(restoreBackup({ repo, dataDir: target })).rejects.toThrow(/is not empty/);
      expect(readdirSync(target)).toEqual(['precious']);
      const manifest = join(dir, 'backups', inc.id, 'manifest.json');
      writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('"keys"', '"kees"'));
      await expect(repo.manifests()).rejects.toThrow(`${manifest} is damaged`);
    });
  });

  it('a backup cut short never looks complete, and leftovers of a killed one are not listed', async () => {
    const { ks, client, backup } = await node();
    const dir = join(tmp(), 'repo');
    const repo = await Repo.openOrCreate(dir);
    await write(ks, 0, 20_000, 'v'.repeat(100));
    await backup(repo, 'full');
    await write(ks, 0, 100, 'later');
    // the real stream, cut off after 1 MB (a daemon that died, a broken connection)
    const cut = async (since: Uint8Array) => {
      const body = await client.backupStream(since);
      return Readable.from(
        (async function* () {
          let sent = 0;
          for await (const data of body as AsyncIterable<Buffer>) {
            if (sent > 1e6) break;
            sent += data.length;
            yield data;
          }
          body.destroy();
        })(),
      );
    };
    await expect(createBackup({ repo, type: 'full', open: cut })).rejects.toThrow(/ended early; nothing was stored/);
    expect(readdirSync(join(dir, 'backups'))).toEqual(['000001-full']);
    // a process killed mid-backup leaves its temporary directory, which is never listed
    mkdirSync(join(dir, 'backups', '.tmp-000002-full-dead'));
    writeFileSync(join(dir, 'backups', '.tmp-000002-full-dead', 'manifest.json'), '{}');
    expect((await repo.manifests()).map((m) => m.id)).toEqual(['000001-full']);
    expect((await backup(repo, 'incremental')).id).toBe('000002-incremental');
  });

  it('a bad clock in a stream request is refused with 400, and the server goes on', async () => {
    const { ks, client, backup } = await node();
    await write(ks, 0, 10, 'x');
    const bad = client.backupStream(Uint8Array.of(0xff, 0xff, 0xff));
    await expect(bad).rejects.toMatchObject({ status: 400, code: 'DECODE_ERROR' });
    const repo = await Repo.openOrCreate(join(tmp(), 'repo'));
    expect((await backup(repo, 'full')).keys).toBe(10);
  });

  it('prune deletes old chains whole and keeps the newest full backups restorable', async () => {
    const { ks, backup } = await node();
    const repo = await Repo.openOrCreate(join(tmp(), 'repo'));
    for (const type of ['full', 'incremental', 'full', 'differential', 'incremental', 'full'] as const) {
      await write(ks, 0, 50, type);
      await backup(repo, type);
    }
    const doomed = pruneSelection(await repo.manifests(), 2);
    expect(doomed).toEqual(['000002-incremental', '000001-full']);
    for (const id of doomed) await repo.remove(id);
    expect((await repo.manifests()).map((m) => m.id)).toEqual(['000003-full', '000004-differential', '000005-incremental', '000006-full']);
    const { ks: back } = await restored(repo, '000005-incremental');
    expect(back.summary().keys).toBe(50);
  });
});
