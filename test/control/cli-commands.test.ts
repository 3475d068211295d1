// The real CLI (dist/src/cli.js) as a child process against a control server in this process:
// put/get/del/scan/import/status/peers, their --json forms, exit codes, and keygen.
import { spawn } from 'node:child_process';
import { WriteConcern } from '../../src/sync/write-concern.js';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeApi, PeerInfo, SignedForget, Status, VerifyReport } from '../../src/control/api.js';
import { forgetSignatureValid } from '../../src/core/forget-record.js';
import { RepairError } from '../../src/sync/integrity.js';
import { startControlServer } from '../../src/control/server.js';
import { readSwarmKeyFile } from '../../src/net/swarm-key.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import { built, run } from '../helpers/process.js';
import { IDLE_GC } from '../helpers/status.js';

const CLI = built('src/cli.ts');
const PEERS: PeerInfo[] = [
  { peerId: '12D3KooWPeerA', state: 'alive', behind: 3, addrs: ['/ip4/10.0.0.2/tcp/7400/p2p/12D3KooWPeerA'], lastSeen: Date.now(), replicaId: 'cd'.repeat(16) },
];

const cleanup: (() => Promise<void> | void)[] = [];
/** The forgets the control server was asked for, with their signature if any. */
const forgets: { peer: string; signed?: SignedForget }[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'replikv-cmd-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A keyspace behind a control server at DIR/control.sock, as a daemon would have it. */
async function node() {
  const dir = tmp();
  const ks = await Keyspace.open(new MemoryBackend());
  cleanup.push(() => ks.close());
  const status = (): Status => {
    const s = ks.summary();
    return {
      peerId: '12D3KooWSelf',
      replicaId: s.replicaId,
      addrs: ['/ip4/127.0.0.1/tcp/7400/p2p/12D3KooWSelf'],
      mode: 'push',
      state: 'ready',
      keys: s.keys,
      digest: s.digest,
      clock: s.clock.toJSON(),
      peers: PEERS.map(({ peerId, state, behind }) => ({ peerId, state, behind })),
      transfer: { bytesReceived: 0, bytesSent: 0, keysReceived: 0 }, refused: { frames: 0, claimsCut: 0, forgets: 0, frontiers: 0 }, ...IDLE_GC,
      warnings: [],
      version: '0.0.0-test',
      uptimeSeconds: 42,
    };
  };
  const api: NodeApi = { write: (ops) => ks.write(ops), read: (k) => ks.read(k), expire: (k, at) => ks.expire(k, at), expiryOf: (k) => ks.expiryOf(k), scan: (o) => ks.scan(o), status, peers: () => PEERS, awaitReplicas: (dots, c) => new WriteConcern(() => []).wait(dots, c.w === 'all' ? 1 : c.w, c.timeoutMs), verify: async () => localVerify(ks), repair: () => Promise.reject(new RepairError('no connected peer to repair from')), changes: (since) => ks.changes(since), forget: async (peer, _force, signed) => {
    forgets.push({ peer, signed });
    return { peer, forgotten: true, known: true, spreads: signed !== undefined };
  } };
  const server = await startControlServer(join(dir, 'control.sock'), api);
  cleanup.push(() => server.close());
  return { dir, ks };
}

/** verify with no peers: the local recount alone (what a lone daemon answers). */
function localVerify(ks: Keyspace): VerifyReport {
  const r = ks.recompute();
  const ok = r.digest === r.stored.digest && r.unreadable === 0;
  return { ok, local: { ok, digest: r.stored.digest, recomputed: r.digest, keys: r.stored.keys, keysRecomputed: r.keys, unreadable: r.unreadable }, peers: [] };
}

/** Runs the CLI to completion; exit code and output. */
async function cli(...args: string[]) {
  const child = run([CLI, ...args]);
  const { code } = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

/** Runs the CLI with bytes on stdin and collects stdout as bytes (run() keeps text only). */
function cliBytes(args: string[], stdin?: Uint8Array): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  proc.stdout.on('data', (d: Buffer) => out.push(d));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdin.end(stdin);
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err })));
}

