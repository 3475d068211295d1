// Issue 9, secure by default: a daemon started without a swarm key makes one in its data directory
// on first start, runs a private network on it and reuses it later; only a node given that file
// joins. The data directory, store files and keys are readable by their owner only, and an
// existing data directory open to other users is reported (not changed). Real daemons throughout.
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readSwarmKeyFile } from '../../src/net/swarm-key.js';
import { Fleet, untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { eventually, until } from '../helpers/process.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs());
  await fleet.cleanup();
});

const mode = (path: string) => `0${(statSync(path).mode & 0o777).toString(8)}`;
/** The JSON log lines a daemon wrote so far. */
const logLines = (d: TestDaemon) =>
  d.child
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string; level: number });
/** The first log line whose message starts with `prefix`, once the daemon has written it. */
async function logged(d: TestDaemon, prefix: string): Promise<Record<string, unknown> & { msg: string; level: number }> {
  await until(() => logLines(d).some((l) => l.msg.startsWith(prefix)), `a log line "${prefix}..."`, 30_000);
  return logLines(d).find((l) => l.msg.startsWith(prefix))!;
}

describe('a daemon without a configured swarm key', () => {
  it('makes DATA_DIR/swarm.key on first start, says how to join, reuses it; only a node given that file joins', { timeout: 120_000 }, async () => {
    const dir = fleet.tmpdir();
    const a = await fleet.start({ dataDir: dir, swarmKey: null });
    const keyFile = join(dir, 'swarm.key');
    expect(() => readSwarmKeyFile(keyFile)).not.toThrow(); // the format replikv keygen writes
    const key = readFileSync(keyFile, 'utf8');
    const line = await logged(a, 'private network');
    expect(line, a.child.stderr()).toMatchObject({ level: 30, swarmKey: keyFile, generated: true });
    expect(line.msg).toContain('--swarm-key FILE');

    // A node with that key joins and replicates; one that made its own key never connects.
    const b = await fleet.start({ swarmKey: keyFile, bootstrap: [a.addr] });
    const stranger = await fleet.start({ swarmKey: null, bootstrap: [a.addr] });
    await untilConnected([a, b]);
    expect((await a.cli('put', 'k', 'v')).code).toBe(0);
    await untilConverged([a, b], 1);
    expect((await stranger.status()).keys).toBe(0);
    expect((await stranger.status()).peers.filter((p) => p.state === 'alive')).toEqual([]);
    expect((await a.status()).peers.map((p) => p.peerId)).not.toContain(stranger.peerId);
    expect(readFileSync(join(stranger.dataDir, 'swarm.key'), 'utf8')).not.toBe(key);
    // It says what to check, in status and in its log, rather than bootstrapping in silence.
    const unreached = /bootstrapping, but no peer reached for \d+ s: .*swarm key/;
    await eventually(async () => (await stranger.status()).warnings ?? [], (ws) => ws.some((w) => unreached.test(w)), 'the unreached warning in status', 60_000);
    expect((await logged(stranger, 'bootstrapping, but no peer reached')).level).toBe(40);

    // A restart reuses the key: same file, and b reconnects.
    await a.stop();
    const again = await fleet.start({ dataDir: dir, swarmKey: null, bootstrap: [b.addr] });
    expect(readFileSync(keyFile, 'utf8')).toBe(key);
    expect(await logged(again, 'private network')).toMatchObject({ swarmKey: keyFile, generated: false });
    await untilConnected([again, b]);
  });

  it('its data directory, store, identity and swarm key are readable by the owner only', { timeout: 60_000 }, async () => {
    const dir = join(fleet.tmpdir(), 'new');
    const d = await fleet.start({ dataDir: dir, swarmKey: null });
    await logged(d, 'ready'); // logged after any warning
    await eventually(async () => (await d.status()).state, (s) => s === 'ready', 'the daemon to be ready');
    expect(mode(dir)).toBe('0700');
    expect(mode(join(dir, 'store'))).toBe('0700');
    const storeFiles = readdirSync(join(dir, 'store'));
    expect(storeFiles).toContain('data.mdb');
    for (const f of storeFiles) expect([f, mode(join(dir, 'store', f))]).toEqual([f, '0600']);
    expect(mode(join(dir, 'identity.key'))).toBe('0600');
    expect(mode(join(dir, 'swarm.key'))).toBe('0600');
    expect(logLines(d).filter((l) => l.level >= 40), d.child.stderr()).toEqual([]);
  });

  it('an existing data directory open to other users gets one warning naming it and its mode, and is left as it is', { timeout: 60_000 }, async () => {
    const dir = join(fleet.tmpdir(), 'wide');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const d = await fleet.start({ dataDir: dir });
    await logged(d, 'ready'); // logged after the warnings
    const warnings = logLines(d).filter((l) => l.level === 40);
    expect(warnings, d.child.stderr()).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ path: dir, mode: '0755' });
    expect(warnings[0]!.msg).toContain(`${dir} has mode 0755`);
    expect(mode(dir)).toBe('0755');
  });

  it('a swarm key file given by path that other users can read gets one warning naming it, and is left as it is', { timeout: 60_000 }, async () => {
    const key = join(fleet.tmpdir(), 'shared.key');
    writeFileSync(key, readFileSync(fleet.swarmKeyFile()));
    chmodSync(key, 0o644);
    const d = await fleet.start({ swarmKey: key });
    await logged(d, 'ready');
    const warnings = logLines(d).filter((l) => l.level === 40);
    expect(warnings, d.child.stderr()).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ path: key, mode: '0644' });
    expect(mode(key)).toBe('0644');
  });

  it('swarmKey "none" in the config opts out: no key file, a warning, and two such nodes connect', { timeout: 120_000 }, async () => {
    const config = join(fleet.tmpdir(), 'open.json');
    writeFileSync(config, JSON.stringify({ swarmKey: 'none' }));
    const a = await fleet.start({ swarmKey: null, extra: ['--config', config] });
    const b = await fleet.start({ swarmKey: null, extra: ['--config', config], bootstrap: [a.addr] });
    await untilConnected([a, b]);
    for (const d of [a, b]) {
      expect(readdirSync(d.dataDir)).not.toContain('swarm.key');
      expect(await logged(d, 'open network'), d.child.stderr()).toMatchObject({ level: 40 });
    }
  });
});

describe('a test fleet', () => {
  it('gives its daemons one shared key: they replicate, and none makes a key of its own', { timeout: 120_000 }, async () => {
    const [a, b] = (await fleet.cluster(2)) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    expect((await b.cli('put', 'shared', 'yes')).code).toBe(0);
    await untilConverged([a, b], 1);
    for (const d of [a, b]) expect(readdirSync(d.dataDir)).not.toContain('swarm.key');
  });
});
