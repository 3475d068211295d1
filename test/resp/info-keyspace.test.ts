// INFO keyspace and DBSIZE through redis-cli against a real daemon: keys with a TTL are counted
// (expires=), as Redis counts them, and the count survives a restart (it is counted again at open).
import { afterAll, describe, expect, it } from 'vitest';
import { Fleet } from '../helpers/daemons.js';
import { redisCli, respPort } from '../helpers/redis.js';

const fleet = new Fleet();
afterAll(async () => {
  await fleet.cleanup();
});

const RESP = ['--resp', '127.0.0.1:0', '--durability', 'relaxed'];

/** The db0 line of INFO keyspace, as redis-cli prints it. */
async function db0(port: number): Promise<string> {
  const r = await redisCli(port, ['INFO', 'keyspace']);
  expect(r.code).toBe(0);
  return r.stdout.split(/\r?\n/).find((l) => l.startsWith('db0:')) ?? `(no db0 line in ${JSON.stringify(r.stdout)})`;
}

describe('INFO keyspace', () => {
  it('counts keys with a TTL in expires and in keys, as DBSIZE does; after a restart too', async () => {
    const d = await fleet.start({ extra: RESP });
    let port = await respPort(d);
    expect(await db0(port)).toBe('db0:keys=0,expires=0,avg_ttl=0');
    expect((await redisCli(port, ['SET', 'session', 'v', 'EX', '100'])).stdout).toBe('OK\n');
    expect((await redisCli(port, ['SET', 'plain', 'v'])).stdout).toBe('OK\n');
    expect(await db0(port)).toBe('db0:keys=2,expires=1,avg_ttl=0');
    expect((await redisCli(port, ['DBSIZE'])).stdout).toBe('2\n');
    expect((await d.status()).expiringKeys).toBe(1);

    // a TTL given to a lasting key, and taken from an expiring one: the count follows
    expect((await redisCli(port, ['EXPIRE', 'plain', '100'])).stdout).toBe('1\n');
    expect(await db0(port)).toBe('db0:keys=2,expires=2,avg_ttl=0');
    expect((await redisCli(port, ['PERSIST', 'session'])).stdout).toBe('1\n');
    expect((await redisCli(port, ['DEL', 'plain'])).stdout).toBe('1\n');
    expect(await db0(port)).toBe('db0:keys=1,expires=0,avg_ttl=0');
    expect((await redisCli(port, ['SET', 'again', 'v', 'PX', '100000'])).stdout).toBe('OK\n');

    await d.stop();
    const again = await fleet.start({ dataDir: d.dataDir, extra: RESP });
    port = await respPort(again);
    expect(await db0(port)).toBe('db0:keys=2,expires=1,avg_ttl=0');
    expect((await redisCli(port, ['DBSIZE'])).stdout).toBe('2\n');
  });
});
