// The command table and dispatcher: one command's arguments in, its reply out (a value, or a
// promise of one for commands that write or wait). Checks authentication and arity, keeps a
// connection's reads behind its writes in flight, and turns every error into an error reply: no
// command a client sends can throw past here.

import { InvalidKeyError, InvalidTokenError, InvalidValueError, ReplikvError } from '../errors.js';
import { asSent, CommandError, quotingError } from './args.js';
import type { CommandSpec, Ctx } from './command.js';
import { KEY_COMMANDS } from './commands-keys.js';
import { KEYSPACE_COMMANDS } from './commands-keyspace.js';
import { SERVER_COMMANDS } from './commands-server.js';
import { refusal } from './refused.js';
import { ErrorReply, MapReply, SetReply, Simple, type Reply } from './reply.js';

const none: [number, number, number] = [0, 0, 0];

export const COMMANDS = new Map<string, CommandSpec>(
  Object.entries({
    ...SERVER_COMMANDS,
    ...KEY_COMMANDS,
    ...KEYSPACE_COMMANDS,
    command: { arity: -1, flags: [], keys: none, run: (_c, a) => command(a) },
  }),
);

const NOAUTH = new ErrorReply('NOAUTH Authentication required.');

/** Commands that read or write keys: answered LOADING until the node is ready, as Redis does while it loads. */
const DATA_COMMANDS = new Set([...Object.keys(KEY_COMMANDS), ...Object.keys(KEYSPACE_COMMANDS)]);

/**
 * Whether a command is a line of an HTTP request (POST, Host:): a web page making the browser post
 * to the loopback port, whose body would be read as inline commands. Redis closes the connection
 * without running anything; so does the shell.
 */
export function crossProtocol(args: Buffer[]): boolean {
  const name = args[0]!.toString('latin1').toLowerCase();
  return name === 'post' || name === 'host:';
}

/** Runs one command; internal failures are answered as errors and reported to `internal`. */
export function dispatch(c: Ctx, args: Buffer[], internal: (err: unknown) => void = () => {}): Reply | Promise<Reply> {
  if (args.length === 0) return []; // a blank inline line: Redis answers nothing; the shell skips it
  const name = args[0]!.toString('latin1').toLowerCase();
  const spec = COMMANDS.get(name);
  // before anything else, even "unknown command": an unauthenticated client learns nothing
  if (!c.session.authed && spec?.noAuth !== true) return NOAUTH;
  if (spec === undefined) return unknown(name, args);
  if (spec.arity > 0 ? args.length !== spec.arity : args.length < -spec.arity) {
    return new ErrorReply(`ERR wrong number of arguments for '${name}' command`);
  }
  if (DATA_COMMANDS.has(name)) {
    // A bootstrapping node holds part of the keyspace: a GET would answer nil for a key that
    // exists, and a SET would write over versions it has not received yet.
    const loading = c.env.loading();
    if (loading !== null) return new ErrorReply(`LOADING ${loading}`);
  }
  const fail = (err: unknown) => errorReply(err, internal);
  const blind = spec.blind?.(args) === true;
  if (c.session.mustQueue(blind)) return c.session.later(() => spec.run(c, args), blind).catch(fail);
  try {
    const r = spec.run(c, args);
    return r instanceof Promise ? r.catch(fail) : r;
  } catch (err) {
    return fail(err);
  }
}

/** Redis's text: the name and the arguments as sent, quoted, each argument followed by a space, up to 128 bytes of them. */
function unknown(name: string, args: Buffer[]): ErrorReply {
  const refused = refusal(name);
  if (refused !== undefined) return new ErrorReply(refused);
  const parts: (string | Uint8Array)[] = ["ERR unknown command '", asSent(args[0]!), "', with args beginning with: "];
  let shown = 0;
  for (let i = 1; i < args.length && shown < 128; i++) {
    const a = asSent(args[i]!, 128 - shown);
    parts.push("'", a, "' ");
    shown += a.length + 3;
  }
  return new ErrorReply(quotingError(...parts).bytes!);
}

/** A client's mistake is answered with its message; anything else is also reported as internal. */
function errorReply(err: unknown, internal: (err: unknown) => void): ErrorReply {
  if (err instanceof CommandError) return new ErrorReply(err.bytes ?? err.message);
  if (err instanceof InvalidKeyError || err instanceof InvalidValueError || err instanceof InvalidTokenError) return new ErrorReply(`ERR ${err.message}`);
  internal(err);
  const msg = err instanceof Error ? err.message : String(err);
  return new ErrorReply(`ERR ${err instanceof ReplikvError ? '' : 'internal error: '}${msg}`);
}

/** COMMAND, COMMAND COUNT, COMMAND INFO name..., COMMAND LIST, COMMAND DOCS: enough for clients to start. */
function command(args: Buffer[]): Reply {
  const sub = args[1]?.toString('latin1').toUpperCase();
  const info = (name: string): Reply => {
    const s = COMMANDS.get(name);
    // as Redis 7: flags a set of status strings; ACL categories, tips, key specs and subcommands (sets) left empty
    const none = new SetReply([]);
    return s === undefined ? null : [name, s.arity, new SetReply(s.flags.map((f) => new Simple(f))), ...s.keys, none, none, none, none];
  };
  switch (sub) {
    case undefined:
      return [...COMMANDS.keys()].map(info);
    case 'COUNT':
      return COMMANDS.size;
    case 'LIST':
      return [...COMMANDS.keys()];
    case 'INFO':
      return args.length === 2 ? [...COMMANDS.keys()].map(info) : args.slice(2).map((a) => info(a.toString('latin1').toLowerCase()));
    case 'DOCS':
      return new MapReply([]);
    default:
      return new ErrorReply(quotingError("ERR unknown subcommand '", asSent(args[1]!), "'. Try COMMAND, COMMAND COUNT, INFO, LIST or DOCS.").bytes!);
  }
}
