// Key expiry on the command line: put --ttl, expire, persist, ttl and import's "ttl", against real
// daemons through the real CLI. Expiry is waited for by polling with a deadline, never by sleeping.
// Independent commands run side by side: each CLI start costs about half a second of CPU.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, Fleet, untilConnected, type TestDaemon } from '../helpers/daemons.js';
import { eventually, run } from '../helpers/process.js';

const fleet = new Fleet();
afterEach(() => fleet.cleanup());

type Ran = { code: number | null; stdout: string; stderr: string };

async function cli(...args: string[]): Promise<Ran> {
  const c = run([CLI, ...args]);
  const { code } = await c.exited;
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

/** Polls until `key` reads as absent on `d`, within a generous deadline. */
function untilAbsent(d: TestDaemon, key: string): Promise<unknown> {
  return eventually(() => d.client.get(key), (v) => v === undefined, `${key} to expire on ${d.peerId.slice(-6)}`, 15_000);
}

/** The seconds `ttl` printed, checked to be a whole number in (0, max]. */
function secondsLeft(r: Ran, max: number): number {
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^\d+\n$/);
  const s = Number(r.stdout);
  expect(s).toBeGreaterThan(0);
  expect(s).toBeLessThanOrEqual(max);
  return s;
}

const notFound = (key: string) => ({ code: 1, stdout: '', stderr: `replikv: not found: ${key}\n` });

