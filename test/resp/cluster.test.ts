// The Redis protocol across three real daemons, driven by real clients: redis-cli (Debian's
// redis-tools, RESP2 and RESP3, inline and --pipe input) and ioredis. Write on one node, read on
// another; expiry reaching every node; SCAN through ioredis's scanStream; WAIT; refusals.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, untilConnected, type TestDaemon } from '../helpers/daemons.js';
import { eventually } from '../helpers/process.js';
import { redisCli, respPort } from '../helpers/redis.js';

const fleet = new Fleet();
let nodes: TestDaemon[];
let ports: number[];
const clients: Redis[] = [];

const ioredis = (port: number) => {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 });
  clients.push(r);
  return r;
};

beforeAll(async () => {
  nodes = await fleet.cluster(3, { extra: ['--resp', '127.0.0.1:0', '--durability', 'relaxed'] });
  await untilConnected(nodes);
  ports = await Promise.all(nodes.map(respPort));
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await fleet.cleanup();
});

describe('three daemons behind the Redis protocol', () => {
  it('a SET through redis-cli on one node is read by redis-cli on another', async () => {
    expect((await redisCli(ports[0]!, ['SET', 'greeting', 'hello'])).stdout).toBe('OK\n');
    const got = await eventually(() => redisCli(ports[1]!, ['GET', 'greeting']), (r) => r.stdout === 'hello\n', 'greeting on node 1', 30_000);
    expect(got.code).toBe(0);
    // RESP3: redis-cli -3 says HELLO 3 first and reads maps and RESP3 nulls
    const hello = await redisCli(ports[2]!, ['-3', 'HELLO', '3']);
    expect(hello.stdout).toContain('\nproto 3\n'); // a map: redis-cli prints "key value" lines
    const r3 = await eventually(() => redisCli(ports[2]!, ['-3', 'GET', 'greeting']), (r) => r.stdout === 'hello\n', 'greeting on node 2', 30_000);
    expect(r3.code).toBe(0);
  });

  it('redis-cli takes several commands on stdin, and a --pipe of pipelined commands', async () => {
    const lines = await redisCli(ports[0]!, [], 'SET multi one\nAPPEND multi x\nGET multi\nEXISTS multi nope\n');
    expect(lines.stdout.split('\n').filter((l) => l !== '')).toEqual(['OK', expect.stringMatching(/^ERR APPEND is a read-modify-write, and replikv is multi-primary/), 'one', '1']);
    const n = 500;
    const resp = Array.from({ length: n }, (_, i) => `*3\r\n$3\r\nSET\r\n$${`pipe:${i}`.length}\r\npipe:${i}\r\n$${String(i).length}\r\n${i}\r\n`).join('');
    const piped = await redisCli(ports[0]!, ['--pipe'], resp);
    expect(piped.stdout).toMatch(new RegExp(`errors: 0, replies: ${n}`));
    const count = await eventually(() => redisCli(ports[1]!, ['KEYS', 'pipe:*']), (r) => r.stdout.trim().split('\n').length === n, 'the piped keys on node 1', 30_000);
    expect(count.stdout).toContain('pipe:499');
  });

  it('ioredis: MSET on one node, MGET, DEL and EXISTS on the others', async () => {
    const [a, b, c] = ports.map(ioredis) as [Redis, Redis, Redis];
    expect(await a.mset('m:1', 'one', 'm:2', Buffer.from([0, 1, 2, 255]))).toBe('OK');
    const values = await eventually(() => b.mgetBuffer('m:1', 'm:2', 'm:none'), (v) => v[1] !== null, 'm:* on node 1', 30_000);
    expect(values[0]!.toString()).toBe('one');
    expect([...values[1]!]).toEqual([0, 1, 2, 255]);
    expect(values[2]).toBeNull();
    expect(await eventually(() => c.exists('m:1', 'm:2'), (n) => n === 2, 'm:* on node 2', 30_000)).toBe(2);
    expect(await c.del('m:1', 'm:none')).toBe(1);
    expect(await eventually(() => a.exists('m:1', 'm:2'), (n) => n === 1, 'the delete on node 0', 30_000)).toBe(1);
    expect(await b.type('m:2')).toBe('string');
  });

  it('SET EX and EXPIRE: TTL and PTTL everywhere, then gone on every node', async () => {
    const [a, b] = ports.map(ioredis) as [Redis, Redis];
    expect(await a.set('short', 'lived', 'EX', 3)).toBe('OK');
    await b.set('later', 'v');
    expect(await b.expire('later', 3)).toBe(1);
    for (const r of ports.map(ioredis)) {
      const ttl = await eventually(() => r.ttl('short'), (t) => t > 0 || t === -2, 'a TTL for short', 30_000);
      if (ttl > 0) {
        expect(ttl).toBeLessThanOrEqual(3);
        expect(await r.pttl('short')).toBeLessThanOrEqual(3000);
      }
    }
    expect((await redisCli(ports[0]!, ['TTL', 'nope'])).stdout).toBe('-2\n');
    expect((await redisCli(ports[0]!, ['TTL', 'greeting'])).stdout).toBe('-1\n');
    for (const r of ports.map(ioredis)) {
      await eventually(() => r.exists('short', 'later'), (n) => n === 0, 'short and later gone', 30_000);
      expect(await r.get('short')).toBeNull();
      expect(await r.ttl('later')).toBe(-2);
    }
  });

  it('SCAN with MATCH through ioredis scanStream', async () => {
    const a = ioredis(ports[0]!);
    await a.mset(...Array.from({ length: 120 }, (_, i) => [`scan:${i}`, String(i)]).flat());
    await a.set('scanx', 'not matched');
    const c = ioredis(ports[2]!);
    await eventually(() => c.exists('scan:119'), (n) => n === 1, 'scan:* on node 2', 30_000);
    const found = new Set<string>();
    await new Promise<void>((resolve, reject) => {
      const stream = c.scanStream({ match: 'scan:*', count: 25 });
      stream.on('data', (keys: string[]) => keys.forEach((k) => found.add(k)));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    expect(found.size).toBe(120);
    expect(found.has('scanx')).toBe(false);
  });

  it('WAIT 2 after a write answers 2 once both other nodes hold it', async () => {
    const a = ioredis(ports[1]!);
    await a.set('waited', 'for');
    expect(await a.wait(2, 20_000)).toBe(2);
    const viaCli = await redisCli(ports[0]!, [], 'SET waited2 x\nWAIT 2 20000\n');
    expect(viaCli.stdout).toBe('OK\n2\n');
  });

  it('CLIENT LIST shows every connection with its id, address and name; CLIENT INFO this one', async () => {
    const one = ioredis(ports[0]!);
    const two = ioredis(ports[0]!);
    await one.client('SETNAME', 'first');
    await two.client('SETNAME', 'second');
    const list = String(await one.client('LIST'));
    for (const name of ['first', 'second']) expect(list).toMatch(new RegExp(`^id=\\d+ addr=127\\.0\\.0\\.1:\\d+ name=${name} db=0 resp=2$`, 'm'));
    const info = String(await two.client('INFO'));
    expect(info).toMatch(/^id=\d+ addr=127\.0\.0\.1:\d+ name=second db=0 resp=2\n$/);
    expect(list).toContain(info);
  });

  it('INCR and MULTI answer errors that say why', async () => {
    const a = ioredis(ports[0]!);
    await expect(a.incr('counter')).rejects.toThrow(/INCR is a read-modify-write, and replikv is multi-primary/);
    await expect(a.multi().set('x', '1').exec()).rejects.toThrow(/(MULTI|EXEC) is a transaction, and replikv is multi-primary/); // ioredis queues MULTI, EXEC reports
    await expect(a.call('MULTI')).rejects.toThrow(/MULTI is a transaction, and replikv is multi-primary/);
    expect(await a.ping()).toBe('PONG'); // the connection still serves
    const info = await a.info('replication');
    expect(info).toMatch(/connected_slaves:2/);
    expect(info).toMatch(/peer0:id=\w+,state=alive,behind=\d+/);
  });
});
