// Commands over the whole keyspace (SCAN, KEYS, DBSIZE) and WAIT.

import { WriteConcernError } from '../errors.js';
import { CommandError, intArg, SYNTAX, word } from './args.js';
import type { CommandSpec, Ctx } from './command.js';
import { globMatch, literalPrefix } from './glob.js';
import type { Reply } from './reply.js';
import type { Status } from '../control/api.js';

/** Most keys one SCAN call looks at (COUNT is a hint, as in Redis). */
export const MAX_SCAN_COUNT = 10_000;
/** Most keys KEYS answers: beyond, it refuses and points to SCAN (the reply is built in memory). */
export const MAX_KEYS_REPLY = 100_000;
const KEYS_PAGE = 1000;
/** WAIT with timeout 0 ("forever") gives up after this long and answers the count reached, like a timeout. */
export const WAIT_FOREVER_MS = 60_000;

/** A cursor as Redis reads it (strtoul): digits with an optional sign ("" and "00" are 0), within 64 bits. */
function cursorArg(raw: Buffer): bigint {
  const s = raw.toString('latin1');
  if (!/^([+-]?\d+)?$/.test(s)) throw new CommandError('ERR invalid cursor');
  const n = s === '' ? 0n : BigInt(s);
  if (n > 2n ** 64n - 1n || n < -(2n ** 64n - 1n)) throw new CommandError('ERR invalid cursor');
  return n < 0n ? 2n ** 64n + n : n; // strtoul wraps a negative number
}

/** DBSIZE as Redis counts: keys with a lasting value and keys with a TTL (INFO keyspace's keys). */
function dbSize(s: Status): number {
  return s.keys + (s.expiringKeys ?? 0);
}

/** SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]: cursors are per connection ("0" starts and ends). */
function scan(c: Ctx, args: Buffer[]): Reply {
  const cursor = cursorArg(args[1]!);
  let after: string | undefined;
  if (cursor !== 0n) {
    after = cursor <= BigInt(Number.MAX_SAFE_INTEGER) ? c.session.cursorKey(Number(cursor)) : undefined;
    if (after === undefined) throw new CommandError('ERR invalid cursor: unknown on this connection (SCAN cursors belong to the connection that got them, which keeps its last 64)');
  }
  let match: string | null = null;
  let count = 10;
  let type: string | null = null;
  for (let i = 2; i < args.length; i += 2) {
    const w = word(args[i]);
    const v = args[i + 1];
    if (v === undefined) throw new CommandError(SYNTAX);
    if (w === 'MATCH') match = v.toString('utf8');
    else if (w === 'COUNT') {
      count = intArg(v);
      if (count < 1) throw new CommandError(SYNTAX);
    } else if (w === 'TYPE') type = v.toString('latin1').toLowerCase();
    else throw new CommandError(SYNTAX);
  }
  // every replikv value is a string
  if (type !== null && type !== 'string') return ['0', []];
  const prefix = match === null ? '' : literalPrefix(match);
  const page = c.env.api.scan({ prefix, after, limit: Math.min(count, MAX_SCAN_COUNT) });
  const keys = page.items.map((i) => i.key).filter((k) => match === null || globMatch(match, k));
  return [page.cursor === null ? '0' : String(c.session.saveCursor(page.cursor)), keys];
}

/** KEYS pattern: pages through the matching prefix, letting other clients in between pages. */
async function keys(c: Ctx, args: Buffer[]): Promise<Reply> {
  const pattern = args[1]!.toString('utf8');
  const prefix = literalPrefix(pattern);
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = c.env.api.scan({ prefix, after, limit: KEYS_PAGE });
    for (const { key } of page.items) if (globMatch(pattern, key)) out.push(key);
    if (out.length > MAX_KEYS_REPLY) throw new CommandError(`ERR KEYS matches more than ${MAX_KEYS_REPLY} keys: use SCAN with MATCH`);
    if (page.cursor === null) return out;
    after = page.cursor;
    await new Promise((r) => setImmediate(r));
  }
}

/** WAIT numreplicas timeout: how many replicas besides this one hold the connection's last write. */
async function wait(c: Ctx, args: Buffer[]): Promise<Reply> {
  // as Redis: numreplicas 0 or less answers at once; the timeout has its own errors
  const n = Math.max(0, intArg(args[1]!));
  const t = intArg(args[2]!, 'ERR timeout is not an integer or out of range');
  if (t < 0) throw new CommandError('ERR timeout is negative');
  if (t > 2 ** 63 - c.env.now()) throw new CommandError('ERR timeout is out of range'); // Redis: past the end of its clock
  const timeoutMs = t === 0 ? WAIT_FOREVER_MS : Math.min(t, WAIT_FOREVER_MS);
  try {
    return (await c.env.api.awaitReplicas(c.session.lastWrite, { w: n + 1, timeoutMs })) - 1;
  } catch (err) {
    if (err instanceof WriteConcernError) return err.acked - 1; // the count reached, as Redis answers
    throw err;
  }
}

const none: [number, number, number] = [0, 0, 0];

export const KEYSPACE_COMMANDS: Record<string, CommandSpec> = {
  scan: { arity: -2, flags: ['readonly'], keys: none, run: scan },
  keys: { arity: 2, flags: ['readonly'], keys: none, run: keys },
  dbsize: { arity: 1, flags: ['readonly', 'fast'], keys: none, run: (c) => dbSize(c.env.api.status()) },
  wait: { arity: 3, flags: [], keys: none, run: wait },
};
