// The dispatcher over a real Keyspace (in memory), without sockets: each command's reply as Redis
// gives it, the order of a pipelined connection, AUTH, and the refusals. Replies are checked
// through the encoder, so the bytes a client would read are what is asserted.
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerInfo } from '../../src/control/api.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import { Clock } from '../../src/core/clock.js';
import type { Ctx, RespEnv } from '../../src/resp/command.js';
import { dispatch } from '../../src/resp/dispatch.js';
import { encodeOne, type Reply } from '../../src/resp/reply.js';
import { Session } from '../../src/resp/session.js';
import { WriteBatcher } from '../../src/resp/write-batcher.js';
import { keyspaceApi } from '../helpers/keyspace-api.js';

const PEERS: PeerInfo[] = [{ peerId: '12D3KooWPeerA', state: 'alive', behind: 3, addrs: [], lastSeen: 1, replicaId: null }];

const open: Keyspace[] = [];
afterEach(async () => {
  for (const ks of open.splice(0)) await ks.close();
});

async function setup(opts: { password?: string; now?: () => number; held?: Clock[]; loading?: () => string | null } = {}) {
  const now = opts.now ?? Date.now;
  const ks = await Keyspace.open(new MemoryBackend(), { now, maxValueBytes: 1024 });
  open.push(ks);
  const held = opts.held ?? [];
  const api = keyspaceApi(ks, { held, peers: PEERS });
  const batcher = new WriteBatcher((ops) => api.write(ops));
  const env: RespEnv = { api, maxValueBytes: 1024, write: (ops) => batcher.add(ops), password: opts.password ?? null, now, addr: () => '127.0.0.1:6379', clients: () => 1, loading: opts.loading ?? (() => null) };
  const session = new Session(7, opts.password !== undefined);
  const ctx: Ctx = { env, session };
  /** Runs one command and answers what a RESP client would read, as text. */
  const call = async (...args: (string | Buffer)[]) => text(await dispatch(ctx, args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a))), session.proto);
  /** Dispatches commands back to back (a pipeline), then awaits every reply in order. */
  const pipeline = async (...cmds: string[][]) => {
    const replies = cmds.map((c) => dispatch(ctx, c.map((a) => Buffer.from(a))));
    return (await Promise.all(replies)).map((r) => text(r, session.proto));
  };
  return { ks, call, pipeline, session, held };
}

const text = (r: Reply, proto: 2 | 3) => encodeOne(r, proto).toString('latin1');

