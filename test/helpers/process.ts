// Helpers for tests that run real child processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file with a package.json (works from dist/ too). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/** The compiled file for a source path relative to the repository root (npm test builds first). */
export function built(relative: string): string {
  return join(repoRoot(), 'dist', relative.replace(/\.ts$/, '.js'));
}

export interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs node with `args`; `prefix` (e.g. `ip netns exec NS`) goes before node, and must exec it.
 * `exe` runs that executable instead of node (an installed `replikv` script, say).
 */
export function run(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; prefix?: string[]; exe?: string } = {}): Child {
  const [cmd, ...rest] = [...(opts.prefix ?? []), opts.exe ?? process.execPath, ...args];
  const proc = spawn(cmd!, rest, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** Polls `check` until it returns true, or fails after `ms` with `what` in the message. */
export async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Polls an async probe until its value passes `ok`, or fails after `ms`; the failure message shows
 * the last value (or error) seen, so a timeout says how far things got.
 */
export async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown = 'nothing yet';
  for (;;) {
    try {
      const v = await probe();
      if (ok(v)) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const shown = last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 500);
      throw new Error(`timed out after ${ms} ms waiting for ${what}; last seen: ${shown}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
