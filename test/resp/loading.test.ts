// A node that is still bootstrapping holds part of the keyspace: over the Redis protocol its key
// commands answer LOADING (as Redis does while it loads its dataset), not nil for keys that exist.
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet } from '../helpers/daemons.js';
import { redisCli, respPort } from '../helpers/redis.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(30));
  await fleet.cleanup();
});

describe('the Redis protocol on a node that bootstraps', () => {
  it('answers LOADING to GET and SET, and PING as usual, while the node bootstraps', async () => {
    // a holds data, then stops: a node bootstrapping from its address finds no peer and stays bootstrapping.
    const a = await fleet.start();
    expect((await a.cli('put', 'k', 'v')).code).toBe(0);
    const dead = a.addr;
    await a.stop();
    const c = await fleet.start({ bootstrap: [dead], extra: ['--resp', '127.0.0.1:0'] });
    const port = await respPort(c);
    expect((await c.cli('status')).stdout).toMatch(new RegExp(`^resp +127\\.0\\.0\\.1:${port} \\(Redis protocol\\)$`, 'm'));
    expect((await c.status()).state).toBe('bootstrapping');
    for (const cmd of [['GET', 'k'], ['SET', 'k', 'other'], ['DBSIZE']]) {
      const r = await redisCli(port, cmd);
      expect(r.stdout, cmd.join(' ')).toMatch(/^(\(error\) )?LOADING replikv is bootstrapping/);
    }
    expect((await redisCli(port, ['PING'])).stdout.trim()).toBe('PONG');
    // INFO says loading:1, as Redis while it loads: ioredis's ready check waits on it
    expect((await redisCli(port, ['INFO', 'persistence'])).stdout).toMatch(/^# Persistence\r?\nloading:1\r?$/m);
    expect((await c.status()).state).toBe('bootstrapping'); // still: the answers above were given while it was
  });
});