describe('replikv client commands', () => {
  it('puts and gets text and binary values (stdin with -), deletes, and exits 1 for a missing key', async () => {
    const { dir, ks } = await node();
    expect(await cli('put', 'greeting', 'hello world', '--data-dir', dir)).toEqual({ code: 0, stdout: '', stderr: '' });
    const got = await cli('get', 'greeting', '--data-dir', dir);
    expect([got.code, got.stdout]).toEqual([0, 'hello world']);

    const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0a, 0x0d, 0x80]);
    expect((await cliBytes(['put', 'bin', '-', '--data-dir', dir], binary)).code).toBe(0);
    expect(Buffer.from(ks.get('bin')!)).toEqual(binary);
    const back = await cliBytes(['get', 'bin', '--control', join(dir, 'control.sock')]);
    expect(back.code).toBe(0);
    expect(back.stdout).toEqual(binary);

    const missing = await cli('get', 'nope', '--data-dir', dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^replikv: not found/);
    expect(missing.stdout).toBe('');

    expect((await cli('del', 'greeting', '--data-dir', dir)).code).toBe(0);
    expect((await cli('get', 'greeting', '--data-dir', dir)).code).toBe(1);
  });

  it('prints JSON with --json: the dot, the record with siblings and context, and refuses a bad context', async () => {
    const { dir } = await node();
    const put = await cli('put', 'k', 'v1', '--json', '--data-dir', dir);
    expect(JSON.parse(put.stdout)).toEqual({ dot: { r: expect.stringMatching(/^[0-9a-f]{32}$/), c: 1 } });
    const rec = JSON.parse((await cli('get', 'k', '--json', '--data-dir', dir)).stdout) as { context: string };
    expect(rec).toMatchObject({ key: 'k', value: 'v1', siblings: [{ value: 'v1', counter: 1, deleted: false }] });
    expect((await cli('put', 'k', 'v2', '--context', rec.context, '--data-dir', dir)).code).toBe(0);
    const del = await cli('del', 'k', '--json', '--data-dir', dir);
    expect(JSON.parse(del.stdout)).toMatchObject({ dot: { c: 3 } });
    expect(JSON.parse((await cli('get', 'k', '--json', '--data-dir', dir)).stdout)).toMatchObject({ value: null, siblings: [{ deleted: true }] });
    const bad = await cli('put', 'k', 'v', '--context', 'garbage', '--data-dir', dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^replikv: invalid context token/);
  });

  it('imports a 5,000-line NDJSON file and scans it back, in text and as JSON', async () => {
    const { dir, ks } = await node();
    const file = join(dir, 'data.ndjson');
    const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ key: `item/${String(i).padStart(5, '0')}`, value: `value ${i}` }));
    writeFileSync(file, lines.join('\n') + '\n');
    const imp = await cli('import', file, '--data-dir', dir);
    expect([imp.code, imp.stdout]).toEqual([0, 'imported 5000 keys\n']);
    expect(ks.count()).toBe(5000);

    const scan = await cli('scan', '--prefix', 'item/', '--data-dir', dir);
    expect(scan.code).toBe(0);
    const out = scan.stdout.trimEnd().split('\n');
    expect(out).toHaveLength(5000);
    expect(out[0]).toBe('item/00000\tvalue 0');
    expect(out[4999]).toBe('item/04999\tvalue 4999');

    const page = JSON.parse((await cli('scan', '--limit', '3', '--after', 'item/00010', '--json', '--data-dir', dir)).stdout);
    expect(page).toEqual({
      items: [
        { key: 'item/00011', value: 'value 11' },
        { key: 'item/00012', value: 'value 12' },
        { key: 'item/00013', value: 'value 13' },
      ],
      cursor: 'item/00013',
    });
    const all = JSON.parse((await cli('scan', '--json', '--data-dir', dir)).stdout) as { items: unknown[]; cursor: null };
    expect([all.items.length, all.cursor]).toEqual([5000, null]);

    writeFileSync(file, '{"key": "ok", "value": "1"}\n{"key": 5}\n');
    const bad = await cli('import', file, '--json', '--data-dir', dir);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stderr)).toEqual({ error: expect.stringMatching(/^line 2: .*1 keys imported before it/), code: 'BAD_IMPORT_LINE' }); // --json: errors as JSON too
    expect((await cli('import', join(dir, 'absent.ndjson'), '--data-dir', dir)).stderr).toMatch(/cannot read .*absent\.ndjson: ENOENT/);
  });

  it('shows status and peers, as text and as exact JSON', async () => {
    const { dir, ks } = await node();
    const status = await cli('status', '--data-dir', dir);
    expect(status.code).toBe(0);
    for (const field of ['12D3KooWSelf', ks.replicaId, '/ip4/127.0.0.1/tcp/7400/p2p/12D3KooWSelf', 'push', 'ready', ks.summary().digest]) {
      expect(status.stdout).toContain(field);
    }
    expect(status.stdout).toMatch(/12D3KooWPeerA\s+alive\s+behind 3/);
    const json = JSON.parse((await cli('status', '--json', '--data-dir', dir)).stdout) as Status;
    expect(json).toMatchObject({ peerId: '12D3KooWSelf', replicaId: ks.replicaId, mode: 'push', keys: 0, peers: [{ peerId: '12D3KooWPeerA', state: 'alive', behind: 3 }] });

    const peers = await cli('peers', '--data-dir', dir);
    expect(peers.stdout).toMatch(/^PEER\s+STATE\s+BEHIND/);
    expect(peers.stdout).toMatch(/12D3KooWPeerA\s+alive\s+3\s+\d+s ago/);
    expect(JSON.parse((await cli('peers', '--json', '--data-dir', dir)).stdout)).toEqual(PEERS);
  });

  it('stops quietly when the reader closes the pipe early (scan | head)', async () => {
    const { dir, ks } = await node();
    await ks.write(Array.from({ length: 5000 }, (_, i) => ({ type: 'put' as const, key: `k/${i}`, value: Buffer.alloc(200, 120) })));
    const proc = spawn(process.execPath, [CLI, 'scan', '--data-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((ok) => proc.stdout.once('data', () => ok()));
    proc.stdout.destroy(); // like head after its lines
    const code = await new Promise<number | null>((ok) => proc.once('exit', (c) => ok(c)));
    expect(err).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });

  it('verify recounts the store and exits 0; repair with no peer exits 1 with the reason', async () => {
    const { dir, ks } = await node();
    await ks.put('a', Buffer.from('1'));
    const v = await cli('verify', '--data-dir', dir);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^local\s+ok: 1 keys, digest [0-9a-f]{32}/m);
    expect(v.stdout).toMatch(/none connected/);
    const j = await cli('verify', '--json', '--data-dir', dir);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: true, local: { keys: 1, unreadable: 0 }, peers: [] });
    const r = await cli('repair', '--data-dir', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no connected peer to repair from/);
  });

  it('exits 2 naming the socket when no daemon listens, and 64 on a usage error', async () => {
    const dir = tmp();
    const none = await cli('status', '--data-dir', dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(join(dir, 'control.sock'));
    expect(none.stderr).toMatch(/no replikv daemon is listening/);
    const custom = await cli('get', 'k', '--control', join(dir, 'elsewhere.sock'));
    expect(custom.code).toBe(2);
    expect(custom.stderr).toContain(join(dir, 'elsewhere.sock'));
    const directory = await cli('status', '--control', dir); // a data directory given as the socket
    expect(directory.code).toBe(2);
    expect(directory.stderr).toContain(`${dir} is a directory, not a control socket: give --data-dir ${dir}`);
    expect((await cli('scan', '--limit', 'lots', '--data-dir', dir)).code).toBe(64);
    expect((await cli('put', 'only-a-key', '--data-dir', dir)).code).toBe(64);
  });

  it('keygen --operator writes a 0600 operator key and prints its public half; forget --sign-key signs with it', async () => {
    const file = join(tmp(), 'operator.key');
    const made = await cli('keygen', '--operator', '--out', file, '--json');
    expect(made.code, made.stderr).toBe(0);
    const { publicKey } = JSON.parse(made.stdout) as { publicKey: string };
    expect(publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await cli('keygen', '--operator', '--out', file)).stderr).toMatch(/already exists; pass --force/);

    const { dir } = await node();
    const peer = '12D3KooWGoneGoneGoneGoneGoneGoneGoneGoneGoneGoneGone';
    const local = await cli('forget', peer, '--data-dir', dir);
    expect(local.stdout).toMatch(/on this node only \(unsigned/);
    const signed = await cli('forget', peer, '--sign-key', file, '--data-dir', dir);
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout).toMatch(/the other nodes are told/);
    const s = forgets.at(-1)!.signed!;
    expect(s.key).toBe(publicKey);
    expect(forgetSignatureValid({ peer, at: s.at, key: Buffer.from(s.key, 'hex'), sig: Buffer.from(s.sig, 'hex') })).toBe(true);
    expect(Math.abs(s.at - Date.now())).toBeLessThan(60_000);
    // a swarm key is no operator key
    const swarm = join(tmp(), 'swarm.key');
    await cli('keygen', '--out', swarm);
    const wrong = await cli('forget', peer, '--sign-key', swarm, '--data-dir', dir);
    expect(wrong.code).toBe(78);
    expect(wrong.stderr).toMatch(/is not an operator key/);
  });

  it('keygen writes a 0600 swarm key, refuses to overwrite it without --force', async () => {
    const file = join(tmp(), 'swarm.key');
    const first = await cli('keygen', '--out', file);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readSwarmKeyFile(file);
    expect(key.length).toBeGreaterThan(64);
    const again = await cli('keygen', '--out', file);
    expect(again.code).toBe(78);
    expect(again.stderr).toMatch(/already exists; pass --force/);
    expect(Buffer.from(readSwarmKeyFile(file))).toEqual(Buffer.from(key)); // untouched
    const forced = await cli('keygen', '--out', file, '--force', '--json');
    expect(JSON.parse(forced.stdout)).toEqual({ file });
    expect(Buffer.from(readSwarmKeyFile(file))).not.toEqual(Buffer.from(key));
  });
});
