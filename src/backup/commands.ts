// The CLI's backup commands: backup create, list, verify, prune, and restore. Each takes typed
// options and an Io; errors are typed (errors.ts) and cli.ts maps them to exit codes.

import { resolve } from 'node:path';
import { table, socketPathOf, type Io, type Target } from '../control/commands.js';
import { ControlClient } from '../control/client.js';
import { planBackup, pruneSelection } from './chain.js';
import { readKeyFile } from './cipher.js';
import { createBackup } from './create.js';
import type { BackupType, Manifest } from './manifest.js';
import { progressBar, type Progress } from './progress.js';
import { Repo } from './repo.js';
import { restoreBackup } from './restore.js';
import { assertDataDirFree } from '../data-dir.js';
import { verifyRepo } from './verify.js';

export interface RepoOptions {
  repo: string;
  keyFile?: string;
  json?: boolean;
}

const passphraseOf = (o: RepoOptions) => (o.keyFile === undefined ? Promise.resolve(undefined) : readKeyFile(o.keyFile));
const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

async function emit(io: Io, text: string): Promise<void> {
  if (!io.stdout.write(text)) await new Promise<void>((ok) => io.stdout.once('drain', ok));
}

async function withBar<T>(bar: Progress, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } finally {
    bar.stop();
  }
}

export async function backupCreateCommand(o: Target & RepoOptions & { type: BackupType }, io: Io): Promise<void> {
  const client = new ControlClient(socketPathOf(o));
  await client.status(); // no daemon: say so before a repository is created
  const passphrase = await passphraseOf(o);
  // Only a full backup starts a repository: an incremental or differential one is refused in a new
  // one (planBackup throws "no full backup yet" for an empty list), and a refused command must not
  // leave a repository behind, encrypted with its key or not.
  if (o.type !== 'full' && !(await Repo.present(o.repo))) planBackup([], o.type);
  const repo = await Repo.openOrCreate(o.repo, passphrase);
  const bar = progressBar(`backup ${o.type}`, 'keys');
  let promoted: string | undefined;
  const m = await withBar(bar, () =>
    createBackup({
      repo,
      type: o.type,
      open: (since) => client.backupStream(since),
      onProgress: (p) => bar.update(p.entries, p.expected),
      onPromoted: (why) => void (promoted = why),
    }),
  );
  const note = promoted === undefined ? '' : `note: ${promoted}\n`;
  await emit(io, o.json ? JSON.stringify({ ...summary(m), ...(promoted === undefined ? {} : { promoted }) }) + '\n' : `${note}created ${m.id}: ${m.entries} key states of ${m.keys} live keys, ${mb(m.rawBytes)} raw, ${mb(m.bytes)} stored\n`);
}

/** What `backup list --json` shows of a backup. */
function summary(m: Manifest) {
  return { id: m.id, type: m.type, parent: m.parent, time: m.time, keys: m.keys, bytes: m.bytes };
}

export async function backupListCommand(o: RepoOptions, io: Io): Promise<void> {
  const ms = await (await Repo.open(o.repo)).manifests();
  if (o.json) return emit(io, JSON.stringify(ms.map(summary)) + '\n');
  if (ms.length === 0) return emit(io, 'no backups\n');
  const rows = ms.map((m) => [m.id, m.type, m.parent ?? '-', m.time, String(m.keys), String(m.entries), mb(m.bytes)]);
  await emit(io, table([['ID', 'TYPE', 'PARENT', 'TIME', 'KEYS', 'CHANGES', 'SIZE'], ...rows]));
}

export async function backupVerifyCommand(o: RepoOptions & { id?: string }, io: Io): Promise<void> {
  const repo = await Repo.open(o.repo, await passphraseOf(o));
  const bar = progressBar('verify', 'MB');
  const r = await withBar(bar, () => verifyRepo({ repo, id: o.id, onProgress: (p) => bar.update(p.bytes, p.total) }));
  const how = !r.decoded
    ? 'chunk hashes only: manifests not authenticated, chunks not decoded (the repository is encrypted; give --key-file to check everything)'
    : r.authenticated
      ? 'manifests authenticated, every chunk decoded, every chain replayed'
      : 'every chunk decoded, every chain replayed; manifests not authenticated (a repository in the clear has no key to authenticate them)';
  await emit(io, o.json ? JSON.stringify(r) + '\n' : `ok: ${r.backups.length} backups, ${r.chunks} chunks, ${mb(r.bytes)}; ${how}\n`);
}

export async function backupPruneCommand(o: RepoOptions & { keepFull: number }, io: Io): Promise<void> {
  const repo = await Repo.open(o.repo);
  const doomed = pruneSelection(await repo.manifests(), o.keepFull);
  for (const id of doomed) await repo.remove(id);
  await emit(io, o.json ? JSON.stringify({ deleted: doomed }) + '\n' : doomed.length === 0 ? 'nothing to prune\n' : `deleted ${doomed.join(', ')}\n`);
}

export async function restoreCommand(o: RepoOptions & { dataDir: string; until?: string }, io: Io): Promise<void> {
  await assertDataDirFree(resolve(o.dataDir)); // before the repository is opened: a running daemon's directory is refused at once
  const repo = await Repo.open(o.repo, await passphraseOf(o));
  const bar = progressBar('restore', 'MB');
  const r = await withBar(bar, () => restoreBackup({ repo, dataDir: o.dataDir, until: o.until, onProgress: (p) => bar.update(p.bytes, p.total) }));
  await emit(io, o.json ? JSON.stringify(r) + '\n' : `restored ${r.chain.join(' + ')} into ${o.dataDir}: ${r.keys} keys, digest ${r.digest}, new replica ${r.replicaId}\n`);
}
