// The control server on a real Unix socket, backed by a real Keyspace, driven through ControlClient:
// every route, bad input (400, 413, 404) with the server still answering, and socket handling.
import { spawn } from 'node:child_process';
import { WriteConcern } from '../../src/sync/write-concern.js';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeApi, PeerInfo, Status } from '../../src/control/api.js';
import { ControlClient, DaemonUnavailableError, RequestError } from '../../src/control/client.js';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import { StoreError } from '../../src/errors.js';
import { Keyspace, type WriteOp } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import { until } from '../helpers/process.js';
import { IDLE_GC } from '../helpers/status.js';

const MAX_VALUE = 4096;
const PEERS: PeerInfo[] = [
  { peerId: '12D3KooWPeerA', state: 'alive', behind: 0, addrs: ['/ip4/10.0.0.2/tcp/7400/p2p/12D3KooWPeerA'], lastSeen: 1_700_000_000_000, replicaId: 'ab'.repeat(16) },
  { peerId: '12D3KooWPeerB', state: 'suspect', behind: 7, addrs: [], lastSeen: null, replicaId: null },
];

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'replikv-ctl-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A NodeApi over a real keyspace; records write batches so the import's batching can be checked. */
function adapter(ks: Keyspace) {
  const batches: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const api: NodeApi = {
    write: async (ops: WriteOp[]) => {
      batches.push(ops.length);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        return await ks.write(ops);
      } finally {
        inFlight--;
      }
    },
    read: (key) => ks.read(key),
    expire: (key, at) => ks.expire(key, at),
    expiryOf: (key) => ks.expiryOf(key),
    scan: (opts) => ks.scan(opts),
    verify: () => Promise.reject(new Error('not used here')),
    repair: () => Promise.reject(new Error('not used here')),
    changes: (since) => ks.changes(since),
    forget: () => Promise.reject(new Error('not used here')),
    status: (): Status => {
      const s = ks.summary();
      return {
        peerId: '12D3KooWSelf',
        replicaId: s.replicaId,
        addrs: ['/ip4/127.0.0.1/tcp/7400/p2p/12D3KooWSelf'],
        mode: 'hybrid',
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
    },
    peers: () => PEERS,
    awaitReplicas: (dots, c) => new WriteConcern(() => []).wait(dots, c.w === 'all' ? 1 : c.w, c.timeoutMs),
  };
  return { api, batches, maxInFlight: () => maxInFlight };
}

async function setup() {
  const dir = tmp();
  const ks = await Keyspace.open(new MemoryBackend(), { maxValueBytes: MAX_VALUE });
  cleanup.push(() => ks.close());
  const a = adapter(ks);
  const socket = join(dir, 'control.sock');
  const server = await startControlServer(socket, a.api, () => {}, { maxValueBytes: MAX_VALUE });
  cleanup.push(() => server.close());
  return { ...a, ks, dir, socket, server, client: new ControlClient(socket) };
}

/** A raw request, for what ControlClient would never send. */
function raw(socketPath: string, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function refused(p: Promise<unknown>): Promise<RequestError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(RequestError);
  return err as RequestError;
}

const ndjson = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ key: `imp/${String(from + i).padStart(6, '0')}`, value: `v${from + i}` })).join('\n') + '\n';

