// The requests the Redis parity test (redis-parity.test.ts) sends to redis-server and to replikv,
// case by case, with the shape compared where replikv differs on purpose (each case's name says how).
import type { Parsed } from '../helpers/resp-replies.js';

/** The password of the pair that has one. */
export const PASSWORD = 'parity-s3cret';

/** A request: a command's arguments (sent as multibulk) or raw bytes as they are (inline, broken framing). */
export type Request = readonly (string | Uint8Array)[] | string;

export interface Case {
  name: string;
  requests: Request[];
  /** Say HELLO 3 first (its reply, which names the server, is left out). */
  resp3?: boolean;
  /** Against the pair with a password. */
  secured?: boolean;
  /** Compare these instead of the bytes: replikv differs on purpose (the case's name says how). */
  shape?: (r: Parsed, i: number) => unknown;
}

// Shapes: what is the same although the values are not.
export const typeOnly = (r: Parsed): unknown => (Array.isArray(r.value) ? { type: r.type, items: r.value.map(typeOnly) } : r.type);

export const cases: Case[] = [
  // connection
  { name: 'PING, PING msg, PING a b (arity)', requests: [['PING'], ['PING', 'hello'], ['PING', 'a', 'b'], ['ping'], ['PiNg', '']] },
  { name: 'ECHO', requests: [['ECHO', 'x y'], ['ECHO'], ['ECHO', 'a', 'b'], ['echo', '']] },
  { name: 'SELECT 0, bad indexes', requests: [['SELECT', '0'], ['SELECT', 'abc'], ['SELECT', '-1'], ['SELECT', '00'], ['SELECT', '16'], ['SELECT', '4294967296'], ['SELECT'], ['SELECT', '1', '2']] },
  { name: 'CLIENT SETNAME / GETNAME', requests: [['CLIENT', 'GETNAME'], ['CLIENT', 'SETNAME', 'app-1'], ['CLIENT', 'GETNAME'], ['client', 'setname', 'a b'], ['CLIENT', 'SETNAME', ''], ['CLIENT', 'GETNAME'], ['CLIENT', 'SETNAME'], ['CLIENT', 'GETNAME', 'x'], ['CLIENT']] },
  { name: 'CLIENT ID (an integer; replikv numbers its own connections)', requests: [['CLIENT', 'ID'], ['CLIENT', 'ID', 'x']], shape: (r) => (r.type === ':' ? ':' : r) },
  { name: 'AUTH without a password configured', requests: [['AUTH', 'pw'], ['AUTH', 'default', 'anything'], ['AUTH', 'nobody', 'pw'], ['AUTH', 'a', 'b', 'c'], ['AUTH']] },
  { name: 'HELLO errors', requests: [['HELLO', 'abc'], ['HELLO', '4'], ['HELLO', '1'], ['HELLO', '3', 'SETNAME'], ['HELLO', '3', 'BOGUS'], ['PING']] },
  { name: 'HELLO (server and version are replikv and 7.0.0, the id its own)', requests: [['HELLO'], ['HELLO', '2', 'SETNAME', 'h'], ['CLIENT', 'GETNAME'], ['HELLO', '3', 'AUTH', 'default', 'x']], shape: typeOnly },
  { name: 'unknown, refused and empty commands', requests: [['NOSUCH'], ['nosuch', 'a', 'b', 'c', 'd', 'e'], [''], ['NoSuch', 'x'.repeat(200), 'y']] },
  { name: 'empty requests get no reply', requests: ['*0\r\n', '\r\n', '*-1\r\n', '   \r\n', ['PING']] },
  { name: 'inline commands (telnet)', requests: ['PING\r\n', 'ping hello\n', 'SET inl:1 "a b\\x41\\n"\r\n', "GET 'inl:1'\r\n", 'ECHO "x"  \t y\r\n', 'EXISTS inl:1 inl:2\r\n'] },
  { name: 'mixed case command and option names', requests: [['sEt', 'mc:1', 'v', 'eX', '100', 'nX'], ['GeT', 'mc:1'], ['tTl', 'mc:1'], ['set', 'mc:1', 'w', 'xx', 'keepttl', 'get']] },

  // GET, SET and its options
  { name: 'GET, SET, wrong arity', requests: [['GET', 'gs:1'], ['SET', 'gs:1', 'v'], ['GET', 'gs:1'], ['GET'], ['GET', 'a', 'b'], ['SET', 'gs:1'], ['SET'], ['SET', 'gs:2', '']] },
  { name: 'SET NX / XX', requests: [['SET', 'nx:1', 'a', 'XX'], ['SET', 'nx:1', 'a', 'NX'], ['SET', 'nx:1', 'b', 'NX'], ['SET', 'nx:1', 'c', 'XX'], ['GET', 'nx:1'], ['SET', 'nx:1', 'd', 'NX', 'NX'], ['SET', 'nx:1', 'e', 'XX', 'XX'], ['GET', 'nx:1']] },
  { name: 'SET GET, with NX and XX', requests: [['SET', 'sg:1', 'a', 'GET'], ['SET', 'sg:1', 'b', 'GET'], ['SET', 'sg:1', 'c', 'NX', 'GET'], ['SET', 'sg:2', 'c', 'XX', 'GET'], ['SET', 'sg:2', 'c', 'NX', 'GET'], ['SET', 'sg:1', 'd', 'GET', 'GET'], ['GET', 'sg:1'], ['GET', 'sg:2']] },
  { name: 'SET expiry options and TTL', requests: [['SET', 'ex:1', 'v', 'EX', '100'], ['TTL', 'ex:1'], ['SET', 'ex:2', 'v', 'PX', '100000'], ['TTL', 'ex:2'], ['SET', 'ex:3', 'v', 'EXAT', String(Math.floor(Date.now() / 1000) + 1000)], ['TTL', 'ex:3'], ['SET', 'ex:4', 'v', 'PXAT', String(Date.now() + 1_000_000)], ['TTL', 'ex:4'], ['SET', 'ex:1', 'w', 'KEEPTTL'], ['TTL', 'ex:1'], ['SET', 'ex:1', 'x'], ['TTL', 'ex:1'], ['SET', 'ex:5', 'v', 'EX', '10', 'EX', '100'], ['TTL', 'ex:5'], ['SET', 'ex:5', 'v', 'KEEPTTL', 'KEEPTTL'], ['TTL', 'ex:5']] },
  {
    name: 'SET option combinations',
    requests: [
      ['SET', 'sc2:1', 'a', 'NX', 'EX', '100', 'GET'], ['TTL', 'sc2:1'],
      ['SET', 'sc2:1', 'b', 'GET', 'XX', 'PX', '200000'], ['TTL', 'sc2:1'],
      ['SET', 'sc2:1', 'c', 'KEEPTTL', 'XX', 'GET'], ['TTL', 'sc2:1'],
      ['SET', 'sc2:1', 'd', 'NX', 'GET', 'KEEPTTL'], ['GET', 'sc2:1'],
      ['SET', 'sc2:2', 'e', 'XX', 'EXAT', String(Math.floor(Date.now() / 1000) + 50)], ['EXISTS', 'sc2:2'],
      ['SET', 'sc2:1', 'f', 'ex', '300', 'xx'], ['TTL', 'sc2:1'],
      ['SET', 'sc2:1', 'g', 'PXAT', String(Date.now() + 400_000), 'GET'], ['TTL', 'sc2:1'],
      ['SET', 'sc2:1', 'h', 'EX', '10', 'GET', 'EX', '20', 'NX', 'NX'], ['GET', 'sc2:1'], ['TTL', 'sc2:1'],
      ['SET', 'sc2:1', 'i', 'KEEPTTL', 'PX', '100'], ['SET', 'sc2:1', 'i', 'PXAT', '100', 'EXAT', '100'], ['SET', 'sc2:1', 'i', 'GET', 'NX', 'XX'],
    ],
  },
  { name: 'SET with an EXAT / PXAT in the past deletes', requests: [['SET', 'past:1', 'v'], ['SET', 'past:1', 'v', 'EXAT', '1'], ['GET', 'past:1'], ['SET', 'past:2', 'v', 'PXAT', '1000'], ['EXISTS', 'past:2']] },
  { name: 'SET option errors', requests: [['SET', 'so:1', 'v', 'NX', 'XX'], ['SET', 'so:1', 'v', 'XX', 'NX'], ['SET', 'so:1', 'v', 'EX', '10', 'PX', '100'], ['SET', 'so:1', 'v', 'EX', '10', 'KEEPTTL'], ['SET', 'so:1', 'v', 'KEEPTTL', 'EXAT', '10'], ['SET', 'so:1', 'v', 'EX'], ['SET', 'so:1', 'v', 'BOGUS'], ['SET', 'so:1', 'v', 'EX', 'abc', 'NX', 'XX'], ['SET', 'so:1', 'v', 'EX', 'abc', 'BOGUS'], ['EXISTS', 'so:1']] },
  { name: 'SET bad times', requests: [['SET', 'bt:1', 'v', 'EX', '0'], ['SET', 'bt:1', 'v', 'EX', '-1'], ['SET', 'bt:1', 'v', 'PX', '0'], ['SET', 'bt:1', 'v', 'EXAT', '0'], ['SET', 'bt:1', 'v', 'EX', 'abc'], ['SET', 'bt:1', 'v', 'EX', '1.5'], ['SET', 'bt:1', 'v', 'EX', '+1'], ['SET', 'bt:1', 'v', 'EX', '01'], ['SET', 'bt:1', 'v', 'EX', '9223372036854775807'], ['SET', 'bt:1', 'v', 'PX', '9223372036854775807'], ['SET', 'bt:1', 'v', 'EX', '9223372036854775808'], ['SET', 'bt:1', 'v', 'EX', '-9223372036854775808'], ['EXISTS', 'bt:1']] },
  { name: 'SETEX, PSETEX, SETNX', requests: [['SETEX', 'sx:1', '100', 'v'], ['TTL', 'sx:1'], ['SETEX', 'sx:1', '0', 'v'], ['SETEX', 'sx:1', 'abc', 'v'], ['PSETEX', 'sx:2', '-5', 'v'], ['PSETEX', 'sx:2', '100000', 'v'], ['TTL', 'sx:2'], ['SETEX', 'sx:1', '10'], ['SETNX', 'sx:3', 'a'], ['SETNX', 'sx:3', 'b'], ['GET', 'sx:3'], ['SETNX', 'sx:3']] },
  { name: 'GETDEL', requests: [['GETDEL', 'gd:1'], ['SET', 'gd:1', 'v'], ['GETDEL', 'gd:1'], ['GETDEL', 'gd:1'], ['EXISTS', 'gd:1'], ['GETDEL'], ['GETDEL', 'a', 'b']] },

  // several keys
  { name: 'MSET, MGET', requests: [['MSET', 'ms:1', 'a', 'ms:2', 'b'], ['MGET', 'ms:1', 'ms:none', 'ms:2', 'ms:1'], ['MSET', 'ms:1', 'x', 'ms:1', 'y'], ['GET', 'ms:1'], ['MSET', 'ms:3'], ['MSET', 'ms:3', 'a', 'ms:4'], ['MSET'], ['MGET'], ['EXISTS', 'ms:3']] },
  { name: 'DEL, UNLINK, EXISTS with repeated keys', requests: [['MSET', 'dl:1', 'a', 'dl:2', 'b', 'dl:3', 'c'], ['EXISTS', 'dl:1', 'dl:1', 'dl:2', 'dl:none'], ['DEL', 'dl:1', 'dl:1', 'dl:none'], ['UNLINK', 'dl:2', 'dl:3', 'dl:2'], ['EXISTS', 'dl:1', 'dl:2', 'dl:3'], ['DEL'], ['UNLINK'], ['EXISTS']] },

  // expiry
  { name: 'TTL and PTTL: missing, lasting, expiring', requests: [['TTL', 'tt:none'], ['PTTL', 'tt:none'], ['SET', 'tt:1', 'v'], ['TTL', 'tt:1'], ['PTTL', 'tt:1'], ['SET', 'tt:2', 'v', 'EX', '50'], ['TTL', 'tt:2'], ['PTTL', 'tt:2'], ['TTL'], ['PTTL', 'a', 'b']] },
  { name: 'EXPIRE family', requests: [['EXPIRE', 'ep:none', '10'], ['SET', 'ep:1', 'v'], ['EXPIRE', 'ep:1', '100'], ['TTL', 'ep:1'], ['PEXPIRE', 'ep:1', '200000'], ['TTL', 'ep:1'], ['EXPIREAT', 'ep:1', String(Math.floor(Date.now() / 1000) + 300)], ['TTL', 'ep:1'], ['PEXPIREAT', 'ep:1', String(Date.now() + 400_000)], ['TTL', 'ep:1'], ['EXPIRE', 'ep:1', '0'], ['EXISTS', 'ep:1'], ['SET', 'ep:2', 'v'], ['EXPIRE', 'ep:2', '-10'], ['EXISTS', 'ep:2'], ['SET', 'ep:3', 'v'], ['EXPIREAT', 'ep:3', '1'], ['EXISTS', 'ep:3']] },
  { name: 'EXPIRE NX / XX / GT / LT', requests: [['SET', 'ef:1', 'v'], ['EXPIRE', 'ef:1', '100', 'XX'], ['EXPIRE', 'ef:1', '100', 'GT'], ['EXPIRE', 'ef:1', '100', 'NX'], ['EXPIRE', 'ef:1', '200', 'NX'], ['EXPIRE', 'ef:1', '50', 'GT'], ['EXPIRE', 'ef:1', '200', 'gt'], ['TTL', 'ef:1'], ['EXPIRE', 'ef:1', '300', 'LT'], ['EXPIRE', 'ef:1', '150', 'lt'], ['TTL', 'ef:1'], ['EXPIRE', 'ef:1', '400', 'XX', 'GT'], ['TTL', 'ef:1'], ['EXPIRE', 'ef:1', '100', 'XX', 'LT', 'XX'], ['TTL', 'ef:1'], ['PERSIST', 'ef:1'], ['EXPIRE', 'ef:1', '100', 'LT'], ['TTL', 'ef:1']] },
  { name: 'EXPIRE errors', requests: [['SET', 'ee:1', 'v'], ['EXPIRE', 'ee:1', '10', 'NX', 'XX'], ['EXPIRE', 'ee:1', '10', 'GT', 'LT'], ['EXPIRE', 'ee:1', '10', 'NX', 'GT'], ['EXPIRE', 'ee:1', '10', 'bogus'], ['EXPIRE', 'ee:none', '10', 'bogus'], ['EXPIRE', 'ee:1', 'abc'], ['EXPIRE', 'ee:1', 'abc', 'bogus'], ['EXPIRE', 'ee:1', '9223372036854775807'], ['PEXPIRE', 'ee:1', '9223372036854775807'], ['EXPIRE', 'ee:1', '-9223372036854775808'], ['EXPIRE', 'ee:1', '9223372036854775808'], ['EXPIRE', 'ee:1'], ['PEXPIREAT'], ['TTL', 'ee:1']] },
  { name: 'PERSIST', requests: [['PERSIST', 'pe:none'], ['SET', 'pe:1', 'v'], ['PERSIST', 'pe:1'], ['EXPIRE', 'pe:1', '100'], ['PERSIST', 'pe:1'], ['TTL', 'pe:1'], ['PERSIST'], ['PERSIST', 'a', 'b']] },

  // about keys
  { name: 'TYPE, STRLEN', requests: [['TYPE', 'ty:1'], ['SET', 'ty:1', 'héllo'], ['TYPE', 'ty:1'], ['STRLEN', 'ty:1'], ['STRLEN', 'ty:none'], ['TYPE'], ['STRLEN', 'a', 'b']] },
  { name: 'KEYS', requests: [['MSET', 'ks:a1', '1', 'ks:b2', '2', 'ks:c3', '3', 'ks:[x]', '4'], ['KEYS', 'ks:[ab]?'], ['KEYS', 'ks:\\[*'], ['KEYS', 'ks:nomatch*'], ['KEYS'], ['KEYS', 'a', 'b']], shape: (r) => (Array.isArray(r.value) ? { type: r.type, keys: r.value.map((k) => k.value).sort() } : r) },
  {
    name: 'KEYS and SCAN MATCH glob patterns',
    requests: [
      ['MSET', ...['g:a', 'g:b', 'g:c', 'g:ab', 'g:*', 'g:]', 'g:[', 'g:\\', 'g:-', 'g:^', 'g:x?y', 'g:A', 'g:_'].flatMap((k) => [k, '1'])],
      ...['g:*', 'g:?', 'g:??', 'g:???', 'g:[ab]*', 'g:[^a]', 'g:[!a]', 'g:[a-c]', 'g:[c-a]', 'g:[a-]', 'g:\\*', 'g:[\\]]', 'g:[]]', 'g:[', 'g:[a', 'g:*\\', 'g:\\', 'g:**', 'g:[^]', 'g:[é]', 'g:[a-z]', 'g:x\\?y', 'g:*[', 'G:*', 'g:[A-a]', 'g:?\x00'].map((p) => ['KEYS', p]),
      ['SCAN', '0', 'MATCH', 'g:?', 'COUNT', '1000'],
    ],
    shape: (r) => (Array.isArray(r.value) ? (r.value.length === 2 && r.value[0]!.type === '$' && Array.isArray(r.value[1]!.value) ? (r.value[1]!.value as Parsed[]).map((k) => k.value).sort() : r.value.map((k) => k.value).sort()) : r),
  },
  { name: 'SCAN errors and a scan to the end', requests: [['SCAN', 'abc'], ['SCAN', '0', 'COUNT', '0'], ['SCAN', '0', 'COUNT', 'abc'], ['SCAN', '0', 'MATCH'], ['SCAN', '0', 'BOGUS', 'x'], ['SCAN'], ['MSET', 'sc:1', 'a', 'sc:2', 'b'], ['SCAN', '0', 'MATCH', 'sc:*', 'COUNT', '1000'], ['SCAN', '0', 'MATCH', 'sc:*', 'TYPE', 'hash', 'COUNT', '1000'], ['SCAN', '0', 'TYPE', 'string', 'MATCH', 'sc:*', 'COUNT', '1000'], ['SCAN', '0', 'TYPE', 'STRING', 'MATCH', 'sc:*', 'COUNT', '1000'], ['SCAN', '0', 'TYPE', 'bogus', 'MATCH', 'sc:*', 'COUNT', '1000'], ['SCAN', '0', 'MATCH', 'nothing*', 'MATCH', 'sc:*', 'count', '1000'], ['SCAN', '0', 'COUNT', '-1'], ['SCAN', '0', 'COUNT', '99999999999999999999'], ['SCAN', '0', 'COUNT', '5', 'MATCH'], ['SCAN', '00', 'MATCH', 'sc:*', 'COUNT', '1000'], ['SCAN', '', 'MATCH', 'sc:*', 'COUNT', '1000'], ['SCAN', '-0', 'MATCH', 'sc:*', 'COUNT', '1000'], ['SCAN', '18446744073709551616'], ['SCAN', ' 1'], ['SCAN', '1x']], shape: (r) => (Array.isArray(r.value) ? [r.value[0]!.value, (r.value[1]!.value as Parsed[]).map((k) => k.value).sort()] : r) },
  { name: 'DBSIZE (replikv counts keys without expiry: an integer)', requests: [['DBSIZE'], ['DBSIZE', 'x']], shape: (r) => (r.type === ':' ? ':' : r) },
  { name: 'WAIT', requests: [['WAIT', '0', '0'], ['WAIT', '0', '1'], ['WAIT', '-1', '0'], ['WAIT', 'x', '0'], ['WAIT', '0', 'x'], ['WAIT', '0', '-1'], ['WAIT', '0'], ['WAIT', '0', '0', '0']] },

  { name: 'WAIT for more replicas than there are answers the count at the timeout', requests: [['SET', 'w:1', 'v'], ['WAIT', '3', '50']] },
  { name: 'CONFIG GET', requests: [['CONFIG', 'GET', 'appendonly'], ['CONFIG', 'GET', 'save'], ['CONFIG', 'GET', 'nosuch'], ['CONFIG', 'GET'], ['CONFIG']] },
  { name: 'CLIENT INFO, LIST, unknown subcommand (replikv shows fewer fields)', requests: [['CLIENT', 'INFO'], ['CLIENT', 'LIST'], ['CLIENT', 'INFO', 'x'], ['CLIENT', 'NOSUCH']], shape: (r) => (r.type === '$' ? /^id=\d+ addr=127\.0\.0\.1:\d+ .*\bname= .*db=0 .*resp=2/.test(String(r.value)) : r.type === '-' ? String(r.value).split("'. ")[0] : r) },
  { name: 'INFO (replikv has its own fields)', requests: [['INFO'], ['INFO', 'server'], ['INFO', 'keyspace', 'clients']], shape: (r) => r.type === '$' && /# Server\r\nredis_version:/.test(String(r.value)) === /# Server/.test(String(r.value)) && String(r.value).endsWith('\r\n') },
  { name: 'INFO persistence: loading:0 once ready (ioredis waits while it is 1)', requests: [['INFO', 'persistence']], shape: (r) => [r.type, String(r.value).startsWith('# Persistence\r\n'), /\r\nloading:(\d)\r\n/.exec(String(r.value))?.[1]] },
  { name: 'COMMAND COUNT and INFO (replikv lists its own commands)', requests: [['COMMAND', 'COUNT'], ['COMMAND', 'INFO', 'get']], shape: (r) => (r.type === ':' ? ':' : Array.isArray(r.value) ? (r.value[0]!.value as Parsed[]).slice(0, 6) : r) },
  { name: 'values are bytes', requests: [['SET', 'bin:1', Buffer.from([0, 0xff, 0x80, 13, 10, 0xc3])], ['GET', 'bin:1'], ['STRLEN', 'bin:1'], ['MGET', 'bin:1'], ['ECHO', Buffer.from([0xfe, 0])], ['SET', 'bin:1', '', 'GET'], ['GET', 'bin:1']] },
  { name: 'errors quoting UTF-8, control and other bytes as sent', requests: [['FOO', 'ключ', 'a\r\nb', Buffer.from([0xff, 0x41])], [Buffer.from('Fü\x01')], ['BAR', 'é'.repeat(100)], ['EXPIRE', 'x', '10', 'ключ\r\n'], ['HELLO', '3', Buffer.from([0xe9, 0x41, 0, 0x42])]] },
  { name: 'ECHO of control bytes and of 70 KB', requests: [['ECHO', '\u0000\u0001 \t\r\n'], ['ECHO', 'x'.repeat(70_000)]] },

  // with a password
  { name: 'with a password: NOAUTH, WRONGPASS, AUTH', secured: true, requests: [['GET', 'a'], ['PING'], ['AUTH', 'wrong'], ['AUTH', 'nobody', PASSWORD], ['AUTH', 'default', 'wrong'], ['HELLO', '3'], ['HELLO', '2', 'AUTH', 'default', 'wrong'], ['GET', 'a'], ['AUTH', PASSWORD], ['GET', 'a'], ['AUTH', 'wrong'], ['GET', 'a']] },
  { name: 'with a password: AUTH default pw, and HELLO AUTH (its reply names the server)', secured: true, requests: [['AUTH', 'default', PASSWORD], ['GET', 'a'], ['HELLO', '3', 'AUTH', 'default', PASSWORD, 'SETNAME', 'me'], ['CLIENT', 'GETNAME']], shape: typeOnly },

  // RESP3
  { name: 'RESP3: INFO and CLIENT INFO are verbatim strings', resp3: true, requests: [['INFO', 'server'], ['CLIENT', 'INFO']], shape: (r) => [r.type, String(r.value).slice(0, 4)] },
  { name: 'RESP3: nulls, integers, bulk strings, arrays, errors', resp3: true, requests: [['GET', 'r3:none'], ['SET', 'r3:1', 'v', 'GET'], ['MGET', 'r3:1', 'r3:none'], ['TTL', 'r3:1'], ['PING'], ['CLIENT', 'GETNAME'], ['GETDEL', 'r3:none'], ['SET', 'r3:1', 'w', 'NX'], ['NOSUCH'], ['GET']] },
  { name: 'RESP3: CONFIG GET is a map', resp3: true, requests: [['CONFIG', 'GET', 'appendonly']] },
  { name: 'RESP3: SCAN shape', resp3: true, requests: [['MSET', 'r3s:1', 'a'], ['SCAN', '0', 'MATCH', 'r3s:*', 'COUNT', '1000']], shape: (r) => (Array.isArray(r.value) ? [r.type, r.value[0]!.value, r.value[1]!.type, (r.value[1]!.value as Parsed[]).map((k) => k.value)] : r) },
  { name: 'HELLO 3 then HELLO 2 goes back to RESP2', resp3: true, requests: [['GET', 'h2:none'], ['HELLO', '2'], ['GET', 'h2:none']], shape: (r, i) => (i === 1 ? typeOnly(r) : r) },
];

/** Each supported command with no arguments and with too many (where its number is fixed): Redis's arity errors. */
const ARITY: [string, number][] = Object.entries({ PING: -1, ECHO: 2, SELECT: 2, CLIENT: -2, AUTH: -2, DBSIZE: 1, GET: 2, SET: -3, SETEX: 4, PSETEX: 4, SETNX: 3, GETDEL: 2, MGET: -2, MSET: -3, DEL: -2, UNLINK: -2, EXISTS: -2, EXPIRE: -3, PEXPIRE: -3, EXPIREAT: -3, PEXPIREAT: -3, TTL: 2, PTTL: 2, PERSIST: 2, TYPE: 2, STRLEN: 2, SCAN: -2, KEYS: 2, WAIT: 3, CONFIG: -2, COMMAND: -1, INFO: -1 });
cases.push({
  name: 'wrong number of arguments, for every command',
  requests: ARITY.flatMap(([name, arity]): string[][] => [...(arity === -1 || arity === 1 ? [] : [[name.toLowerCase()]]), ...(arity > 0 ? [[name, ...Array.from({ length: arity }, (_, i) => `ar:${i}`)]] : [])]),
});
