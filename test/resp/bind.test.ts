// The listener bound before the daemon is built: a client that connects before serve() waits and
// is answered once the node serves, counts against the connection limit meanwhile, and is closed
// (without a reply, and without harm) when the start is refused and the listener closed.
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { bindRespServer, type RespServer } from '../../src/resp/server.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import { keyspaceApi } from '../helpers/keyspace-api.js';
import { eventually } from '../helpers/process.js';
import { rawExchange } from '../helpers/redis.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const cmd = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

async function bound(): Promise<{ server: RespServer; port: number }> {
  // One client at most, so a second one's refusal proves the first was accepted (and waits).
  const server = await bindRespServer({ listen: '127.0.0.1:0', password: null, maxValueBytes: 1 << 20, maxClients: 1 }, pino({ level: 'silent' }));
  cleanup.push(() => server.close());
  return { server, port: Number(server.addr.split(':')[1]) };
}

/** A client that sends `input` at once and collects what it is sent until the server closes it. */
function early(port: number, input: string): { sock: Socket; text: () => string; closed: Promise<void> } {
  const sock = connect({ host: '127.0.0.1', port });
  let text = '';
  sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
  sock.on('error', () => undefined);
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  sock.write(input);
  cleanup.push(async () => void sock.destroy());
  return { sock, text: () => text, closed };
}

describe('the RESP listener before it serves', () => {
  it('holds an early client and answers its commands once the node serves', async () => {
    const { server, port } = await bound();
    const c = early(port, cmd('SET', 'k', 'v') + cmd('GET', 'k') + cmd('QUIT'));
    // the one place is taken by the waiting client
    expect(await rawExchange(port, cmd('PING'))).toEqual({ text: '-ERR max number of clients reached\r\n', closed: true });
    expect(c.text()).toBe('');
    const ks = await Keyspace.open(new MemoryBackend(), { maxValueBytes: 1 << 20 });
    cleanup.push(() => ks.close());
    server.serve(keyspaceApi(ks));
    await c.closed;
    expect(c.text()).toBe('+OK\r\n$1\r\nv\r\n+OK\r\n');
    // served from now on: a new client is answered (once the listener saw the first one close)
    await eventually(() => rawExchange(port, cmd('PING') + cmd('QUIT')), (r) => r.text === '+PONG\r\n+OK\r\n', 'PONG for a new client');
  });

  it('closes a waiting client without a reply when the listener closes (a refused start)', async () => {
    const { server, port } = await bound();
    const c = early(port, cmd('PING'));
    expect((await rawExchange(port, cmd('PING'))).text).toBe('-ERR max number of clients reached\r\n');
    await server.close();
    await c.closed;
    expect(c.text()).toBe('');
  });

  it('frees the place of a waiting client that went away, and serves the one that did not wait for the answer', async () => {
    const { server, port } = await bound();
    const gone = early(port, cmd('PING'));
    expect((await rawExchange(port, cmd('PING'))).text).toBe('-ERR max number of clients reached\r\n');
    gone.sock.resetAndDestroy();
    await gone.closed;
    // once the listener saw the reset, the next client is held again rather than refused; this one
    // gives up after 2 s (it closes its end and is served a reply it no longer reads)
    await eventually(() => rawExchange(port, cmd('PING'), 2000), (r) => r.text === '' && !r.closed, 'a client to be held again');
    const ks = await Keyspace.open(new MemoryBackend(), { maxValueBytes: 1 << 20 });
    cleanup.push(() => ks.close());
    server.serve(keyspaceApi(ks));
    await eventually(() => rawExchange(port, cmd('PING') + cmd('QUIT')), (r) => r.text === '+PONG\r\n+OK\r\n', 'PONG once served');
  });
});