describe('control server', () => {
  it('puts, gets and deletes keys of any shape, raw and as JSON', async () => {
    const { client } = await setup();
    const keys = ['plain', 'a/b/../c', '..', '.', 'sp ace?x=1#frag', '100%', 'ключ', '🔑'];
    for (const [i, key] of keys.entries()) {
      const { dot } = await client.put(key, Buffer.from(`value ${i}`));
      expect(dot.c).toBe(i + 1);
      expect(dot.r).toMatch(/^[0-9a-f]{32}$/);
    }
    for (const [i, key] of keys.entries()) expect(Buffer.from((await client.get(key))!).toString()).toBe(`value ${i}`);

    const binary = Buffer.from([0xff, 0x00, 0xc3, 0x28, 0x80]);
    await client.put('bin', binary);
    expect(Buffer.compare(Buffer.from((await client.get('bin'))!), binary)).toBe(0);
    const rec = (await client.getJson('bin'))!;
    expect(rec.value).toBeUndefined();
    expect(rec.valueBase64).toBe(binary.toString('base64'));
    expect(rec.siblings).toHaveLength(1);
    expect(rec.siblings[0]).toMatchObject({ valueBase64: binary.toString('base64'), counter: keys.length + 1, deleted: false });

    expect((await client.getJson('ключ'))!).toMatchObject({ key: 'ключ', value: 'value 6', siblings: [{ value: 'value 6', deleted: false }] });
    expect(await client.get('never-written')).toBeUndefined();
    expect(await client.getJson('never-written')).toBeUndefined();

    await client.del('plain');
    expect(await client.get('plain')).toBeUndefined();
    const gone = (await client.getJson('plain'))!;
    expect(gone.value).toBeNull();
    expect(gone.siblings).toEqual([expect.objectContaining({ value: null, deleted: true })]);
    expect(gone.context).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('honours the context token: siblings from a stale context, one value after a fresh one', async () => {
    const { client } = await setup();
    await client.put('k', Buffer.from('v1'));
    const stale = (await client.getJson('k'))!.context;
    await client.put('k', Buffer.from('v2'));
    await client.put('k', Buffer.from('v3'), { context: stale }); // has not seen v2: concurrent with it
    const both = (await client.getJson('k'))!;
    expect(both.siblings.map((s) => s.value).sort()).toEqual(['v2', 'v3']);
    await client.put('k', Buffer.from('v4'), { context: both.context });
    expect((await client.getJson('k'))!.siblings.map((s) => s.value)).toEqual(['v4']);
    const del = await client.del('k', { context: (await client.getJson('k'))!.context });
    expect(del.dot.c).toBe(5);
    expect(await client.get('k')).toBeUndefined();
  });

  it('scans by prefix in pages, with binary values as base64', async () => {
    const { client } = await setup();
    for (let i = 0; i < 25; i++) await client.put(`p/${String(i).padStart(2, '0')}`, Buffer.from(`v${i}`));
    await client.put('q/other', Buffer.from('x'));
    await client.put('p/bin', Buffer.from([0xfe]));
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await client.scan({ prefix: 'p/', after, limit: 10 });
      expect(page.items.length).toBeLessThanOrEqual(10);
      seen.push(...page.items.map((i) => i.key));
      if (page.cursor === null) break;
      after = page.cursor;
    }
    expect(seen).toHaveLength(26);
    expect(seen).not.toContain('q/other');
    const bin = (await client.scan({ prefix: 'p/bin' })).items;
    expect(bin).toEqual([{ key: 'p/bin', valueBase64: '/g==' }]);
    expect((await client.scan({ prefix: 'p/00', limit: 1 })).items).toEqual([{ key: 'p/00', value: 'v0' }]);
  });

  it('imports a streamed NDJSON body in batches of at most 1000, at most 2 in flight, before the body ends', async () => {
    const { client, ks, batches, maxInFlight } = await setup();
    const body = new Readable({ read() {} });
    const reply = client.import(body);
    body.push(ndjson(2500));
    // The first batches are written while the client has not even finished sending.
    await until(() => batches.length >= 2, 'batches written before the body ended');
    body.push(JSON.stringify({ key: 'imp/bin', valueBase64: Buffer.from([0, 255]).toString('base64') }) + '\n\n');
    body.push(ndjson(499, 2500).trimEnd()); // the last line has no newline
    body.push(null);
    expect(await reply).toEqual({ imported: 3000 });
    expect(ks.count()).toBe(3000);
    expect(batches.every((n) => n <= 1000)).toBe(true);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(3000);
    expect(maxInFlight()).toBeLessThanOrEqual(2);
    expect(Buffer.from(ks.get('imp/bin')!)).toEqual(Buffer.from([0, 255]));
    expect(Buffer.from(ks.get('imp/002998')!).toString()).toBe('v2998');
  });

  it('imports deletes: a line with "value": null deletes its key', async () => {
    const { client, ks } = await setup();
    const dels = Array.from({ length: 1500 }, (_, i) => JSON.stringify({ key: `imp/${String(i).padStart(6, '0')}`, value: null })).join('\n');
    expect(await client.import(Readable.from([ndjson(2000), dels + '\n']))).toEqual({ imported: 3500 });
    expect(ks.count()).toBe(500);
    expect(ks.get('imp/001499')).toBeUndefined();
    expect(Buffer.from(ks.get('imp/001500')!).toString()).toBe('v1500');
    const err = await refused(client.import(Readable.from(['{"key": "imp/001600", "value": null, "valueBase64": "AA=="}\n'])));
    expect(err.message).toMatch(/line 1: give either "value" or "valueBase64"/);
  });

  it('stops an import at a bad line, keeps every line before it, names the line and the count', async () => {
    const { client, ks } = await setup();
    const err = await refused(client.import(Readable.from([ndjson(1500), '{"key": "broken", "value": 42}\n', ndjson(10, 5000)])));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/line 1501: .*"value"/);
    expect(err.message).toMatch(/1500 keys imported before it/);
    expect(ks.count()).toBe(1500);
    for (const [bad, why] of [
      ['not json', /line 1: not valid JSON/],
      ['{"key": "k", "value": "v", "extra": 1}', /unknown field "extra"/],
      ['{"key": "", "value": "v"}', /empty string is not a key/],
      ['{"key": "k", "valueBase64": "%%%"}', /not valid base64/],
      [`{"key": "k", "value": "${'x'.repeat(MAX_VALUE + 1)}"}`, /limit is 4096/],
    ] as const) {
      expect((await refused(client.import(Readable.from([bad + '\n'])))).message).toMatch(why);
    }
    const endless = await refused(client.import(Readable.from([Buffer.alloc(100_000, 0x78)])));
    expect(endless.message).toMatch(/line 1: longer than \d+ bytes; 0 keys imported/);
    expect((await client.status()).keys).toBe(1500);
  });

  it('takes a time to live on a put, answers the ttl of a key, sets and removes expiries; NOT_FOUND for an absent key', async () => {
    const { client, ks } = await setup();
    const before = Date.now();
    const put = await client.put('k', Buffer.from('v'), { ttl: 30 });
    // the expiry is the daemon's clock plus the seconds: between the clock before and after the call
    expect(put.expireAt).toBeGreaterThanOrEqual(before + 30_000);
    expect(put.expireAt).toBeLessThanOrEqual(Date.now() + 30_000);
    expect(ks.expiryOf('k')).toBe(put.expireAt);
    const ttl = (await client.ttl('k'))!;
    expect(ttl).toEqual({ key: 'k', ttl: expect.any(Number), ttlMs: expect.any(Number), expireAt: put.expireAt });
    expect(ttl.ttlMs).toBeGreaterThan(0);
    expect(ttl.ttlMs).toBeLessThanOrEqual(30_000);
    expect(ttl.ttl).toBe(Math.ceil(ttl.ttlMs / 1000));
    expect((await client.getJson('k'))!.siblings).toEqual([expect.objectContaining({ value: 'v', expireAt: put.expireAt })]);

    const expire = (await client.expire('k', 100, { w: 1 }))!;
    expect(expire).toEqual({ dot: { r: ks.replicaId, c: 2 }, replicas: 1, expireAt: expect.any(Number) });
    expect(ks.expiryOf('k')).toBe(expire.expireAt);
    expect(Buffer.from(ks.get('k')!).toString()).toBe('v'); // the same value, written again
    expect(await client.persist('k')).toEqual({ persisted: true, dot: { r: ks.replicaId, c: 3 } });
    expect(await client.ttl('k')).toEqual({ key: 'k', ttl: -1, ttlMs: -1, expireAt: null });
    expect((await client.getJson('k'))!.siblings[0]).not.toHaveProperty('expireAt');
    expect(await client.persist('k')).toEqual({ persisted: false }); // nothing to remove: nothing written
    expect(ks.summary().clock.max(ks.replicaId)).toBe(3);

    await client.del('k');
    for (const key of ['k', 'never-written']) {
      expect(await client.ttl(key)).toBeUndefined();
      expect(await client.expire(key, 10)).toBeUndefined();
      expect(await client.persist(key)).toBeUndefined();
    }
    expect(ks.read('never-written')).toBeUndefined();
  });

  it('refuses a bad time to live with 400 before writing anything', async () => {
    const { client, ks, socket } = await setup();
    await client.put('k', Buffer.from('v'));
    for (const ttl of ['0', '-1', '1.5', '1e3', ' 5', 'abc', '', String(1e13)]) {
      for (const path of [`/v1/keys/fresh?ttl=${encodeURIComponent(ttl)}`, `/v1/expiry/k?ttl=${encodeURIComponent(ttl)}`]) {
        const r = await raw(socket, 'PUT', path);
        const body = JSON.parse(r.body) as { error: string; code: string };
        expect([r.status, body.code], path).toEqual([400, 'BAD_REQUEST']);
        expect(body.error).toMatch(/^ttl must be a whole number of seconds from 1 to \d+, got /);
        expect(body.error.endsWith(`got ${JSON.stringify(ttl)}`), body.error).toBe(true);
      }
    }
    expect(JSON.parse((await raw(socket, 'PUT', '/v1/expiry/k')).body)).toEqual({ error: 'give the time to live as ?ttl=SECONDS', code: 'BAD_REQUEST' });
    expect(await raw(socket, 'GET', '/v1/expiry/absent')).toEqual({ status: 404, body: JSON.stringify({ error: 'not found', code: 'NOT_FOUND' }) });
    expect(await raw(socket, 'POST', '/v1/expiry/k')).toMatchObject({ status: 404, body: expect.stringMatching(/no route/) });
    expect(ks.read('fresh')).toBeUndefined();
    expect(ks.expiryOf('k')).toBeNull();
  });

  it('imports lines with a "ttl", and stops at a bad one naming its number', async () => {
    const { client, ks } = await setup();
    const before = Date.now();
    const lines = ['{"key":"a","value":"1","ttl":60}', '{"key":"b","valueBase64":"/w==","ttl":1}', '{"key":"c","value":"3"}'];
    expect(await client.import(Readable.from([lines.join('\n') + '\n']))).toEqual({ imported: 3 });
    expect(ks.expiryOf('a')).toBeGreaterThanOrEqual(before + 60_000);
    expect(ks.expiryOf('a')).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(ks.expiryOf('c')).toBeNull();
    for (const [ttl, shown] of [['0', '0'], ['-5', '-5'], ['2.5', '2.5'], ['"60"', '"60"'], ['null', 'null'], ['1e12', '1000000000000']] as const) {
      const err = await refused(client.import(Readable.from([`{"key":"ok","value":"1"}\n{"key":"d","value":"4","ttl":${ttl}}\n`])));
      expect([err.status, err.code]).toEqual([400, 'BAD_IMPORT_LINE']);
      expect(err.message).toMatch(new RegExp(`^line 2: "ttl" must be a whole number of seconds from 1 to \\d+, got ${shown.replace('.', '\\.')}; 1 keys imported before it`));
    }
    expect(ks.read('d')).toBeUndefined();
  });

  it('reports a batch that fails to commit as 500 with the count that did commit', async () => {
    const { api, ks, socket } = await setup();
    let calls = 0;
    const failing: NodeApi = { ...api, write: (ops) => (++calls === 2 ? Promise.reject(new StoreError('disk full')) : api.write(ops)) };
    const other = join(socket, '..', 'failing.sock');
    const server = await startControlServer(other, failing, () => {}, { maxValueBytes: MAX_VALUE });
    cleanup.push(() => server.close());
    const err = await refused(new ControlClient(other).import(Readable.from([ndjson(1000), ndjson(1000, 1000), ndjson(1000, 2000)])));
    expect([err.status, err.code]).toEqual([500, 'IMPORT_WRITE_FAILED']);
    expect(err.message).toMatch(/import stopped after \d+ keys: disk full/);
    const committed = Number(/after (\d+) keys/.exec(err.message)![1]);
    expect(ks.count()).toBe(committed);
    expect(committed % 1000).toBe(0);
    expect(committed).toBeLessThan(3000);
  });

  it('answers bad requests with 400, 404 or 413 and keeps serving', async () => {
    const { client, socket } = await setup();
    const tooLong = await refused(client.put('k'.repeat(1025), Buffer.from('v')));
    expect([tooLong.status, tooLong.code]).toEqual([400, 'INVALID_KEY']);
    const badToken = await refused(client.put('k', Buffer.from('v'), { context: 'not-a-token' }));
    expect([badToken.status, badToken.code]).toEqual([400, 'INVALID_TOKEN']);
    const bigValue = await refused(client.put('k', Buffer.alloc(MAX_VALUE + 1)));
    expect([bigValue.status, bigValue.code]).toEqual([400, 'INVALID_VALUE']);
    const huge = await refused(client.put('k', Readable.from([Buffer.alloc(200_000)])));
    expect(huge.status).toBe(413);
    expect((await refused(client.scan({ limit: 0 }))).status).toBe(400);
    expect((await raw(socket, 'GET', '/v1/scan?limit=abc')).status).toBe(400);
    expect(await raw(socket, 'GET', '/v1/keys/%E0%A4%A')).toMatchObject({ status: 400, body: expect.stringMatching(/percent-encoding/) });
    expect((await raw(socket, 'GET', '/v1/keys/k?format=yaml')).status).toBe(400);
    expect((await raw(socket, 'GET', '/v1/keys/')).status).toBe(400);
    expect(await raw(socket, 'GET', '/v2/nothing')).toMatchObject({ status: 404, body: expect.stringMatching(/no route/) });
    expect((await raw(socket, 'POST', '/v1/keys/k')).status).toBe(404);
    // A client that hangs up mid-body does not take the server down either.
    await new Promise<void>((resolve) => {
      const req = request({ socketPath: socket, method: 'PUT', path: '/v1/keys/half', agent: false, headers: { 'content-length': '1000' } });
      req.on('error', () => resolve());
      req.write('only a part', () => req.destroy());
      req.on('close', () => resolve());
    });
    expect((await client.status()).peerId).toBe('12D3KooWSelf');
    await client.put('after', Buffer.from('ok'));
    expect(Buffer.from((await client.get('after'))!).toString()).toBe('ok');
  });

  it('serves status and peers', async () => {
    const { client, ks } = await setup();
    await client.put('a', Buffer.from('1'));
    const status = await client.status();
    expect(status).toMatchObject({ replicaId: ks.replicaId, keys: 1, mode: 'hybrid', state: 'ready', digest: ks.summary().digest });
    expect(status.peers).toEqual([
      { peerId: '12D3KooWPeerA', state: 'alive', behind: 0 },
      { peerId: '12D3KooWPeerB', state: 'suspect', behind: 7 },
    ]);
    expect(await client.peers()).toEqual(PEERS);
  });

  it('makes the socket 0600, replaces a stale one, refuses a live one and a non-socket file', async () => {
    const { socket, api, dir } = await setup();
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    await expect(startControlServer(socket, api)).rejects.toThrow(/another replikv daemon is already listening/);
    expect((await new ControlClient(socket).status()).peerId).toBe('12D3KooWSelf');

    // A daemon killed outright leaves its socket file behind.
    const stale = join(dir, 'stale.sock');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    await new Promise((r) => child.on('exit', r));
    expect(statSync(stale).isSocket()).toBe(true);
    await expect(new ControlClient(stale).status()).rejects.toBeInstanceOf(DaemonUnavailableError);
    const revived: ControlServer = await startControlServer(stale, api);
    cleanup.push(() => revived.close());
    expect((await new ControlClient(stale).peers()).length).toBe(2);

    const plain = join(dir, 'plain-file');
    writeFileSync(plain, 'precious');
    await expect(startControlServer(plain, api)).rejects.toThrow(/is not a socket/);
    expect(existsSync(plain)).toBe(true);
  });

  it('reports a missing daemon as DaemonUnavailableError naming the socket', async () => {
    const socket = join(tmp(), 'control.sock');
    const err = await new ControlClient(socket).status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonUnavailableError);
    expect((err as Error).message).toContain(socket);
    expect((err as DaemonUnavailableError).code).toBe('DAEMON_UNAVAILABLE');
  });
});
