// The data directory and its lock: one daemon per data directory. Two daemons on one directory
// would share a replica id and issue the same dots for different writes, losing acknowledged ones.
//
// The lock is flock(2) on DATA_DIR/daemon.lock, taken without waiting (LOCK_NB). The kernel drops
// it when the process ends, however it ends, so a restart right after kill -9 starts at once and
// never has to judge staleness, and a daemon whose event loop stalls keeps it. (A lock file judged
// by its mtime or by a PID has to guess at both.) Node has no flock, hence fs-ext-extra-prebuilt,
// whose binaries ship in its npm package. The file holds the holder's PID, only for the message.
//
// A lock file may be unlinked (a failed start removes what it created): whoever got the lock then
// checks that the path still names the file it locked, and starts over if not, so a lock on an
// unlinked file is never taken for the directory's lock.

import { closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { access, mkdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ResourceError } from './errors.js';

export const LOCK_FILE = 'daemon.lock';

export interface DataDirLock {
  readonly dir: string;
  /** Releases the lock (the file stays: a leftover lock file holds nothing). */
  release(): void;
  /** For a start that failed: removes the data directory if this start created it (else the lock file it created), then releases. */
  discard(): Promise<void>;
}

/** The PID a lock file names, or undefined when it names none (being written, or damaged). */
export function parseHolderPid(text: string): number | undefined {
  const m = /^(\d+)\n?$/.exec(text);
  const pid = m === null ? NaN : Number(m[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

export function inUseMessage(dir: string, pid: number | undefined): string {
  return `data directory ${dir} is in use by replikv daemon ${pid === undefined ? '(pid unknown)' : `pid ${pid}`}`;
}

type Flock = (fd: number, flags: number) => number;
let flockSync: Flock | undefined;
const LOCK_EX = 2;
const LOCK_NB = 4;

function flock(): Flock {
  if (flockSync === undefined) {
    try {
      flockSync = (createRequire(import.meta.url)('fs-ext-extra-prebuilt') as { flockSync: Flock }).flockSync;
    } catch (err) {
      throw new ResourceError(`cannot load flock(2) support (fs-ext-extra-prebuilt) for ${process.platform}-${process.arch}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return flockSync;
}

/** Tries to lock `fd` exclusively without waiting: false when another open file holds the lock. */
function tryLock(fd: number): boolean {
  try {
    flock()(fd, LOCK_EX | LOCK_NB);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false;
    throw err;
  }
}

/** The holder's PID from the lock file; it writes it just after locking, so a brief wait may be needed. */
async function holderPid(file: string): Promise<number | undefined> {
  for (let i = 0; i < 20; i++) {
    try {
      const pid = parseHolderPid(readFileSync(file, 'utf8'));
      if (pid !== undefined) return pid;
    } catch {
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return undefined;
}

const REASONS: Record<string, string> = { ENOENT: 'no such file or directory', ENOTDIR: 'not a directory', EEXIST: 'not a directory', EACCES: 'permission denied', EPERM: 'permission denied', EROFS: 'read-only file system', ENOSPC: 'no space left' };

function cannot(dir: string, what: string, err: unknown): ResourceError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === undefined ? (err as Error).message : REASONS[code] === undefined ? code : `${REASONS[code]} (${code})`;
  return new ResourceError(`data directory ${dir} ${what}: ${reason}`);
}

/**
 * mkdir -p, one level at a time; returns the first directory it created, like mkdir's recursive
 * form. Node 20's recursive mkdir loops for ever (at 100% CPU) on a path under /proc, where mkdir
 * answers ENOENT even though the parent exists; here that is an error like any other.
 */
async function makeDirs(dir: string): Promise<string | undefined> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    try {
      if (!(await stat(d)).isDirectory()) {
        // what mkdir says: EEXIST for the directory itself, ENOTDIR for a path through a file
        throw Object.assign(new Error(`${d} is not a directory`), { code: d === dir ? 'EEXIST' : 'ENOTDIR' });
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(d) === d) throw err;
      missing.unshift(d);
    }
  }
  for (const d of missing) {
    try {
      await mkdir(d, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // made meanwhile by another start: fine
    }
  }
  return missing[0];
}

/**
 * Creates `dir` if needed and locks it for this process. Throws ResourceError when another daemon
 * holds it (naming its PID) or when the directory cannot be created or written.
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    let created: string | undefined;
    try {
      created = await makeDirs(dir);
      await access(dir, constants.W_OK);
    } catch (err) {
      throw cannot(dir, 'cannot be created or written', err);
    }
    let fd: number;
    let createdFile = true;
    try {
      try {
        fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        createdFile = false;
        fd = openSync(file, constants.O_RDWR);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 5) continue; // removed by a start that failed
      throw cannot(dir, 'cannot be written', err);
    }
    let locked: boolean;
    try {
      locked = tryLock(fd);
    } catch (err) {
      closeSync(fd);
      throw cannot(dir, 'cannot be locked', err);
    }
    if (!locked) {
      closeSync(fd);
      throw new ResourceError(inUseMessage(dir, await holderPid(file)));
    }
    if (!namesSameFile(fd, file)) {
      closeSync(fd); // we locked a file a failed start had just unlinked: start over
      if (attempt < 5) continue;
      throw new ResourceError(`data directory ${dir}: its lock file keeps being replaced; is another program removing it?`);
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    return lockOf(dir, file, fd, created, createdFile);
  }
}

function namesSameFile(fd: number, file: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(file);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

function lockOf(dir: string, file: string, fd: number, created: string | undefined, createdFile: boolean): DataDirLock {
  let held = true;
  const release = () => {
    if (held) closeSync(fd); // closing the last descriptor of the open file drops the flock
    held = false;
  };
  return {
    dir,
    release,
    async discard() {
      // Removed while still locked, so no other start sees a half-removed directory as its own.
      if (created !== undefined) await rm(created, { recursive: true, force: true }).catch(() => undefined);
      else if (createdFile) {
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
      }
      release();
    },
  };
}

/**
 * Throws ResourceError naming the holder's PID if a daemon holds `dir` (for restore, which must not
 * write into a running daemon's directory). A check, not a lock: it takes and drops the lock at once.
 */
export async function assertDataDirFree(dir: string): Promise<void> {
  const file = join(dir, LOCK_FILE);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return; // no daemon ever locked it
    throw cannot(dir, 'cannot be read', err);
  }
  try {
    if (!tryLock(fd)) throw new ResourceError(inUseMessage(dir, await holderPid(file)));
  } finally {
    closeSync(fd);
  }
}

/**
 * Those of `paths` that exist and give group or other users any access, with their modes in octal
 * (e.g. "0755"): a data directory made before replikv created them 0700, or by hand.
 */
export function openToOthers(paths: string[]): { path: string; mode: string }[] {
  const found: { path: string; mode: string }[] = [];
  for (const path of paths) {
    try {
      const mode = statSync(path).mode & 0o777;
      if ((mode & 0o077) !== 0) found.push({ path, mode: `0${mode.toString(8)}` });
    } catch {
      // missing: nothing to say
    }
  }
  return found;
}
