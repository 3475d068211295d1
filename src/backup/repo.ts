// A backup repository on disk:
//   DIR/repo.json                      format and encryption (salt, scrypt parameters, key check)
//   DIR/backups/ID/manifest.json       one backup: its manifest ...
//   DIR/backups/ID/chunk-000000.bin    ... and its chunks
// A backup is written under backups/.tmp-ID-*, synced, and renamed to backups/ID only when whole,
// so a half-written backup never looks complete; names starting with "." are never listed.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { newEncryption, unlock } from './cipher.js';
import { decodeStored, encodeStored } from './chunk-codec.js';
import type { DeltaChunk } from '../core/delta.js';
import { BackupError, DamagedBackupError, WrongKeyError } from './errors.js';
import { decodeChunk, splitFrames } from './frames.js';
import { macMatches, manifestMac, manifestMacKey } from './manifest-mac.js';
import { ManifestSchema, parseRecord, RepoSchema, type ChunkInfo, type Manifest, type RepoRecord } from './manifest.js';

const REPO_FILE = 'repo.json';
const MANIFEST = 'manifest.json';

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException).code;

async function writeSynced(file: string, data: Uint8Array | string, sync = true): Promise<void> {
  const fh = await open(file, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync of a file or directory already written. */
async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class Repo {
  /** The key that authenticates manifests (manifest-mac.ts); null without the repository key. */
  private readonly macKey: Buffer | null;

  private constructor(
    readonly dir: string,
    readonly record: RepoRecord,
    private readonly key: Buffer | null,
  ) {
    this.macKey = key === null || record.encryption === null ? null : manifestMacKey(key, record.encryption.salt);
  }

  get encrypted(): boolean {
    return this.record.encryption !== null;
  }

  /** True when chunks can be opened (the repository is in the clear, or the key was given). */
  get canRead(): boolean {
    return !this.encrypted || this.key !== null;
  }

  /**
   * Opens a repository. An encrypted one opened without a passphrase can be listed and its chunk
   * hashes checked, nothing more; with a passphrase, a wrong one is refused here.
   */
  static async open(dir: string, passphrase?: string): Promise<Repo> {
    const file = join(dir, REPO_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (codeOf(err) === 'ENOENT' && (await exists(join(dir, 'backups')))) throw missingRepoFile(file);
      const why = codeOf(err) === 'ENOENT' ? (await exists(dir)) ? `${dir} is not a backup repository (no ${REPO_FILE})` : `no backup repository at ${dir}` : `cannot read ${file}: ${codeOf(err)}`;
      throw new BackupError(why);
    }
    const record = parseRecord(RepoSchema, text, file);
    if (record.encryption === null) {
      // Refused rather than ignored: a repository made with a key whose repo.json now says "not
      // encrypted" has been tampered with, and the key is what would tell.
      if (passphrase !== undefined) throw new WrongKeyError(`the repository ${dir} is not encrypted (so says its ${REPO_FILE}), but a key file was given: if it was made with a key, its ${REPO_FILE} has been changed`);
      return new Repo(dir, record, null);
    }
    return new Repo(dir, record, passphrase === undefined ? null : await unlock(record.encryption, passphrase, dir));
  }

  /** Whether DIR holds a repository, whole or damaged (its repo.json, or its backups). */
  static async present(dir: string): Promise<boolean> {
    return (await exists(join(dir, REPO_FILE))) || (await exists(join(dir, 'backups')));
  }

  /** Opens the repository, creating it (encrypted when a passphrase is given) if DIR has none yet. */
  static async openOrCreate(dir: string, passphrase?: string): Promise<Repo> {
    if (await exists(join(dir, REPO_FILE))) return Repo.open(dir, passphrase);
    if (await exists(join(dir, 'backups'))) throw missingRepoFile(join(dir, REPO_FILE)); // never start a second, unrelated repository over it
    if ((await exists(dir)) && (await readdir(dir)).length > 0) throw new BackupError(`${dir} is not empty and not a backup repository`);
    await mkdir(join(dir, 'backups'), { recursive: true });
    const enc = passphrase === undefined ? null : await newEncryption(passphrase);
    const record: RepoRecord = { format: 1, encryption: enc?.record ?? null };
    const tmp = join(dir, `.${REPO_FILE}.${randomBytes(4).toString('hex')}`);
    await writeSynced(tmp, JSON.stringify(record, null, 2) + '\n');
    await rename(tmp, join(dir, REPO_FILE));
    return new Repo(dir, record, enc?.key ?? null);
  }

  /** Refuses to go on without the key of an encrypted repository. */
  requireKey(): void {
    if (!this.canRead) throw new WrongKeyError(`the repository ${this.dir} is encrypted: give its passphrase with --key-file`);
  }

  /** Every complete backup's manifest, oldest first. */
  async manifests(): Promise<Manifest[]> {
    const root = join(this.dir, 'backups');
    let names: string[];
    try {
      names = await readdir(root);
    } catch (err) {
      if (codeOf(err) === 'ENOENT') return [];
      throw new BackupError(`cannot list ${root}: ${codeOf(err)}`);
    }
    const out: Manifest[] = [];
    for (const name of names.filter((n) => !n.startsWith('.')).sort()) {
      const file = join(root, name, MANIFEST);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new DamagedBackupError(`${file} is ${codeOf(err) === 'ENOENT' ? 'missing' : `unreadable (${codeOf(err)})`}`);
      }
      const m = parseRecord(ManifestSchema, text, file);
      if (m.id !== name) throw new DamagedBackupError(`${file} is damaged: it names backup ${m.id}`);
      if (m.encrypted !== this.encrypted) {
        const says = (encrypted: boolean) => (encrypted ? 'encrypted' : 'not encrypted');
        throw new DamagedBackupError(`${file} is damaged: its backup is ${says(m.encrypted)}, but ${REPO_FILE} says the repository is ${says(this.encrypted)} (one of them was changed)`);
      }
      out.push(m);
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  manifestPath(id: string): string {
    return join(this.dir, 'backups', id, MANIFEST);
  }

  /**
   * Refuses a manifest the repository key does not vouch for, naming its file (needs the key of
   * an encrypted repository; in one in the clear there is nothing to check). A format-1 manifest
   * (made before manifests were authenticated) is refused too: a forger could have written it.
   */
  authenticate(m: Manifest): void {
    this.requireKey();
    if (this.macKey === null) return;
    const file = this.manifestPath(m.id);
    if (m.format === 1) {
      throw new DamagedBackupError(
        `${file} predates manifest authentication (format 1): in an encrypted repository it cannot be told from a forgery, so it is not used. ` +
          'Take a new full backup (replikv backup create --type full) and restore from that one',
      );
    }
    if (!macMatches(this.macKey, this.record.encryption!.salt, m)) {
      throw new DamagedBackupError(`${file} is damaged: it fails authentication (it was changed, or not made with this repository's key)`);
    }
  }

  /** The manifest with its MAC set (null in a repository in the clear). */
  sign(m: Manifest): Manifest {
    this.requireKey();
    const unsigned = { ...m, mac: null };
    return this.macKey === null ? unsigned : { ...unsigned, mac: manifestMac(this.macKey, this.record.encryption!.salt, unsigned) };
  }

  chunkPath(id: string, chunk: ChunkInfo): string {
    return join(this.dir, 'backups', id, chunk.file);
  }

  /** A chunk's raw bytes, after checking its hash (and its authentication tag when encrypted). */
  async readChunk(m: Manifest, chunk: ChunkInfo): Promise<Buffer> {
    this.requireKey();
    const stored = await this.readStored(m, chunk);
    return decodeStored(stored, this.key, `${m.id}/${chunk.file}`, this.chunkPath(m.id, chunk));
  }

  /** A chunk's delta chunks, each frame decoded and the key-state count checked against the manifest. */
  async readDeltas(m: Manifest, chunk: ChunkInfo): Promise<DeltaChunk[]> {
    const raw = await this.readChunk(m, chunk);
    const file = this.chunkPath(m.id, chunk);
    let deltas: DeltaChunk[];
    try {
      deltas = splitFrames(raw).map(decodeChunk);
    } catch (err) {
      throw new DamagedBackupError(`${file} is damaged: ${(err as Error).message}`);
    }
    const entries = deltas.reduce((n, d) => n + d.entries.length, 0);
    if (entries !== chunk.entries) throw new DamagedBackupError(`${file} is damaged: ${entries} key states, the manifest says ${chunk.entries}`);
    if (raw.length !== chunk.rawBytes) throw new DamagedBackupError(`${file} is damaged: ${raw.length} bytes unpacked, the manifest says ${chunk.rawBytes}`);
    return deltas;
  }

  /** The stored bytes of a chunk, checked against the manifest's size and SHA-256. */
  async readStored(m: Manifest, chunk: ChunkInfo): Promise<Buffer> {
    const file = this.chunkPath(m.id, chunk);
    let stored: Buffer;
    try {
      stored = await readFile(file);
    } catch (err) {
      throw new DamagedBackupError(codeOf(err) === 'ENOENT' ? `${file} is missing` : `${file} is unreadable (${codeOf(err)})`);
    }
    if (stored.length !== chunk.bytes) throw new DamagedBackupError(`${file} is damaged: ${stored.length} bytes, the manifest says ${chunk.bytes}`);
    if (createHash('sha256').update(stored).digest('hex') !== chunk.sha256) throw new DamagedBackupError(`${file} is damaged: its SHA-256 does not match the manifest`);
    return stored;
  }

  /** Starts writing backup `id`; nothing is visible until `finish`. */
  async writer(id: string): Promise<BackupWriter> {
    this.requireKey();
    const tmp = join(this.dir, 'backups', `.tmp-${id}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp, { recursive: true });
    return new BackupWriter(this.dir, id, tmp, this.key);
  }

  /** Deletes a backup: renamed out of sight first, so a half-deleted one is never listed. */
  async remove(id: string): Promise<void> {
    const root = join(this.dir, 'backups');
    const gone = join(root, `.tmp-delete-${id}-${randomBytes(4).toString('hex')}`);
    await rename(join(root, id), gone);
    await rm(gone, { recursive: true, force: true });
  }
}

export class BackupWriter {
  private readonly chunks: ChunkInfo[] = [];

  constructor(
    private readonly repoDir: string,
    readonly id: string,
    private readonly tmp: string,
    private readonly key: Buffer | null,
  ) {}

  /** Stores chunk number `index` (several may be in flight; the manifest lists them in order). */
  async addChunk(index: number, raw: Buffer, entries: number): Promise<ChunkInfo> {
    const file = `chunk-${String(index).padStart(6, '0')}.bin`;
    const stored = await encodeStored(raw, this.key, `${this.id}/${file}`);
    await writeSynced(join(this.tmp, file), stored, false); // synced together in finish(), off the stream's path
    const info = { file, sha256: createHash('sha256').update(stored).digest('hex'), bytes: stored.length, rawBytes: raw.length, entries };
    this.chunks[index] = info;
    return info;
  }

  get written(): ChunkInfo[] {
    return this.chunks;
  }

  /** Writes the manifest and makes the backup visible under its id. */
  async finish(manifest: Manifest): Promise<void> {
    await Promise.all(this.chunks.map((c) => syncPath(join(this.tmp, c.file))));
    await writeSynced(join(this.tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    await syncPath(this.tmp);
    const root = join(this.repoDir, 'backups');
    try {
      await rename(this.tmp, join(root, this.id));
    } catch (err) {
      throw new BackupError(`cannot store backup ${this.id}: ${codeOf(err) === 'ENOTEMPTY' || codeOf(err) === 'EEXIST' ? 'another backup took that id meanwhile' : codeOf(err)}`);
    }
    await syncPath(root);
  }

  async abort(): Promise<void> {
    await rm(this.tmp, { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A repository whose backups are there but whose repo.json is not: damaged, not absent. */
function missingRepoFile(file: string): DamagedBackupError {
  return new DamagedBackupError(`damaged backup repository: ${file} is missing (its backups are still there; restore the file from a copy)`);
}
