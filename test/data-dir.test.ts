// The data-directory lock: exclusive while held (also against a second open in the same process,
// as flock is per open file), free the moment its holder dies (kill -9 included), and a failed
// start's discard removes what that start created.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assertDataDirFree, inUseMessage, LOCK_FILE, lockDataDir, parseHolderPid, type DataDirLock } from '../src/data-dir.js';
import { ResourceError } from '../src/errors.js';
import { built, run, until } from './helpers/process.js';

const dirs: string[] = [];
const locks: DataDirLock[] = [];
afterEach(() => {
  for (const l of locks.splice(0)) l.release();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rkv-lock-'));
  dirs.push(d);
  return d;
}

async function lock(dir: string): Promise<DataDirLock> {
  const l = await lockDataDir(dir);
  locks.push(l);
  return l;
}

describe('parseHolderPid', () => {
  it('reads a PID line and nothing else', () => {
    expect(parseHolderPid('1234\n')).toBe(1234);
    expect(parseHolderPid('1234')).toBe(1234);
    expect(parseHolderPid('')).toBeUndefined();
    expect(parseHolderPid('0\n')).toBeUndefined();
    expect(parseHolderPid('12a\n')).toBeUndefined();
    expect(parseHolderPid('99999999999999999999\n')).toBeUndefined();
  });

  it('names the pid, or says it is unknown', () => {
    expect(inUseMessage('/x', 1234)).toBe('data directory /x is in use by replikv daemon pid 1234');
    expect(inUseMessage('/x', undefined)).toBe('data directory /x is in use by replikv daemon (pid unknown)');
  });
});

describe('lockDataDir', () => {
  it('creates the directory, writes its pid, and refuses a second holder naming that pid until released', async () => {
    const dir = join(tempDir(), 'a', 'data');
    const first = await lock(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    const err = await lockDataDir(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceError);
    expect((err as Error).message).toBe(inUseMessage(dir, process.pid));
    await expect(assertDataDirFree(dir)).rejects.toThrow(`pid ${process.pid}`);
    first.release();
    await lock(dir);
  });

  it('is free at once when its holder is killed with SIGKILL', async () => {
    const dir = tempDir();
    const script = `import(${JSON.stringify(built('src/data-dir.ts'))}).then(async (m) => { await m.lockDataDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000); });`;
    const holder = run(['--input-type=module', '-e', script]);
    try {
      await until(() => holder.stdout().includes('locked') || holder.proc.exitCode !== null, 'the child to lock');
      expect(holder.stdout(), holder.stderr()).toContain('locked');
      await expect(lockDataDir(dir)).rejects.toThrow(`pid ${holder.proc.pid}`);
    } finally {
      holder.proc.kill('SIGKILL');
      await holder.exited;
    }
    await assertDataDirFree(dir);
    await lock(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`); // the dead holder's pid replaced
  });

  it('discard removes a directory the start created, or only the lock file in one that existed', async () => {
    const parent = tempDir();
    const fresh = join(parent, 'new', 'data');
    await (await lockDataDir(fresh)).discard();
    expect(existsSync(join(parent, 'new'))).toBe(false);

    const existing = join(parent, 'old');
    mkdirSync(existing);
    writeFileSync(join(existing, 'keep'), 'x');
    await (await lockDataDir(existing)).discard();
    expect(readdirSync(existing)).toEqual(['keep']);
    await lock(existing); // and the directory can be locked again
  });

  it('refuses a data directory that cannot be created, with the reason and no stack', async () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    await expect(lockDataDir(join(file, 'data'))).rejects.toThrow(`data directory ${join(file, 'data')} cannot be created or written: not a directory (ENOTDIR)`);
    await expect(lockDataDir(file)).rejects.toThrow(ResourceError);
  });

  it('assertDataDirFree accepts a directory without a lock file, or one that does not exist', async () => {
    const dir = tempDir();
    await assertDataDirFree(dir);
    await assertDataDirFree(join(dir, 'missing'));
  });
});
