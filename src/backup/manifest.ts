// The manifest of one backup and the repository's own record, as zod schemas: everything read from
// a repository is checked against them, so a damaged or foreign file is refused with the field
// and the reason instead of being half-used.

import { z } from 'zod';
import { Clock } from '../core/clock.js';
import { decodeClock, encodeClock } from '../core/codec.js';
import { DamagedBackupError } from './errors.js';

import { BACKUP_TYPES, type BackupType } from './backup-type.js';

export { BACKUP_TYPES, type BackupType };

/** Backup ids: a sequence number (the order of creation) and the type, e.g. 000003-incremental. */
export const ID_PATTERN = /^\d{6,}-(full|incremental|differential)$/;
const Id = z.string().regex(ID_PATTERN, 'not a backup id (like 000001-full)');
const Hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`), `expected ${n} hex digits`);
const Count = z.number().int().min(0);
const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');

export const ChunkSchema = z.strictObject({
  file: z.string().regex(/^chunk-\d{6,}\.bin$/, 'not a chunk file name'),
  /** SHA-256 of the file as stored (compressed, and encrypted when the repository is). */
  sha256: Hex(64),
  /** Bytes as stored, and before compression. */
  bytes: Count,
  rawBytes: Count,
  /** Key states in the chunk. */
  entries: Count,
});

export const ManifestSchema = z
  .strictObject({
    /**
     * 1: before manifests were authenticated (no mac, no parentMac); 2: both present; 3: as 2, with
     * `digest` and `keys` as garbage collection counts them (lasting values only: state-hash.ts).
     */
    format: z.union([z.literal(1), z.literal(2), z.literal(3)]),
    id: Id,
    seq: z.number().int().min(1),
    type: z.enum(BACKUP_TYPES),
    /** The backup this one adds to (null for a full one). */
    parent: Id.nullable(),
    time: z.iso.datetime(),
    /** The clock the changes are relative to (the parent's clock; empty for a full backup), encoded, base64. */
    since: Base64,
    /** The node clock of the snapshot this backup covers, encoded, base64. */
    clock: Base64,
    /** State digest and live key count of that snapshot: what a restore up to here must give. */
    digest: Hex(32),
    keys: Count,
    /** Key states stored in this backup (changed or deleted keys for the partial types). */
    entries: Count,
    rawBytes: Count,
    bytes: Count,
    compression: z.enum(['brotli']),
    encrypted: z.boolean(),
    chunks: z.array(ChunkSchema),
    /** HMAC-SHA256 of the rest, with the repository's MAC key (manifest-mac.ts); null in a repository in the clear. */
    mac: Hex(64).nullable().optional(),
    /** The parent's `mac` when this backup was made (null for a full backup, and in a repository in the clear). */
    parentMac: Hex(64).nullable().optional(),
  })
  .refine((m) => (m.format === 1 ? m.mac === undefined && m.parentMac === undefined : m.mac !== undefined && m.parentMac !== undefined), {
    message: 'format 2 has mac and parentMac, format 1 neither',
  })
  .refine((m) => m.format === 1 || (m.mac !== null) === m.encrypted, { message: 'a MAC exactly when the backup is encrypted' })
  .refine((m) => m.format === 1 || (m.parentMac !== null) === (m.encrypted && m.parent !== null), { message: "the parent's MAC exactly when there is a parent and the backup is encrypted" })
  .refine((m) => (m.type === 'full') === (m.parent === null), { message: 'a full backup has no parent, and only a full one' })
  .refine((m) => m.id === `${String(m.seq).padStart(6, '0')}-${m.type}`, { message: 'the id does not match seq and type' });

export type Manifest = z.infer<typeof ManifestSchema>;
export type ChunkInfo = z.infer<typeof ChunkSchema>;

export const EncryptionSchema = z.strictObject({
  cipher: z.literal('aes-256-gcm'),
  kdf: z.literal('scrypt'),
  N: z.number().int().min(2),
  r: z.number().int().min(1),
  p: z.number().int().min(1),
  salt: Base64,
  /** A known plaintext sealed with the derived key: opening it tells a wrong key from damage. */
  check: Base64,
});

export const RepoSchema = z.strictObject({
  format: z.literal(1),
  /** null: chunks are stored in the clear. */
  encryption: EncryptionSchema.nullable(),
});

export type RepoRecord = z.infer<typeof RepoSchema>;
export type EncryptionRecord = z.infer<typeof EncryptionSchema>;

export function backupId(seq: number, type: BackupType): string {
  return `${String(seq).padStart(6, '0')}-${type}`;
}

/** Parses a JSON file against a schema; anything wrong is a DamagedBackupError naming the file. */
export function parseRecord<T>(schema: z.ZodType<T>, text: string, file: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DamagedBackupError(`${file} is damaged: not JSON`);
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new DamagedBackupError(`${file} is damaged: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return r.data;
}

export const clockToText = (c: Clock): string => Buffer.from(encodeClock(c)).toString('base64');

export function clockOf(text: string, file: string): Clock {
  try {
    return decodeClock(Buffer.from(text, 'base64'));
  } catch (err) {
    throw new DamagedBackupError(`${file} is damaged: bad clock (${(err as Error).message})`);
  }
}
