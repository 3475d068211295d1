// A backup repository tampered with the way an attacker who can write to it (but does not hold the
// passphrase) would: manifests edited with the project's own codec, chunks dropped, backups
// renumbered, swapped or brought in from another repository under the same passphrase. In an
// encrypted repository `backup verify` and `restore` must exit 4 naming the file and leave nothing
// behind; in one in the clear, verify's replay must still catch chunks that do not give the
// digest a manifest records, and restore must not print the digest a forger would need.
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clockOf, clockToText } from '../../src/backup/manifest.js';
import { cli, keysFile, ok } from '../helpers/backup-cli.js';
import { Fleet } from '../helpers/daemons.js';

const fleet = new Fleet();
afterAll(() => fleet.cleanup());

type Json = Record<string, unknown> & { chunks: Record<string, unknown>[] };

let encrypted: string; // 000001-full (two chunks), 000002-incremental, 000003-incremental
let sameKey: string; // another repository under the same passphrase: 000001-full
let plain: string; // in the clear: 000001-full, 000002-incremental, 000003-incremental
let keyFile: string;
let liveDigest: string; // the daemon's digest at the last backup of `plain`

beforeAll(async () => {
  // GC off: a delete collected between two backups would make the incremental a full one (gc.test.ts).
  const a = await fleet.start({ extra: ['--gc-interval', '0'] });
  const dir = fleet.tmpdir();
  keyFile = join(dir, 'key');
  writeFileSync(keyFile, 'one passphrase for two repositories\n');
  [encrypted, sameKey, plain] = ['encrypted', 'same-key', 'plain'].map((n) => join(dir, n)) as [string, string, string];
  const backup = (repo: string, type: string, key = true) =>
    ok(a.cli('backup', 'create', '--type', type, '--repo', repo, ...(key ? ['--key-file', keyFile] : [])));
  await ok(a.cli('import', keysFile(fleet.tmpdir(), 45_000, 'k')));
  await backup(encrypted, 'full');
  await backup(plain, 'full', false);
  for (const i of [1, 2]) {
    await ok(a.cli('del', `k/${i}`));
    await ok(a.cli('import', keysFile(fleet.tmpdir(), 50, `round${i}`)));
    await backup(encrypted, 'incremental');
    await backup(plain, 'incremental', false);
  }
  await backup(sameKey, 'full');
  liveDigest = (await a.status()).digest;
  await a.stop();
  expect(manifest(encrypted, '000001-full').chunks.length, 'the full backup must have two chunks to drop one').toBeGreaterThanOrEqual(2);
}, 120_000);

const manifestFile = (repo: string, id: string) => join(repo, 'backups', id, 'manifest.json');
const manifest = (repo: string, id: string) => JSON.parse(readFileSync(manifestFile(repo, id), 'utf8')) as Json;

/** Rewrites a manifest the way the daemon writes it, after `edit`. */
function editManifest(repo: string, id: string, edit: (m: Json) => void): string {
  const m = manifest(repo, id);
  edit(m);
  writeFileSync(manifestFile(repo, id), JSON.stringify(m, null, 2) + '\n');
  return manifestFile(repo, id);
}

/** A copy of a pristine repository to tamper with. */
function copy(repo: string): string {
  const to = join(fleet.tmpdir(), 'repo');
  cpSync(repo, to, { recursive: true });
  return to;
}

/** verify and restore (with the key when `key`) both exit 4 naming `file`; restore leaves no directory. */
async function refused(repo: string, file: string, opts: { key?: boolean; reason?: RegExp } = {}): Promise<string> {
  const key = opts.key === false ? [] : ['--key-file', keyFile];
  const parent = fleet.tmpdir();
  const target = join(parent, 'restored');
  const stderr: string[] = [];
  for (const args of [['backup', 'verify', '--repo', repo, ...key], ['restore', '--repo', repo, '--data-dir', target, ...key]]) {
    const r = await cli(...args);
    expect(r.code, `${args[0]}: ${r.stdout}${r.stderr}`).toBe(4);
    expect(r.stderr, args[0]).toContain(file);
    if (opts.reason !== undefined) expect(r.stderr, args[0]).toMatch(opts.reason);
    stderr.push(r.stderr);
  }
  expect(existsSync(target)).toBe(false);
  expect(readdirSync(parent)).toEqual([]); // no temporary directory left either
  return stderr.join('');
}