describe('key expiry on the command line', () => {
  it('put --ttl, import "ttl", ttl, expire and persist on one daemon; expired values read as absent', async () => {
    const d = await fleet.start();
    const file = join(d.dataDir, 'ttl.ndjson');
    writeFileSync(file, '{"key":"imp/short","value":"a","ttl":1}\n{"key":"imp/long","value":"b","ttl":600}\n{"key":"imp/lasting","value":"c"}\n');
    const bad = join(d.dataDir, 'bad.ndjson');
    writeFileSync(bad, '{"key":"bad/1","value":"1","ttl":30}\n{"key":"bad/2","value":"2","ttl":-5}\n');
    const before = Date.now();
    const [put, short, imp, impBad] = await Promise.all([
      d.cli('put', 'k', 'v', '--ttl', '60', '--w', '1', '--json'),
      d.cli('put', 'short', 'v', '--ttl', '1'),
      d.cli('import', file),
      d.cli('import', bad),
    ]);
    expect([put.code, short.code, imp.code], put.stderr + short.stderr + imp.stderr).toEqual([0, 0, 0]);
    const { expireAt } = JSON.parse(put.stdout) as { expireAt: number };
    expect(JSON.parse(put.stdout)).toEqual({ dot: { r: expect.any(String), c: expect.any(Number) }, replicas: 1, expireAt });
    expect(expireAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(expireAt).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(imp.stdout).toBe('imported 3 keys\n');
    expect(impBad.code).toBe(1);
    expect(impBad.stderr).toMatch(/^replikv: line 2: "ttl" must be a whole number of seconds from 1 to \d+, got -5; 1 keys imported before it \(they stay written\)\n$/);

    const [ttl, json, get, lasting, absent] = await Promise.all([
      d.cli('ttl', 'k'),
      d.cli('ttl', 'k', '--json'),
      d.cli('get', 'k', '--json'),
      d.cli('ttl', 'imp/lasting'),
      d.cli('ttl', 'nope'),
    ]);
    secondsLeft(ttl, 60);
    expect((await d.client.ttl('imp/long'))!.ttl).toBeGreaterThan(500);
    expect(JSON.parse(json.stdout)).toEqual({ key: 'k', ttl: expect.any(Number), ttlMs: expect.any(Number), expireAt });
    expect(JSON.parse(get.stdout)).toMatchObject({ value: 'v', siblings: [{ value: 'v', expireAt }] });
    expect(lasting).toEqual({ code: 0, stdout: '-1\n', stderr: '' });
    expect(absent).toEqual(notFound('nope'));

    const expire = await d.cli('expire', 'k', '120');
    expect(expire.code, expire.stderr).toBe(0);
    expect(expire.stdout).toMatch(/^k expires in 120 s \(at \d{4}-\d\d-\d\dT[\d:.]+Z\)\n$/);
    expect((await d.client.ttl('k'))!.ttl).toBeGreaterThan(60);
    expect(await d.cli('persist', 'k')).toEqual({ code: 0, stdout: 'k no longer expires\n', stderr: '' });
    const written = (await d.status()).clock;
    expect(await d.client.ttl('k')).toEqual({ key: 'k', ttl: -1, ttlMs: -1, expireAt: null });
    const [again, expireAbsent, persistAbsent] = await Promise.all([d.cli('persist', 'k'), d.cli('expire', 'nope', '5'), d.cli('persist', 'nope', '--json')]);
    expect(again).toEqual({ code: 0, stdout: 'k had no expiry (nothing changed)\n', stderr: '' });
    expect(expireAbsent).toEqual(notFound('nope'));
    expect([persistAbsent.code, JSON.parse(persistAbsent.stderr)]).toEqual([1, { error: 'not found: nope', code: 'NOT_FOUND' }]);
    expect((await d.status()).clock).toEqual(written); // none of those wrote anything

    await untilAbsent(d, 'short');
    await untilAbsent(d, 'imp/short');
    const [getShort, ttlShort, scan] = await Promise.all([d.cli('get', 'short'), d.cli('ttl', 'short'), d.cli('scan')]);
    expect([getShort, ttlShort]).toEqual([notFound('short'), notFound('short')]);
    // an expired value is not brought back by a new expiry, nor made to last
    expect([await d.client.expire('short', 60), await d.client.persist('imp/short')]).toEqual([undefined, undefined]);
    expect(scan.stdout).toBe('bad/1\t1\nimp/lasting\tc\nimp/long\tb\nk\tv\n');
  });

  it('refuses a bad time to live as a usage error (exit 64) before reaching a daemon; help describes each command', async () => {
    const dir = fleet.tmpdir(); // no daemon here: a refusal that got as far as the socket would exit 2
    const bad = [
      ['put', 'k', 'v', '--ttl', '-1'],
      ['put', 'k', 'v', '--ttl', String(10 ** 11)],
      ['expire', 'k', '0'],
      ['expire', 'k', 'abc'],
    ];
    const [text, ...runs] = await Promise.all([
      cli('put', 'k', 'v', '--ttl', '0', '--data-dir', dir),
      ...bad.map((args) => cli(...args, '--json', '--data-dir', dir)),
    ]);
    expect(text.code).toBe(64);
    expect(text.stderr).toMatch(/^error: option '--ttl <seconds>' argument '0' is invalid\. expected a whole number of seconds from 1 to \d+\n/);
    for (const [i, r] of runs.entries()) {
      expect(r.code, bad[i]!.join(' ')).toBe(64);
      const { error, code } = JSON.parse(r.stderr) as { error: string; code: string };
      expect(code).toBe('USAGE');
      expect(error).toMatch(/is invalid(?: for argument 'seconds')?\. expected a whole number of seconds from 1 to \d+$/);
    }

    const help = await Promise.all(['put', 'expire', 'persist', 'ttl', 'import'].map((c) => cli(c, '--help')));
    for (const h of help) expect(h.code).toBe(0);
    const [putHelp, expireHelp, persistHelp, ttlHelp, importHelp] = help.map((h) => h.stdout);
    expect(putHelp).toMatch(/--ttl <seconds>/);
    expect(expireHelp).toMatch(/Usage: replikv expire \[options\] <key> <seconds>/);
    expect(persistHelp).toMatch(/had no expiry/);
    expect(ttlHelp).toMatch(/-1 if it does\s+not\s+expire/);
    expect(importHelp).toMatch(/"ttl": SECONDS/);
  });

  it('a value put with --ttl 2 on one node is read on the other, then is absent on both and stays absent', async () => {
    const [a, b] = await fleet.cluster(2);
    await untilConnected([a!, b!]);
    const put = await a!.cli('put', 'session', 'token', '--ttl', '2', '--w', '2', '--json');
    expect(put.code, put.stderr).toBe(0);
    const { expireAt, replicas } = JSON.parse(put.stdout) as { expireAt: number; replicas: number };
    expect(replicas).toBe(2); // B holds it now
    // read on B straight away through its socket (starting a CLI could take much of the 2 s on a busy machine)
    expect(await b!.client.getJson('session')).toMatchObject({ value: 'token', siblings: [{ value: 'token', expireAt }] });
    expect(Date.now()).toBeLessThan(expireAt);

    // Gone the moment it expires, on every node: the first read after expireAt (same machine, same
    // clock) finds nothing; no sync or collection is needed for that.
    await eventually(async () => Date.now(), (now) => now > expireAt, 'the expiry to pass', 15_000);
    expect(await Promise.all([a!.client.get('session'), b!.client.get('session')])).toEqual([undefined, undefined]);
    await Promise.all([untilAbsent(a!, 'session'), untilAbsent(b!, 'session')]);
    // another sync exchange on both sides, then check again: nothing brings the value back
    const received = await Promise.all([a!, b!].map(async (n) => (await n.status()).transfer.bytesReceived));
    await eventually(
      () => Promise.all([a!, b!].map(async (n) => (await n.status()).transfer.bytesReceived)),
      (now) => now.every((bytes, i) => bytes > received[i]!),
      'a sync exchange on both nodes after the expiry',
    );
    expect(await Promise.all([a!.cli('get', 'session'), b!.cli('ttl', 'session')])).toEqual([notFound('session'), notFound('session')]);
    expect(await Promise.all([a!.client.ttl('session'), b!.client.get('session')])).toEqual([undefined, undefined]);
  });
});
