// Issue 11, installing on more machines: the tarball `npm pack` makes installs with `npm install -g`
// as a working `replikv` command, and the systemd unit's ExecStart line runs a node from it. One
// pack and one install for the whole file (about 30 s of npm on this machine).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execStartWords, packAndInstall, PATH_WITH_NODE, ROOT, runTool, UNIT_FILE, type Installed } from '../helpers/install.js';
import { run, until, type Child } from '../helpers/process.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
let installed: Installed;
const daemons: Child[] = [];

beforeAll(async () => {
  installed = await packAndInstall();
  // What the install costs, for the CI budget (printed, not asserted).
  console.log(`npm pack ${installed.packMs} ms, npm install -g ${installed.installMs} ms`);
}, 400_000);

afterAll(() => {
  for (const d of daemons) if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGKILL');
  if (installed !== undefined) rmSync(installed.work, { recursive: true, force: true });
});

describe('the npm pack tarball', () => {
  it('holds the built command, the service files and the docs, and no tests, benchmarks, sources or source maps', () => {
    const files = installed.files;
    expect(files).toContain(pkg.bin.replikv);
    expect(files).toContain('dist/src/daemon.js');
    for (const f of ['package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'packaging/replikv.service', 'packaging/replikv.sysusers', 'packaging/config.json', 'config/default.json']) {
      expect(files).toContain(f);
    }
    const unwanted = files.filter((f) => /^(test|bench|src|dist\/test|dist\/bench|deps|scripts|node_modules)\//.test(f) || f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
    expect(unwanted).toEqual([]);
  });

  it('installs as a replikv command: an executable launcher that prints the package version and its help', async () => {
    const script = join(installed.prefix, 'lib', 'node_modules', 'replikv', pkg.bin.replikv!);
    expect(readFileSync(script, 'utf8').split('\n')[0]).toBe('#!/bin/sh');
    expect(statSync(script).mode & 0o111).not.toBe(0);

    const version = await runTool(installed.bin, ['--version']);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);

    const help = await runTool(installed.bin, ['--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: replikv/m);
    expect(help.stdout).toMatch(/^\s+daemon\b/m);
  });

  it('runs without NODE_EXTRA_CA_CERTS (Node would read that bundle at every start; replikv uses no TLS)', async () => {
    // Node warns on stderr when the file it names cannot be read: the launcher must not pass it on.
    const env = { NODE_EXTRA_CA_CERTS: join(installed.work, 'no-such-bundle.pem') };
    const bare = await runTool(process.execPath, ['-e', ''], { env });
    expect(bare.stderr).toMatch(/NODE_EXTRA_CA_CERTS|extra certs/i); // the probe: Node does read it
    const version = await runTool(installed.bin, ['--version'], { env });
    expect(version.code, version.stderr).toBe(0);
    expect(version.stderr).toBe('');
    expect(version.stdout.trim()).toBe(pkg.version);
  });

  it('gives an application that installed it `import { connect } from \'replikv\'` (the library, through exports)', async () => {
    const lib = join(installed.prefix, 'lib');
    writeFileSync(join(lib, 'uses-replikv.mjs'), "import { connect } from 'replikv';\nconsole.log(typeof connect);\n");
    const ran = await runTool(process.execPath, ['uses-replikv.mjs'], { cwd: lib });
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout.trim()).toBe('function');
  });

  it('asks for no Node newer than the one running here, except p-retry 8 (see README: it runs on Node 20)', () => {
    // npm warns "EBADENGINE" for each installed package whose engines exclude this Node. The
    // project's own install pins p-retry 7 (overrides); a tarball install resolves libp2p's ^8.
    const named = [...installed.installOutput.matchAll(/EBADENGINE\s+package: '([^']+)'/g)].map((m) => m[1]!.replace(/@[^@]+$/, ''));
    expect(named.filter((n) => n !== 'p-retry')).toEqual([]);
  });
});

describe("the systemd unit's ExecStart, run from the installed package", () => {
  it('starts a node that becomes ready, answers put and get through the installed CLI, and exits 0 on SIGTERM', async () => {
    const work = mkdtempSync(join(installed.work, 'unit-run-'));
    const dataDir = join(work, 'var-lib-replikv');
    const credentials = join(work, 'credentials');
    mkdirSync(credentials);
    const keygen = await runTool(installed.bin, ['keygen', '--out', join(credentials, 'swarm.key')]);
    expect(keygen.code, keygen.stderr).toBe(0);
    // The unit's paths, pointed at this test's: the installed command, the sample config, a
    // temporary state directory and credentials directory (%d).
    const words = execStartWords(readFileSync(UNIT_FILE, 'utf8')).map((w) =>
      w
        .replace('/usr/local/bin/replikv', installed.bin)
        .replace('/etc/replikv/config.json', join(ROOT, 'packaging', 'config.json'))
        .replace('/var/lib/replikv', dataDir)
        .replace('%d', credentials),
    );
    expect(words[0]).toBe(installed.bin);
    // The sample config listens on 0.0.0.0:7400; a test uses an OS-chosen port on loopback.
    const args = [...words.slice(1), '--listen', '/ip4/127.0.0.1/tcp/0'];
    const daemon = run(args, { exe: installed.bin, cwd: work, env: { PATH: PATH_WITH_NODE } });
    daemons.push(daemon);
    await until(() => /"msg":"ready"/.test(daemon.stderr()) || daemon.proc.exitCode !== null, 'the installed daemon to log ready', 60_000);
    expect(daemon.proc.exitCode, daemon.stderr()).toBeNull();
    // Every log line is JSON (journald keeps them as they are).
    for (const line of daemon.stderr().trim().split('\n')) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    // It uses the credential's swarm key: it made none of its own in the data directory.
    expect(existsSync(join(dataDir, 'swarm.key'))).toBe(false);
    expect(existsSync(join(dataDir, 'identity.key'))).toBe(true);

    const put = await runTool(installed.bin, ['put', 'installed', 'yes', '--data-dir', dataDir]);
    expect(put.code, put.stderr).toBe(0);
    const get = await runTool(installed.bin, ['get', 'installed', '--data-dir', dataDir]);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toBe('yes');

    daemon.proc.kill('SIGTERM');
    const exit = await daemon.exited;
    expect(exit, daemon.stderr()).toEqual({ code: 0, signal: null });
    expect(daemon.stderr()).toMatch(/"msg":"stopped"/);
  });

  it('refuses a config the unit cannot fix with exit 78, which the unit does not restart on', async () => {
    const work = mkdtempSync(join(installed.work, 'unit-bad-'));
    const config = join(work, 'config.json');
    writeFileSync(config, JSON.stringify({ listen: ['/ip4/127.0.0.1/tcp/0'], nosuchsetting: 1 }));
    const r = await runTool(installed.bin, ['daemon', '--config', config, '--data-dir', join(work, 'data')]);
    expect(r.code, r.stderr).toBe(78);
    expect(readFileSync(UNIT_FILE, 'utf8')).toMatch(/^RestartPreventExitStatus=.*\b78\b/m);
  });
});