describe('a tampered encrypted repository', () => {
  it('is verified and restored as it was made (the control case)', async () => {
    expect(await ok(cli('backup', 'verify', '--repo', encrypted, '--key-file', keyFile))).toMatch(/^ok: 3 backups.*manifests authenticated/);
    expect(await ok(cli('backup', 'verify', '--repo', encrypted))).toMatch(/manifests not authenticated/);
    const target = join(fleet.tmpdir(), 'restored');
    expect(await ok(cli('restore', '--repo', encrypted, '--data-dir', target, '--key-file', keyFile))).toMatch(/^restored 000001-full \+ 000002-incremental \+ 000003-incremental/);
  });

  it('a raised clock: the restored node would never pull the writes it claims', async () => {
    const repo = copy(encrypted);
    const file = editManifest(repo, '000003-incremental', (m) => {
      const clock = clockOf(m.clock as string, 'test');
      for (const r of clock.replicas()) clock.addRange(r, clock.max(r) + 1, clock.max(r) + 1000);
      m.clock = clockToText(clock);
    });
    await refused(repo, file, { reason: /fails authentication/ });
  });

  it("an emptied manifest that records its parent's digest and count", async () => {
    const repo = copy(encrypted);
    const parent = manifest(repo, '000002-incremental');
    const file = editManifest(repo, '000003-incremental', (m) => {
      Object.assign(m, { chunks: [], entries: 0, rawBytes: 0, bytes: 0, digest: parent.digest, keys: parent.keys });
    });
    await refused(repo, file, { reason: /fails authentication/ });
  });

  it('a chunk dropped from the list, and a chunk file deleted', async () => {
    const repo = copy(encrypted);
    const file = editManifest(repo, '000001-full', (m) => {
      const [dropped] = m.chunks.splice(1, 1) as [{ entries: number; bytes: number; rawBytes: number }];
      Object.assign(m, { entries: (m.entries as number) - dropped.entries, bytes: (m.bytes as number) - dropped.bytes, rawBytes: (m.rawBytes as number) - dropped.rawBytes });
    });
    await refused(repo, file, { reason: /fails authentication/ });

    const intact = copy(encrypted);
    const chunk = join(intact, 'backups', '000002-incremental', 'chunk-000000.bin');
    unlinkSync(chunk);
    await refused(intact, chunk, { reason: /is missing/ });
  });

  it("a reordered chain: an incremental's parent swapped, a backup renumbered, a manifest copied from another backup", async () => {
    const swapped = copy(encrypted);
    const full = manifest(swapped, '000001-full');
    const file = editManifest(swapped, '000003-incremental', (m) => Object.assign(m, { parent: full.id, since: full.clock }));
    await refused(swapped, file, { reason: /fails authentication/ });

    const renumbered = copy(encrypted);
    renameSync(join(renumbered, 'backups', '000003-incremental'), join(renumbered, 'backups', '000004-incremental'));
    const moved = editManifest(renumbered, '000004-incremental', (m) => Object.assign(m, { id: '000004-incremental', seq: 4 }));
    await refused(renumbered, moved, { reason: /fails authentication/ });

    const copied = copy(encrypted);
    cpSync(manifestFile(copied, '000002-incremental'), manifestFile(copied, '000003-incremental'));
    await refused(copied, manifestFile(copied, '000003-incremental'));
  });

  it('a backup brought in from another repository under the same passphrase', async () => {
    const repo = copy(encrypted);
    rmSync(join(repo, 'backups', '000001-full'), { recursive: true });
    cpSync(join(sameKey, 'backups', '000001-full'), join(repo, 'backups', '000001-full'), { recursive: true });
    await refused(repo, manifestFile(repo, '000001-full'), { reason: /fails authentication/ });
  });

  it('repo.json switched to "not encrypted": refused with the key and without it', async () => {
    const repo = copy(encrypted);
    const record = join(repo, 'repo.json');
    writeFileSync(record, JSON.stringify({ ...JSON.parse(readFileSync(record, 'utf8')), encryption: null }, null, 2) + '\n');
    await refused(repo, manifestFile(repo, '000001-full'), { key: false, reason: /encrypted/ });
    await refused(repo, repo, { reason: /not encrypted/ });
  });

  it('a manifest from before authentication (format 1) is refused, saying how to go on', async () => {
    const repo = copy(encrypted);
    const file = editManifest(repo, '000003-incremental', (m) => {
      delete m.mac;
      delete m.parentMac;
      m.format = 1;
    });
    await refused(repo, file, { reason: /predates manifest authentication.*backup create --type full/ });
  });
});

describe('a tampered repository in the clear', () => {
  it('verify replays the chain: a valid chunk of another backup put in place of one is caught by digest and count', async () => {
    const repo = copy(plain);
    const from = manifest(repo, '000003-incremental').chunks[0]!;
    cpSync(join(repo, 'backups', '000003-incremental', from.file as string), join(repo, 'backups', '000002-incremental', 'chunk-000000.bin'));
    const file = editManifest(repo, '000002-incremental', (m) => {
      m.chunks[0] = { ...from, file: 'chunk-000000.bin' };
    });
    await refused(repo, file, { key: false, reason: /does not match its chunks/ });
  });

  it('restore does not print the digest the keyspace really has', async () => {
    const repo = copy(plain);
    const file = editManifest(repo, '000003-incremental', (m) => (m.digest = 'f'.repeat(32)));
    const stderr = await refused(repo, file, { key: false, reason: /does not match its chunks/ });
    expect(stderr).not.toContain(liveDigest);
  });
});
