// The listener shell on a real socket over an in-memory keyspace: replies in order under deep
// pipelining, a client that does not read (reading pauses, then everything arrives), QUIT, and the
// connection limit.
import { connect } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startRespServer, type RespServer } from '../../src/resp/server.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import { keyspaceApi } from '../helpers/keyspace-api.js';
import { rawExchange } from '../helpers/redis.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function serve(maxClients?: number): Promise<{ port: number; server: RespServer }> {
  const ks = await Keyspace.open(new MemoryBackend(), { maxValueBytes: 1 << 20 });
  const api = keyspaceApi(ks);
  const server = await startRespServer(api, { listen: '127.0.0.1:0', password: null, maxValueBytes: 1 << 20, maxClients }, pino({ level: 'silent' }));
  cleanup.push(async () => {
    await server.close();
    await ks.close();
  });
  return { port: Number(server.addr.split(':')[1]), server };
}

const cmd = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

describe('the RESP listener', () => {
  it('answers a deep pipeline of writes and reads in order', async () => {
    const { port } = await serve();
    const n = 3000;
    const input = Array.from({ length: n }, (_, i) => cmd('SET', `k${i % 50}`, String(i)) + cmd('GET', `k${i % 50}`)).join('') + cmd('QUIT');
    const r = await rawExchange(port, input, 60_000);
    expect(r.closed).toBe(true);
    const expected = Array.from({ length: n }, (_, i) => `+OK\r\n$${String(i).length}\r\n${i}\r\n`).join('') + '+OK\r\n';
    expect(r.text).toBe(expected);
  });

  it('sends replies of every size and kind byte-exact, small ones joined into one write and big ones as they are', async () => {
    const { port } = await serve();
    const mid = 'm'.repeat(10_000); // two of them cross the 16 KiB up to which a flush is one buffer
    await rawExchange(port, cmd('SET', 'a', 'é') + cmd('SET', 'mid', mid) + cmd('QUIT'));
    const bulk = (v: string) => `$${Buffer.byteLength(v)}\r\n${Buffer.from(v).toString('latin1')}\r\n`; // rawExchange reads latin1
    const unknown = `-ERR unknown command 'NOPE', with args beginning with: '${Buffer.from('ü').toString('latin1')}' \r\n`; // the argument's bytes, as Redis
    const small = await rawExchange(port, cmd('GET', 'a') + cmd('NOPE', 'ü') + cmd('GET', 'none') + cmd('DBSIZE') + cmd('QUIT'));
    expect(small.text).toBe(bulk('é') + unknown + '$-1\r\n' + ':2\r\n' + '+OK\r\n');
    const big = await rawExchange(port, cmd('GET', 'a') + cmd('NOPE', 'ü') + cmd('GET', 'mid') + cmd('GET', 'mid') + cmd('GET', 'none') + cmd('QUIT'));
    expect(big.text).toBe(bulk('é') + unknown + bulk(mid) + bulk(mid) + '$-1\r\n' + '+OK\r\n');
  });

  it('stops reading from a client that does not read its replies, and catches up when it does', async () => {
    const { port } = await serve();
    const big = 'v'.repeat(256 * 1024);
    await rawExchange(port, cmd('SET', 'big', big) + cmd('QUIT'));
    const n = 200; // 50 MiB of replies
    const s = connect({ host: '127.0.0.1', port });
    s.pause();
    s.write(Array.from({ length: n }, () => cmd('GET', 'big')).join('') + cmd('QUIT'));
    // meanwhile another client is served
    expect((await rawExchange(port, cmd('PING') + cmd('QUIT'))).text).toBe('+PONG\r\n+OK\r\n');
    let got = 0;
    s.on('data', (d: Buffer) => (got += d.length));
    const closed = new Promise((r) => s.on('close', r));
    s.resume();
    await closed;
    expect(got).toBe(n * (big.length + `$${big.length}\r\n\r\n`.length) + '+OK\r\n'.length);
  });

  it('refuses connections beyond the limit with the Redis error', async () => {
    const { port } = await serve(2);
    const held = [connect({ host: '127.0.0.1', port }), connect({ host: '127.0.0.1', port })];
    cleanup.push(async () => held.forEach((h) => h.destroy()));
    await Promise.all(held.map((h) => new Promise((r) => h.once('connect', r))));
    const third = await rawExchange(port, cmd('PING'));
    expect(third).toEqual({ text: '-ERR max number of clients reached\r\n', closed: true });
    held[0]!.destroy();
    const answered = await (async () => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const r = await rawExchange(port, cmd('PING') + cmd('QUIT'));
        if (r.text.startsWith('+PONG') || Date.now() > deadline) return r.text;
      }
    })();
    expect(answered).toBe('+PONG\r\n+OK\r\n');
  });
});
