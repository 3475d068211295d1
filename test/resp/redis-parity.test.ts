// replikv's Redis protocol side by side with a real redis-server (Debian's, scripts/test-tools.sh):
// the same raw requests, RESP2 and RESP3, multibulk and inline, go to both on fresh connections,
// and the replies must be the same bytes. Client libraries match on error codes and texts
// ("-ERR syntax error", "wrong number of arguments for 'get' command"), so errors are compared
// whole too. Where replikv differs on purpose (README "Where it differs from Redis": DBSIZE,
// HELLO's server name, client ids, TTL timing, SELECT of other databases, times past 2286, SCAN
// cursors) a case compares the replies' shape instead, and says why.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisPair } from '../../bench/redis-sync.js';
import { Fleet } from '../helpers/daemons.js';
import { rawExchange, respPort } from '../helpers/redis.js';
import { multibulk, splitReplies, type Parsed } from '../helpers/resp-replies.js';
import { cases, PASSWORD, type Case, type Request } from './redis-parity-cases.js';

const fleet = new Fleet();
const redis = new RedisPair();
let ports: { redis: number; replikv: number };
/** The pair with a password. */
let secured: { redis: number; replikv: number };

beforeAll(async () => {
  const file = join(fleet.tmpdir(), 'resp.password');
  writeFileSync(file, `${PASSWORD}\n`);
  const [r, d, rs, ds] = await Promise.all([
    redis.standalone([]),
    fleet.start({ extra: ['--resp', '127.0.0.1:0'] }),
    redis.standalone(['--requirepass', PASSWORD]),
    fleet.start({ extra: ['--resp', '127.0.0.1:0', '--resp-password-file', file] }),
  ]);
  ports = { redis: r.port, replikv: await respPort(d) };
  secured = { redis: rs.port, replikv: await respPort(ds) };
});

afterAll(async () => {
  await Promise.all([fleet.cleanup(), redis.cleanup()]);
});

/** Every reply of `requests` on a fresh connection, ended by QUIT (whose +OK is left out). */
async function replies(port: number, c: Case): Promise<{ raw: string; parsed: Parsed }[]> {
  const reqs: Request[] = [...(c.resp3 === true ? [['HELLO', '3']] : []), ...c.requests, ['QUIT']];
  const r = await rawExchange(port, Buffer.concat(reqs.map((q) => (typeof q === 'string' ? Buffer.from(q) : multibulk(q)))));
  const all = splitReplies(r.text);
  expect(all.at(-1)?.raw, `${c.name}: QUIT's reply (the connection lived to the end)`).toBe('+OK\r\n');
  return all.slice(c.resp3 === true ? 1 : 0, -1);
}

/** How far a TTL (or PTTL) read on one server may be from the other's: they run a few ms apart. */
const TTL_SLACK: Record<string, number> = { TTL: 1, PTTL: 1500 };

/**
 * Replies side by side, as readable lines, so a failure shows which request differed and how.
 * Bytes must be equal, but for a positive TTL/PTTL within TTL_SLACK of Redis's and a case's shape.
 */
async function compare(c: Case): Promise<void> {
  const p = c.secured === true ? secured : ports;
  const [want, got] = await Promise.all([replies(p.redis, c), replies(p.replikv, c)]);
  const view = (rs: { raw: string; parsed: Parsed }[]) => rs.map((r, i) => (c.shape === undefined ? r.raw : c.shape(r.parsed, i)));
  const slack = got.length === c.requests.length ? c.requests.map((q) => (typeof q === 'string' ? undefined : TTL_SLACK[String(q[0]).toUpperCase()])) : [];
  const near = got.map((r, i) => {
    const w = want[i];
    const s = slack[i];
    if (s === undefined || w === undefined || r.parsed.type !== ':' || w.parsed.type !== ':') return r;
    const [a, b] = [r.parsed.value as number, w.parsed.value as number];
    return a > 0 && b > 0 && Math.abs(a - b) <= s ? w : r;
  });
  expect(view(near), `${c.name}\n  requests: ${JSON.stringify(c.requests)}`).toEqual(view(want));
}


