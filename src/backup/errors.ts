// Typed errors of backups and restores. BackupError covers what the user must fix (no repository,
// an unknown id, a target that is not empty); DamagedBackupError and WrongKeyError mean the
// repository cannot be trusted as it is, and the CLI gives them their own exit code.

import { ReplikvError } from '../errors.js';

/** A backup command that cannot run as asked: no repository, no such backup, a non-empty target. */
export class BackupError extends ReplikvError {
  override readonly code: string = 'BACKUP';
}

/** A chunk or manifest that fails its check, a missing file, or a chain with a missing link. */
export class DamagedBackupError extends BackupError {
  override readonly code = 'BACKUP_DAMAGED';
}

/** The passphrase does not open the repository (or a key is missing or not wanted). */
export class WrongKeyError extends BackupError {
  override readonly code = 'WRONG_KEY';
}
