// Connection and server commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, CLIENT, INFO, CONFIG.

import { createHash, timingSafeEqual } from 'node:crypto';
import { asSent, CommandError, intArg, quotingError, SYNTAX, word } from './args.js';
import type { CommandSpec, Ctx } from './command.js';
import { infoText } from './info.js';
import { ErrorReply, MapReply, OK, Simple, Verbatim, type Reply } from './reply.js';
import type { Session } from './session.js';

/** The Redis version whose commands replikv answers like (HELLO, INFO redis_version): clients gate features on it. */
export const REDIS_COMPAT_VERSION = '7.0.0';

const WRONGPASS = new ErrorReply('WRONGPASS invalid username-password pair or user is disabled.');
const none: [number, number, number] = [0, 0, 0];

/** Compares through SHA-256 digests: equal lengths for timingSafeEqual, and no early exit on the first differing byte. */
function passwordMatches(given: Uint8Array, password: string): boolean {
  const h = (b: Uint8Array | string) => createHash('sha256').update(b).digest();
  return timingSafeEqual(h(given), h(password));
}

/** AUTH [username] password, and HELLO's AUTH: null on success, else the error to answer. */
function authenticate(c: Ctx, user: Uint8Array | undefined, pass: Uint8Array): ErrorReply | null {
  const password = c.env.password;
  if (password === null) {
    if (user === undefined) {
      return new ErrorReply('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
    }
    // Redis's default user without a password takes any password (clients given a URL with
    // user and password send AUTH default pw); no other user exists.
    if (Buffer.from(user).toString('latin1') !== 'default') return WRONGPASS;
    c.session.authed = true;
    return null;
  }
  const userOk = user === undefined || Buffer.from(user).toString('latin1') === 'default';
  if (passwordMatches(pass, password) && userOk) {
    c.session.authed = true;
    return null;
  }
  c.env.authFailed?.(c.session);
  return WRONGPASS;
}

/** Client names: printable ASCII without spaces, as Redis requires. */
function clientName(raw: Uint8Array): string | null {
  const name = Buffer.from(raw).toString('latin1');
  if (!/^[\x21-\x7e]*$/.test(name)) throw new CommandError('ERR Client names cannot contain spaces, newlines or special characters.');
  return name === '' ? null : name;
}

/** HELLO [protover [AUTH user pass] [SETNAME name]]: in Redis's order, the options read before AUTH is tried, the name set after. */
function hello(c: Ctx, args: Buffer[]): Reply {
  let proto = c.session.proto;
  if (args.length > 1) {
    const v = intArg(args[1]!, 'ERR Protocol version is not an integer or out of range');
    if (v !== 2 && v !== 3) return new ErrorReply('NOPROTO unsupported protocol version');
    proto = v;
  }
  let name: Buffer | undefined;
  let credentials: [Buffer, Buffer] | undefined;
  for (let i = 2; i < args.length; i++) {
    const w = word(args[i]);
    if (w === 'AUTH' && i + 2 < args.length) {
      credentials = [args[i + 1]!, args[i + 2]!];
      i += 2;
    } else if (w === 'SETNAME' && i + 1 < args.length) {
      name = args[++i]!;
    } else throw quotingError("ERR Syntax error in HELLO option '", asSent(args[i]!), "'");
  }
  if (credentials !== undefined) {
    const failed = authenticate(c, credentials[0], credentials[1]);
    if (failed !== null) return failed;
  }
  if (!c.session.authed) {
    return new ErrorReply(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
  }
  if (name !== undefined) c.session.name = clientName(name);
  c.session.proto = proto;
  return new MapReply([
    ['server', 'replikv'],
    ['version', REDIS_COMPAT_VERSION],
    ['proto', proto],
    ['id', c.session.id],
    ['mode', 'standalone'],
    ['role', 'master'],
    ['modules', []],
  ]);
}

function auth(c: Ctx, args: Buffer[]): Reply {
  if (args.length > 3) throw new CommandError(SYNTAX);
  return authenticate(c, args.length === 3 ? args[1] : undefined, args[args.length - 1]!) ?? OK;
}

/** One client as CLIENT INFO and CLIENT LIST show it (the fields replikv has of Redis's). */
const clientLine = (s: Session) => `id=${s.id} addr=${s.addr} name=${s.name ?? ''} db=0 resp=${s.proto}\n`;

function client(c: Ctx, args: Buffer[]): Reply {
  const sub = word(args[1]);
  const arity = (n: number) => {
    if (args.length !== n) throw new CommandError(`ERR wrong number of arguments for 'client|${sub.toLowerCase()}' command`);
  };
  switch (sub) {
    case 'SETNAME':
      arity(3);
      c.session.name = clientName(args[2]!);
      return OK;
    case 'GETNAME':
      arity(2);
      return c.session.name;
    case 'ID':
      arity(2);
      return c.session.id;
    case 'SETINFO': // lib-name and lib-ver, sent by newer clients on connect: taken and not kept
      arity(4);
      return OK;
    case 'INFO':
      arity(2);
      return new Verbatim(clientLine(c.session));
    case 'LIST':
      arity(2);
      return new Verbatim((c.env.sessions?.() ?? [c.session]).map(clientLine).join(''));
    default:
      throw quotingError("ERR unknown subcommand '", asSent(args[1]!), "'. Try CLIENT SETNAME, GETNAME, ID, INFO, LIST or SETINFO.");
  }
}

/** SELECT 0; Redis's databases 1 to 15 are refused saying why, other numbers as Redis refuses them. */
function select(args: Buffer[]): Reply {
  const db = intArg(args[1]!);
  // Redis reads a C int, and says so (its words)
  if (db < -(2 ** 31) || db >= 2 ** 31) throw new CommandError('ERR value is out of range, value must between -2147483648 and 2147483647');
  if (db === 0) return OK;
  return new ErrorReply(`ERR DB index is out of range${db > 0 && db < 16 ? ' (replikv has one keyspace: 0)' : ''}`);
}

/** What CONFIG GET shows: redis-benchmark asks for these two at start and warns without them. */
const CONFIG: Record<string, string> = { save: '', appendonly: 'no' };

function config(_c: Ctx, args: Buffer[]): Reply {
  if (word(args[1]) === 'GET') {
    if (args.length < 3) throw new CommandError("ERR wrong number of arguments for 'config|get' command");
    const asked = args.slice(2).map((a) => a.toString('latin1').toLowerCase());
    return new MapReply(Object.entries(CONFIG).filter(([k]) => asked.includes(k)));
  }
  return new ErrorReply('ERR replikv is configured by its config file and daemon flags, not CONFIG');
}

export const SERVER_COMMANDS: Record<string, CommandSpec> = {
  ping: { arity: -1, flags: ['fast'], keys: none, run: (c, a) => (a.length > 2 ? new ErrorReply("ERR wrong number of arguments for 'ping' command") : a.length === 2 ? a[1]! : new Simple('PONG')) },
  echo: { arity: 2, flags: ['fast'], keys: none, run: (_c, a) => a[1]! },
  hello: { arity: -1, flags: ['noauth', 'fast'], keys: none, run: hello, noAuth: true },
  auth: { arity: -2, flags: ['noauth', 'fast'], keys: none, run: auth, noAuth: true },
  select: { arity: 2, flags: ['fast'], keys: none, run: (_c, a) => select(a) },
  quit: {
    arity: -1,
    flags: ['noauth', 'fast'],
    keys: none,
    noAuth: true,
    run: (c) => {
      c.session.closing = true;
      return OK;
    },
  },
  client: { arity: -2, flags: [], keys: none, run: client },
  info: { arity: -1, flags: [], keys: none, run: (c, a) => new Verbatim(infoText(c, a.slice(1).map((s) => s.toString('latin1').toLowerCase()))) },
  config: { arity: -2, flags: [], keys: none, run: config },
};