describe('string commands', () => {
  it('SET, GET, MSET, MGET, DEL, EXISTS, TYPE, STRLEN, GETDEL answer as Redis does', async () => {
    const { call } = await setup();
    expect(await call('PING')).toBe('+PONG\r\n');
    expect(await call('SET', 'k', 'v1')).toBe('+OK\r\n');
    expect(await call('GET', 'k')).toBe('$2\r\nv1\r\n');
    expect(await call('GET', 'absent')).toBe('$-1\r\n');
    expect(await call('MSET', 'a', '1', 'b', '22')).toBe('+OK\r\n');
    expect(await call('MGET', 'a', 'nope', 'b')).toBe('*3\r\n$1\r\n1\r\n$-1\r\n$2\r\n22\r\n');
    expect(await call('EXISTS', 'a', 'a', 'nope')).toBe(':2\r\n');
    expect(await call('TYPE', 'a')).toBe('+string\r\n');
    expect(await call('TYPE', 'nope')).toBe('+none\r\n');
    expect(await call('STRLEN', 'b')).toBe(':2\r\n');
    expect(await call('DEL', 'a', 'a', 'nope')).toBe(':1\r\n');
    expect(await call('UNLINK', 'b')).toBe(':1\r\n');
    expect(await call('GETDEL', 'k')).toBe('$2\r\nv1\r\n');
    expect(await call('GETDEL', 'k')).toBe('$-1\r\n');
    expect(await call('MSET', 'a', '1', 'b')).toBe("-ERR wrong number of arguments for 'mset' command\r\n");
    expect(await call('GET')).toBe("-ERR wrong number of arguments for 'get' command\r\n");
  });

  it('SET NX, XX, GET and KEEPTTL on this node\'s view', async () => {
    const { call } = await setup();
    expect(await call('SET', 'k', 'a', 'XX')).toBe('$-1\r\n');
    expect(await call('SET', 'k', 'a', 'NX')).toBe('+OK\r\n');
    expect(await call('SET', 'k', 'b', 'NX')).toBe('$-1\r\n');
    expect(await call('SET', 'k', 'b', 'XX', 'GET')).toBe('$1\r\na\r\n');
    expect(await call('SET', 'k', 'c', 'EX', '100')).toBe('+OK\r\n');
    expect(await call('SET', 'k', 'd', 'KEEPTTL')).toBe('+OK\r\n');
    expect(await call('TTL', 'k')).toBe(':100\r\n');
    expect(await call('SET', 'k', 'e')).toBe('+OK\r\n');
    expect(await call('TTL', 'k')).toBe(':-1\r\n');
    expect(await call('SET', 'k', 'v', 'EX', '0')).toBe("-ERR invalid expire time in 'set' command\r\n");
    expect(await call('SET', 'k', 'v', 'EX', 'x')).toBe('-ERR value is not an integer or out of range\r\n');
    expect(await call('SET', 'k', 'v', 'NX', 'XX')).toBe('-ERR syntax error\r\n');
    expect(await call('SET', 'k', 'v', 'EX', '1', 'PX', '1')).toBe('-ERR syntax error\r\n');
    // as Redis 7 reads them: a repeated option is taken, the last time wins, options before the time
    expect(await call('SET', 'k', 'f', 'NX', 'NX')).toBe('$-1\r\n');
    expect(await call('SET', 'k', 'g', 'EX', '10', 'EX', '200', 'GET', 'GET')).toBe('$1\r\ne\r\n');
    expect(await call('TTL', 'k')).toBe(':200\r\n');
    expect(await call('SET', 'k', 'v', 'EX', 'x', 'NX', 'XX')).toBe('-ERR syntax error\r\n');
    expect(await call('SET', 'k', 'v', 'EX', '9223372036854775807')).toBe("-ERR invalid expire time in 'set' command\r\n");
    expect(await call('SET', 'k', 'v', 'EX', '9223372036854775808')).toBe('-ERR value is not an integer or out of range\r\n');
  });

  it('SETEX, PSETEX and SETNX, which older clients send, as the SET they stand for', async () => {
    const { call } = await setup({ now: () => 1_000_000 });
    expect(await call('SETEX', 's', '100', 'v')).toBe('+OK\r\n');
    expect(await call('TTL', 's')).toBe(':100\r\n');
    expect(await call('PSETEX', 'p', '5000', 'w')).toBe('+OK\r\n');
    expect(await call('PTTL', 'p')).toBe(':5000\r\n');
    expect(await call('GET', 'p')).toBe('$1\r\nw\r\n');
    expect(await call('SETEX', 's', '0', 'v')).toBe("-ERR invalid expire time in 'setex' command\r\n");
    expect(await call('SETNX', 'n', 'first')).toBe(':1\r\n');
    expect(await call('SETNX', 'n', 'second')).toBe(':0\r\n');
    expect(await call('GET', 'n')).toBe('$5\r\nfirst\r\n');
    expect(await call('SETEX', 's', 'v')).toBe("-ERR wrong number of arguments for 'setex' command\r\n");
  });

  it('expiry: EX, PX, EXAT in the past, EXPIRE, PEXPIRE, TTL, PTTL, PERSIST', async () => {
    let t = 1_800_000_000_000;
    const { call } = await setup({ now: () => t });
    expect(await call('TTL', 'k')).toBe(':-2\r\n');
    await call('SET', 'k', 'v', 'PX', '1500');
    expect(await call('PTTL', 'k')).toBe(':1500\r\n');
    expect(await call('TTL', 'k')).toBe(':2\r\n'); // 1.5 s rounds to 2, as in Redis
    t += 1500;
    expect(await call('GET', 'k')).toBe('$-1\r\n');
    expect(await call('TTL', 'k')).toBe(':-2\r\n');
    await call('SET', 'k', 'v');
    expect(await call('EXPIRE', 'k', '10')).toBe(':1\r\n');
    expect(await call('EXPIRE', 'k', '20', 'NX')).toBe(':0\r\n');
    expect(await call('EXPIRE', 'k', '5', 'GT')).toBe(':0\r\n');
    expect(await call('PEXPIRE', 'k', '30000', 'GT')).toBe(':1\r\n');
    expect(await call('TTL', 'k')).toBe(':30\r\n');
    expect(await call('PERSIST', 'k')).toBe(':1\r\n');
    expect(await call('PERSIST', 'k')).toBe(':0\r\n');
    expect(await call('TTL', 'k')).toBe(':-1\r\n');
    expect(await call('EXPIREAT', 'k', String(Math.floor(t / 1000) + 60))).toBe(':1\r\n');
    expect(await call('TTL', 'k')).toBe(':60\r\n'); // 59.5 s rounds up
    expect(await call('EXPIRE', 'nope', '10')).toBe(':0\r\n');
    // flags as Redis 7 reads them: combined, repeated, checked before the key and the time
    expect(await call('EXPIRE', 'k', '100', 'XX', 'GT', 'XX')).toBe(':1\r\n');
    expect(await call('TTL', 'k')).toBe(':100\r\n');
    expect(await call('EXPIRE', 'k', '10', 'NX', 'LT')).toBe('-ERR NX and XX, GT or LT options at the same time are not compatible\r\n');
    expect(await call('EXPIRE', 'k', '10', 'GT', 'LT')).toBe('-ERR GT and LT options at the same time are not compatible\r\n');
    expect(await call('EXPIRE', 'nope', 'x', 'Soon')).toBe('-ERR Unsupported option Soon\r\n');
    expect(await call('EXPIRE', 'k', '-1')).toBe(':1\r\n'); // a time not in the future deletes
    expect(await call('EXISTS', 'k')).toBe(':0\r\n');
    await call('SET', 'k', 'v', 'PXAT', String(t - 1)); // already past: deleted at once
    expect(await call('EXISTS', 'k')).toBe(':0\r\n');
  });

  it('keys that are not replikv keys get an error naming why', async () => {
    const { call } = await setup();
    expect(await call('SET', Buffer.from([0xff, 0xfe]), 'v')).toMatch(/^-ERR invalid key: not valid UTF-8/);
    expect(await call('GET', '')).toMatch(/^-ERR invalid key: the empty string/);
    expect(await call('SET', 'k'.repeat(1025), 'v')).toMatch(/^-ERR invalid key: 1025 bytes/);
    expect(await call('SET', 'k', Buffer.alloc(2000))).toMatch(/^-ERR invalid value: 2000 bytes, the limit is 1024/);
  });

  it('RKV.SIBLINGS lists concurrent values; GET answers the resolved one', async () => {
    const { ks, call } = await setup();
    await call('SET', 'k', 'first');
    const ctx = ks.read('k')!.context;
    await ks.write([{ type: 'put', key: 'k', value: Buffer.from('second'), context: ctx }]);
    await ks.write([{ type: 'put', key: 'k', value: Buffer.from('third'), context: ctx }]); // concurrent with second
    const sibs = await call('RKV.SIBLINGS', 'k');
    expect(sibs).toBe('*2\r\n$6\r\nsecond\r\n$5\r\nthird\r\n');
    expect(await call('GET', 'k')).toBe('$5\r\nthird\r\n');
    expect(await call('RKV.SIBLINGS', 'nope')).toBe('*0\r\n');
  });
});

