// The kinds of backup. Apart from manifest.ts (zod), so the command line can check --type
// without loading the schemas.

export const BACKUP_TYPES = ['full', 'incremental', 'differential'] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];