describe('replikv and redis-server answer the same bytes', () => {
  for (const c of cases) it(c.name, () => compare(c));

  it('the comparison can fail: a different request on one side is caught', async () => {
    const a = await replies(ports.redis, { name: 'a', requests: [['SET', 'neg:1', 'v', 'NX', 'XX']] });
    const b = await replies(ports.replikv, { name: 'b', requests: [['SET', 'neg:1', 'v', 'EX', 'abc']] });
    expect(b.map((r) => r.raw)).not.toEqual(a.map((r) => r.raw));
  });

  it('an HTTP request (a web page posting to the port) closes the connection on both, running nothing', async () => {
    const post = 'POST / HTTP/1.1\r\nHost: 127.0.0.1:6379\r\nContent-Type: text/plain\r\n\r\nSET http:1 pwned\r\n';
    for (const req of [post, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nSET http:2 pwned\r\n']) {
      const [want, got] = await Promise.all([rawExchange(ports.redis, req), rawExchange(ports.replikv, req)]);
      expect(got, JSON.stringify(req)).toEqual(want);
    }
    expect(await both('MGET', 'http:1', 'http:2')).toEqual({ redis: '*2\r\n$-1\r\n$-1\r\n', replikv: '*2\r\n$-1\r\n$-1\r\n' });
  });

  it('a protocol error closes the connection on both, with the same text', async () => {
    for (const bad of ['*1\r\n#4\r\nPING\r\n', '*abc\r\n', '*01\r\n', '*+1\r\n', '*1\r\n$abc\r\n', '*1\r\n$04\r\n', '*1\r\n$-0\r\n', 'SET k "unbalanced\r\n', "GET 'a'b\r\n", '*1\r\n$-5\r\n']) {
      const [want, got] = await Promise.all([rawExchange(ports.redis, bad + multibulk(['PING'])), rawExchange(ports.replikv, bad + multibulk(['PING']))]);
      expect(got, JSON.stringify(bad)).toEqual(want);
    }
  });
});

/** What each server answers to one request on a fresh connection (raw reply). */
async function both(...args: string[]): Promise<{ redis: string; replikv: string }> {
  const c: Case = { name: args.join(' '), requests: [args] };
  const [r, k] = await Promise.all([replies(ports.redis, c), replies(ports.replikv, c)]);
  return { redis: r.map((x) => x.raw).join(''), replikv: k.map((x) => x.raw).join('') };
}

// README "Where it differs from Redis": each difference pinned, so a change on either side shows.
describe('where replikv differs on purpose, it answers an error with the code Redis uses', () => {
  it('SELECT of a database other than 0', async () => {
    expect(await both('SELECT', '1')).toEqual({ redis: '+OK\r\n', replikv: '-ERR DB index is out of range (replikv has one keyspace: 0)\r\n' });
  });

  it('an expiry time past the year 2286 (the store keeps times up to then)', async () => {
    expect(await both('SET', 'far:1', 'v', 'PX', '99999999999999')).toEqual({ redis: '+OK\r\n', replikv: "-ERR invalid expire time in 'set' command\r\n" });
    await both('SET', 'far:2', 'v');
    expect(await both('EXPIREAT', 'far:2', '99999999999')).toEqual({ redis: ':1\r\n', replikv: "-ERR invalid expire time in 'expireat' command\r\n" });
  });

  it('a SCAN cursor this connection was not given', async () => {
    const r = await both('SCAN', '12345');
    expect(r.redis).toMatch(/^\*2\r\n\$\d+\r\n\d+\r\n\*/); // Redis scans from any number
    expect(r.replikv).toMatch(/^-ERR invalid cursor: unknown on this connection/);
  });

  it('keys that are not replikv keys (empty, not UTF-8)', async () => {
    expect(await both('GET', '')).toEqual({ redis: '$-1\r\n', replikv: expect.stringMatching(/^-ERR invalid key: /) });
  });

  it('read-modify-writes, transactions, scripts and other data types', async () => {
    for (const [cmd, redis] of [
      [['INCR', 'rmw:1'], ':1\r\n'],
      [['MULTI'], '+OK\r\n'],
      [['EVAL', 'return 1', '0'], ':1\r\n'],
      [['HSET', 'h:1', 'f', 'v'], ':1\r\n'],
    ] as const) {
      const r = await both(...cmd);
      expect(r.redis).toBe(redis);
      expect(r.replikv).toMatch(new RegExp(`^-ERR ${cmd[0]} (is a|runs a|works on a)`));
    }
  });

  it('an unknown command before AUTH: replikv says NOAUTH (an unauthenticated client learns nothing)', async () => {
    const c: Case = { name: 'unknown before AUTH', requests: [['NOSUCH']] };
    const [r, k] = await Promise.all([replies(secured.redis, c), replies(secured.replikv, c)]);
    expect(r[0]!.raw).toBe("-ERR unknown command 'NOSUCH', with args beginning with: \r\n");
    expect(k[0]!.raw).toBe('-NOAUTH Authentication required.\r\n');
  });

  it('glob patterns match characters, not bytes (replikv keys are UTF-8 text)', async () => {
    await both('MSET', 'u:é', '1', 'u:日本', '2');
    expect(await both('KEYS', 'u:?')).toEqual({ redis: '*0\r\n', replikv: `*1\r\n$4\r\n${Buffer.from('u:é').toString('latin1')}\r\n` });
    const bulk = (k: string) => `*1\r\n$${Buffer.byteLength(k)}\r\n${Buffer.from(k).toString('latin1')}\r\n`;
    expect(await both('KEYS', 'u:??')).toEqual({ redis: bulk('u:é'), replikv: bulk('u:日本') }); // two bytes; two characters
    expect(await both('KEYS', 'u:??????')).toEqual({ redis: bulk('u:日本'), replikv: '*0\r\n' });
  });

  it('CONFIG SET', async () => {
    const r = await both('CONFIG', 'SET', 'maxmemory', '0');
    expect(r).toEqual({ redis: '+OK\r\n', replikv: '-ERR replikv is configured by its config file and daemon flags, not CONFIG\r\n' });
  });
});

describe('ioredis against both', () => {
  const clients: Redis[] = [];
  afterAll(() => clients.forEach((c) => c.disconnect()));
  const both = () =>
    [ports.redis, ports.replikv].map((port) => {
      const r = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0 });
      clients.push(r);
      return r;
    });

  it('a pipeline of mixed commands, errors included, answers the same', async () => {
    const results = await Promise.all(
      both().map((r) =>
        r
          .pipeline()
          .set('io:1', 'a')
          .set('io:1', 'b', 'GET')
          .get('io:1')
          .mset('io:2', 'x', 'io:3', 'y')
          .mget('io:1', 'io:2', 'io:none')
          .call('SET', 'io:4', 'v', 'NX', 'XX')
          .expire('io:1', 100)
          .ttl('io:1')
          .del('io:2', 'io:3', 'io:none')
          .exists('io:1', 'io:1')
          .call('nosuch')
          .exec(),
      ),
    );
    const view = (rs: [Error | null, unknown][] | null) => rs?.map(([e, v]) => (e === null ? v : `error: ${e.message}`));
    expect(view(results[1]!)).toEqual(view(results[0]!));
  });

  it('scanStream over many keys yields the same keys', async () => {
    const clients = both();
    const n = 500;
    const keys = Array.from({ length: n }, (_, i) => `ios:${i}`);
    await Promise.all(clients.map((r) => r.mset(...keys.flatMap((k, i) => [k, `v${i}`]))));
    const scanned = await Promise.all(
      clients.map(async (r) => {
        const seen = new Set<string>();
        for await (const page of r.scanStream({ match: 'ios:*', count: 50 })) for (const k of page as string[]) seen.add(k);
        return [...seen].sort();
      }),
    );
    expect(scanned[0]).toEqual([...keys].sort());
    expect(scanned[1]).toEqual(scanned[0]);
  });
});