describe('a pipelined connection', () => {
  it('reads its own writes in order, while plain SETs go straight on together', async () => {
    const { pipeline } = await setup();
    const replies = await pipeline(['SET', 'k', '1'], ['GET', 'k'], ['SET', 'k', '2'], ['SET', 'k', '3', 'GET'], ['GET', 'k'], ['DEL', 'k'], ['EXISTS', 'k']);
    expect(replies).toEqual(['+OK\r\n', '$1\r\n1\r\n', '+OK\r\n', '$1\r\n2\r\n', '$1\r\n3\r\n', ':1\r\n', ':0\r\n']);
  });
});

describe('keyspace commands', () => {
  it('SCAN pages with per-connection cursors that end at "0", MATCH and TYPE', async () => {
    const { call, session } = await setup();
    for (let i = 0; i < 25; i++) await call('SET', `user:${String(i).padStart(2, '0')}`, 'v');
    await call('SET', 'other', 'v');
    const seen: string[] = [];
    let cursor = '0';
    do {
      const reply = await dispatch({ env: undefined as never, session } as never, []); // blank line: nothing
      expect(reply).toEqual([]);
      const r = await call('SCAN', cursor, 'MATCH', 'user:1*', 'COUNT', '4');
      const m = /^\*2\r\n\$\d+\r\n(\d+)\r\n\*(\d+)\r\n(.*)$/s.exec(r)!;
      cursor = m[1]!;
      seen.push(...[...m[3]!.matchAll(/\$\d+\r\n([^\r]*)\r\n/g)].map((x) => x[1]!));
    } while (cursor !== '0');
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `user:1${i}`));
    expect(await call('SCAN', '0', 'TYPE', 'hash')).toBe('*2\r\n$1\r\n0\r\n*0\r\n');
    expect(await call('SCAN', '987654')).toMatch(/^-ERR invalid cursor/);
    expect(await call('KEYS', 'user:0[0-2]')).toBe('*3\r\n$7\r\nuser:00\r\n$7\r\nuser:01\r\n$7\r\nuser:02\r\n');
    expect(await call('DBSIZE')).toBe(':26\r\n');
  });

  it('WAIT answers the replicas holding the last write, or how many did by the timeout', async () => {
    const { call, held, session } = await setup();
    await call('SET', 'k', 'v');
    expect(await call('WAIT', '1', '50')).toBe(':0\r\n'); // nobody holds it: the count at the timeout
    held.push(session.lastWrite.clone(), Clock.empty());
    expect(await call('WAIT', '1', '0')).toBe(':1\r\n');
    expect(await call('WAIT', '2', '30')).toBe(':1\r\n');
    expect(await call('WAIT', '-1', '0')).toBe(':1\r\n'); // as Redis: 0 or fewer asked answers at once, with the count
    expect(await call('WAIT', '0', 'x')).toBe('-ERR timeout is not an integer or out of range\r\n');
    expect(await call('WAIT', '0', '-5')).toBe('-ERR timeout is negative\r\n');
  });
});

