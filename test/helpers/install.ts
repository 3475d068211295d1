// Packs this checkout with `npm pack` and installs the tarball with `npm install -g` into a temporary
// prefix, as an operator would on a machine without a clone. Also runs the system tools the
// service checks use, failing with a clear message where one is missing (never skipping).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** PATH with this test's node first, so an installed `#!/usr/bin/env node` script runs the same node. */
export const PATH_WITH_NODE = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`;

/** Runs `cmd` to completion; a non-zero exit is a result, not an error. */
export function runTool(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...opts.env, PATH: PATH_WITH_NODE } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : (err as { code?: unknown }).code;
        if (typeof code !== 'number') return reject(new Error(`${cmd} ${args.join(' ')} did not run: ${(err as Error).message}\n${stderr}`));
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The absolute path of a system tool, or an error naming the Debian package that has it. */
export function requireTool(name: string, debianPackage: string): string {
  for (const dir of PATH_WITH_NODE.split(delimiter)) {
    const file = join(dir, name);
    if (dir !== '' && existsSync(file)) return file;
  }
  throw new Error(`${name} is not installed: these checks need it (Debian: apt-get install ${debianPackage})`);
}

export interface Installed {
  /** A temporary folder holding the tarball and the prefix; the test removes it. */
  work: string;
  tarball: string;
  /** The paths inside the tarball, relative to its package/ folder. */
  files: string[];
  prefix: string;
  /** PREFIX/bin/replikv, the command npm linked. */
  bin: string;
  /** What `npm install -g` printed (its warnings go to stderr). */
  installOutput: string;
  packMs: number;
  installMs: number;
}

/**
 * `npm pack` (without its prepare script: `npm test` has just built dist/) and `npm install -g` of
 * the tarball into a fresh prefix, from the npm cache where it can (`npm ci` filled it).
 */
export async function packAndInstall(): Promise<Installed> {
  const work = mkdtempSync(join(tmpdir(), 'replikv-install-'));
  const t0 = Date.now();
  const pack = await runTool('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
  if (pack.code !== 0) throw new Error(`npm pack failed (${pack.code}): ${pack.stderr}`);
  const packMs = Date.now() - t0;
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  const tarball = join(work, info!.filename);
  const prefix = join(work, 'prefix');
  const t1 = Date.now();
  const install = await runTool('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], {
    cwd: work,
    timeoutMs: 300_000,
  });
  if (install.code !== 0) throw new Error(`npm install -g failed (${install.code}): ${install.stderr}`);
  return {
    work,
    tarball,
    files: info!.files.map((f) => f.path),
    prefix,
    bin: join(prefix, 'bin', 'replikv'),
    installOutput: install.stdout + install.stderr,
    packMs,
    installMs: Date.now() - t1,
  };
}

export const UNIT_FILE = join(ROOT, 'packaging', 'replikv.service');

/** The unit's ExecStart command line as words (it uses no quoting). */
export function execStartWords(unitText: string): string[] {
  const line = unitText.split('\n').find((l) => l.startsWith('ExecStart='));
  if (line === undefined) throw new Error('the unit has no ExecStart=');
  return line.slice('ExecStart='.length).trim().split(/\s+/);
}
