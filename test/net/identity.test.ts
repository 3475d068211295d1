// The node identity file: created once with mode 0600, read back as the same PeerId, never replaced,
// and refused with a ConfigError naming the file when it is not a key.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadOrCreateIdentity, loadOrGenerateIdentity } from '../../src/net/identity.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'replikv-id-'));
  dirs.push(dir);
  return dir;
}

describe('loadOrCreateIdentity', () => {
  it('creates an Ed25519 key with mode 0600, creating parent directories, and leaves no temp file', async () => {
    const dir = tempDir();
    const file = join(dir, 'a', 'b', 'identity.key');
    const key = await loadOrCreateIdentity(file);
    expect(key.type).toBe('Ed25519');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['identity.key']);
  });

  it('returns the same PeerId after a reload and does not rewrite the file', async () => {
    const file = join(tempDir(), 'identity.key');
    const first = await loadOrCreateIdentity(file);
    const bytes = readFileSync(file);
    const again = await loadOrCreateIdentity(file);
    expect(peerIdFromPrivateKey(again).toString()).toBe(peerIdFromPrivateKey(first).toString());
    expect(again.equals(first)).toBe(true);
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });

  it('gives concurrent creators the same key', async () => {
    const file = join(tempDir(), 'identity.key');
    const [a, b] = await Promise.all([loadOrCreateIdentity(file), loadOrCreateIdentity(file)]);
    expect(a.equals(b)).toBe(true);
    expect(peerIdFromPrivateKey(await loadOrCreateIdentity(file)).equals(peerIdFromPrivateKey(a))).toBe(true);
  });

  it('refuses a corrupt file with a ConfigError naming it, and leaves the file alone', async () => {
    const file = join(tempDir(), 'identity.key');
    writeFileSync(file, 'not a key at all');
    const err = await loadOrCreateIdentity(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(file);
    expect(readFileSync(file, 'utf8')).toBe('not a key at all');
  });

  it('refuses an empty file rather than replacing it', async () => {
    const file = join(tempDir(), 'identity.key');
    writeFileSync(file, '');
    await expect(loadOrCreateIdentity(file)).rejects.toThrow(ConfigError);
    expect(statSync(file).size).toBe(0);
  });

  it('refuses an unreadable path with a ConfigError naming it and the reason', async () => {
    const file = join(tempDir(), 'identity.key');
    mkdirSync(file);
    const err = await loadOrCreateIdentity(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain('EISDIR');
  });
});

describe('loadOrGenerateIdentity', () => {
  it('generates a key in memory and writes it only on persist, with mode 0600', async () => {
    const dir = tempDir();
    const file = join(dir, 'identity.key');
    const id = await loadOrGenerateIdentity(file);
    expect(readdirSync(dir)).toEqual([]); // a start refused before persist leaves no key
    await id.persist();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = await loadOrGenerateIdentity(file);
    expect(again.key.equals(id.key)).toBe(true);
    await again.persist(); // a loaded key: nothing to write
    expect(readdirSync(dir)).toEqual(['identity.key']);
  });

  it('refuses to persist when another process created the file meanwhile, and keeps that key', async () => {
    const file = join(tempDir(), 'identity.key');
    const mine = await loadOrGenerateIdentity(file);
    const other = await loadOrCreateIdentity(file);
    await expect(mine.persist()).rejects.toThrow(ConfigError);
    expect((await loadOrCreateIdentity(file)).equals(other)).toBe(true);
  });
});