describe('connection commands and refusals', () => {
  it('HELLO 3 switches to RESP3 maps and nulls; SELECT 0 only; CLIENT names and ids', async () => {
    const { call } = await setup({ now: () => 5_001 });
    const hello = await call('HELLO', '3', 'SETNAME', 'app');
    expect(hello.startsWith('%7\r\n$6\r\nserver\r\n$7\r\nreplikv\r\n')).toBe(true);
    expect(hello).toContain('$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:7\r\n');
    expect(await call('GET', 'nope')).toBe('_\r\n');
    expect(await call('CLIENT', 'GETNAME')).toBe('$3\r\napp\r\n');
    expect(await call('CLIENT', 'SETNAME', 'a b')).toMatch(/^-ERR Client names cannot contain spaces/);
    expect(await call('CLIENT', 'ID')).toBe(':7\r\n');
    expect(await call('HELLO', '4')).toBe('-NOPROTO unsupported protocol version\r\n');
    expect(await call('SELECT', '0')).toBe('+OK\r\n');
    expect(await call('SELECT', '1')).toMatch(/^-ERR DB index is out of range/);
    expect(await call('ECHO', 'hi')).toBe('$2\r\nhi\r\n');
    expect(await call('INFO', 'replication')).toContain('peer0:id=12D3KooWPeerA,state=alive,behind=3');
    // how long ago the peer was last heard (ms), not the time itself; -1 for never
    expect(await call('INFO', 'replication')).toContain(',last_seen_ago_ms=5000\r\n'); // heard at 1, now 5,001
    expect(await call('COMMAND', 'COUNT')).toMatch(/^:\d+\r\n$/);
  });

  it('with a password: NOAUTH until AUTH, WRONGPASS for a wrong one, HELLO AUTH works too', async () => {
    const { call, session } = await setup({ password: 's3cret' });
    expect(await call('GET', 'k')).toBe('-NOAUTH Authentication required.\r\n');
    expect(await call('HELLO', '3')).toMatch(/^-NOAUTH HELLO must be called/);
    expect(await call('AUTH', 'wrong')).toBe('-WRONGPASS invalid username-password pair or user is disabled.\r\n');
    expect(await call('AUTH', 'other', 's3cret')).toMatch(/^-WRONGPASS/);
    expect(session.authed).toBe(false);
    expect(await call('HELLO', '2', 'AUTH', 'default', 's3cret')).toMatch(/^\*14\r\n/);
    expect(await call('GET', 'k')).toBe('$-1\r\n');
  });

  it('while the node bootstraps, commands on keys answer LOADING and the server commands still answer', async () => {
    let loading: string | null = 'replikv is bootstrapping';
    const { call } = await setup({ loading: () => loading });
    for (const cmd of [['GET', 'k'], ['SET', 'k', 'v'], ['MGET', 'k'], ['DEL', 'k'], ['DBSIZE'], ['SCAN', '0'], ['KEYS', '*'], ['WAIT', '1', '0'], ['TTL', 'k']]) {
      expect(await call(...cmd), cmd.join(' ')).toBe('-LOADING replikv is bootstrapping\r\n');
    }
    expect(await call('PING')).toBe('+PONG\r\n');
    expect(await call('INFO', 'server')).toMatch(/^\$\d+\r\n# Server/);
    loading = null; // ready
    expect(await call('SET', 'k', 'v')).toBe('+OK\r\n');
    expect(await call('GET', 'k')).toBe('$1\r\nv\r\n');
  });

  it('AUTH without a configured password says so', async () => {
    const { call } = await setup();
    expect(await call('AUTH', 'x')).toMatch(/^-ERR AUTH <password> called without any password configured/);
    // Redis's default user has no password then: it takes any (a client given user:password@host sends this)
    expect(await call('AUTH', 'default', 'x')).toBe('+OK\r\n');
    expect(await call('AUTH', 'someone', 'x')).toBe('-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  });

  it('read-modify-writes, transactions and scripts are refused saying why; unknown commands as Redis does', async () => {
    const { call } = await setup();
    for (const cmd of ['INCR', 'DECRBY', 'APPEND', 'SETRANGE', 'GETSET']) expect(await call(cmd, 'k', '1')).toMatch(new RegExp(`^-ERR ${cmd} is a read-modify-write, and replikv is multi-primary`));
    for (const cmd of ['MULTI', 'EXEC', 'WATCH']) expect(await call(cmd)).toMatch(new RegExp(`^-ERR ${cmd} is a transaction, and replikv is multi-primary`));
    expect(await call('EVAL', 'return 1', '0')).toMatch(/^-ERR EVAL runs a script, and replikv is multi-primary/);
    expect(await call('HSET', 'h', 'f', 'v')).toMatch(/^-ERR HSET works on a Redis data type replikv does not have/);
    expect(await call('FOO', 'a', 'b')).toBe("-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
  });
});
