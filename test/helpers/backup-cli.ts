// The real CLI for backup tests: commands that need no daemon (restore, list, verify), and NDJSON
// key files for `replikv import`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CLI } from './daemons.js';
import { run } from './process.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The real CLI without a daemon's --data-dir (restore, list, verify). */
export async function cli(...args: string[]): Promise<CliResult> {
  const c = run([CLI, ...args]);
  const { code } = await c.exited;
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

/** The stdout of a command that must succeed. */
export async function ok(p: Promise<CliResult>): Promise<string> {
  const r = await p;
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** DIR/keys.ndjson with n keys PREFIX/0.. and values VALUE0.. */
export function keysFile(dir: string, n: number, prefix: string, value = 'v'.repeat(100)): string {
  const file = join(dir, 'keys.ndjson');
  writeFileSync(file, Array.from({ length: n }, (_, i) => JSON.stringify({ key: `${prefix}/${i}`, value: `${value}${i}` })).join('\n'));
  return file;
}
