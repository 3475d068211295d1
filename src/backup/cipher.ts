// Encryption of a repository: AES-256-GCM with a key derived from a passphrase by scrypt. The salt
// and the scrypt parameters live in repo.json, with a check record (a known plaintext sealed with
// the key), so a wrong passphrase is told apart from a damaged chunk: both fail GCM authentication,
// but only a wrong key fails on the check record.

import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BackupError, DamagedBackupError, WrongKeyError } from './errors.js';
import type { EncryptionRecord } from './manifest.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const CHECK_TEXT = Buffer.from('replikv backup repository key check v1');
// About 0.1 s and 32 MiB per derivation: cheap once per command, expensive for guessing.
const SCRYPT = { N: 1 << 15, r: 8, p: 1 };

function derive(passphrase: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const maxmem = 256 * params.N * params.r + 1024 * 1024;
  return new Promise((resolve, reject) =>
    scrypt(passphrase, salt, KEY_BYTES, { ...params, maxmem }, (err, key) =>
      err === null ? resolve(key) : reject(new BackupError(`cannot derive the key: ${err.message}`)),
    ),
  );
}

/** iv | ciphertext | tag; `aad` binds the bytes to their place (a chunk cannot be swapped for another). */
export function seal(key: Buffer, plain: Uint8Array, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const body = c.update(plain);
  const final = c.final();
  return Buffer.concat([iv, body, final, c.getAuthTag()]);
}

/** Opens sealed bytes; null when authentication fails (wrong key, or changed bytes). */
export function unseal(key: Buffer, sealed: Uint8Array, aad: string): Buffer | null {
  if (sealed.length < IV_BYTES + TAG_BYTES) return null;
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
  const d = createDecipheriv('aes-256-gcm', key, buf.subarray(0, IV_BYTES));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
  try {
    return Buffer.concat([d.update(buf.subarray(IV_BYTES, buf.length - TAG_BYTES)), d.final()]);
  } catch {
    return null;
  }
}

/** A new encryption record for `passphrase`, and its key. */
export async function newEncryption(passphrase: string): Promise<{ record: EncryptionRecord; key: Buffer }> {
  const salt = randomBytes(16);
  const key = await derive(passphrase, salt, SCRYPT);
  const check = seal(key, CHECK_TEXT, 'check').toString('base64');
  return { record: { cipher: 'aes-256-gcm', kdf: 'scrypt', ...SCRYPT, salt: salt.toString('base64'), check }, key };
}

/** The key of a repository; WrongKeyError when the passphrase does not open its check record. */
export async function unlock(record: EncryptionRecord, passphrase: string, where: string): Promise<Buffer> {
  if (record.N > 1 << 20 || record.r > 32 || record.p > 16) throw new DamagedBackupError(`${where}: scrypt parameters out of range`);
  const key = await derive(passphrase, Buffer.from(record.salt, 'base64'), record);
  const check = unseal(key, Buffer.from(record.check, 'base64'), 'check');
  if (check === null || !check.equals(CHECK_TEXT)) throw new WrongKeyError(`wrong key: the passphrase does not open the repository ${where}`);
  return key;
}

/** The passphrase in a key file (one trailing newline is not part of it). */
export async function readKeyFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BackupError(`cannot read the key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const passphrase = text.replace(/\r?\n$/, '');
  if (passphrase.length === 0) throw new BackupError(`the key file ${file} is empty`);
  return passphrase;
}
