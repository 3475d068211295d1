// The string commands over the replicated keyspace. Conditions (SET NX/XX/GET, DEL's count,
// EXPIRE's flags) are checked against this node's view, not atomically across the cluster:
// another node may take a concurrent write to the same key, and both then stay as siblings.

import type { NodeApi } from '../control/api.js';
import { checkValue } from '../core/validate.js';
import type { WriteOp } from '../store/keyspace.js';
import { CommandError, expireAllowed, expiryOf, intArg, keyArg, parseExpireFlags, parseSetOptions, word, type ExpiryUnit } from './args.js';
import type { CommandSpec, Ctx } from './command.js';
import { OK, Simple, type Reply } from './reply.js';

const W = ['write'];
const R = ['readonly', 'fast'];
const oneKey: [number, number, number] = [1, 1, 1];
const allKeys: [number, number, number] = [1, -1, 1];

/** The resolved value, or undefined when the key reads as absent. */
export function valueOf(api: NodeApi, key: string): Uint8Array | undefined {
  if (api.get !== undefined) return api.get(key);
  return api.read(key)?.value ?? undefined;
}

/** The key's expiry as NodeApi.expiryOf says; one already past at `now` is absent too. */
function liveExpiry(api: NodeApi, key: string, now: number): number | null | undefined {
  const at = api.expiryOf(key);
  return at !== null && at !== undefined && at <= now ? undefined : at;
}

const write = (c: Ctx, ops: WriteOp[]) => c.session.write((o) => c.env.write(o), ops);

/** A value within maxValueBytes (checked here: a write batched with others may not fail them). */
const valueArg = (c: Ctx, raw: Buffer) => checkValue(raw, c.env.maxValueBytes);

/** SET, and SETEX / PSETEX / SETNX through it (`command` names the one errors name). */
function set(c: Ctx, args: Buffer[], command = 'set'): Reply | Promise<Reply> {
  const key = keyArg(args[1]!);
  const now = c.env.now();
  const o = parseSetOptions(args.slice(3), now, command);
  const api = c.env.api;
  const old = o.cond !== null || o.get ? valueOf(api, key) : undefined;
  if (o.cond === 'NX' && old !== undefined) return o.get ? old : null;
  if (o.cond === 'XX' && old === undefined) return null;
  const expireAt = o.expire === 'keep' ? (liveExpiry(api, key, now) ?? undefined) : (o.expire ?? undefined);
  // An EXAT/PXAT already past sets a value that is gone at once: Redis deletes the key.
  const op: WriteOp = expireAt !== undefined && expireAt <= now ? { type: 'del', key } : { type: 'put', key, value: valueArg(c, args[2]!), ...(expireAt === undefined ? {} : { expireAt }) };
  return write(c, [op]).then(() => (o.get ? (old ?? null) : OK));
}

/** SETEX key seconds value, PSETEX key ms value: SET key value EX|PX time, which older clients still send. */
const setWithExpiry = (unit: 'EX' | 'PX', command: string) => (c: Ctx, a: Buffer[]) => set(c, [a[0]!, a[1]!, a[3]!, Buffer.from(unit), a[2]!], command);

/** SETNX key value: SET key value NX, answered 1 (set) or 0 (the key held a value on this node). */
function setnx(c: Ctx, a: Buffer[]): Reply | Promise<Reply> {
  const r = set(c, [a[0]!, a[1]!, a[2]!, Buffer.from('NX')]);
  const answer = (v: Reply) => (v === null ? 0 : 1);
  return r instanceof Promise ? r.then(answer) : answer(r);
}

/** SET without NX, XX, GET or KEEPTTL reads nothing. */
const setIsBlind = (args: Buffer[]) => {
  for (let i = 3; i < args.length; i++) {
    const w = word(args[i]);
    if (w === 'NX' || w === 'XX' || w === 'GET' || w === 'KEEPTTL') return false;
  }
  return true;
};

function getdel(c: Ctx, args: Buffer[]): Reply | Promise<Reply> {
  const key = keyArg(args[1]!);
  const old = valueOf(c.env.api, key);
  if (old === undefined) return null;
  return write(c, [{ type: 'del', key }]).then(() => old);
}

function mset(c: Ctx, args: Buffer[]): Reply | Promise<Reply> {
  if (args.length % 2 === 0) throw new CommandError("ERR wrong number of arguments for 'mset' command");
  const ops: WriteOp[] = [];
  for (let i = 1; i < args.length; i += 2) ops.push({ type: 'put', key: keyArg(args[i]!), value: valueArg(c, args[i + 1]!) });
  return write(c, ops).then(() => OK);
}

/** DEL and UNLINK: deletes the keys that read as present here, and counts them. */
function del(c: Ctx, args: Buffer[]): Reply | Promise<Reply> {
  const keys = new Set(args.slice(1).map(keyArg));
  const ops: WriteOp[] = [];
  for (const key of keys) if (valueOf(c.env.api, key) !== undefined) ops.push({ type: 'del', key });
  if (ops.length === 0) return 0;
  return write(c, ops).then(() => ops.length);
}

function exists(c: Ctx, args: Buffer[]): Reply {
  let n = 0;
  for (const raw of args.slice(1)) if (valueOf(c.env.api, keyArg(raw)) !== undefined) n++;
  return n;
}

/** EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX|XX|GT|LT]. */
const expire =
  (unit: ExpiryUnit, name: string) =>
  (c: Ctx, args: Buffer[]): Reply | Promise<Reply> => {
    const key = keyArg(args[1]!);
    const now = c.env.now();
    // Redis's order: the flags, then the time, then the key (a bad flag is an error on a missing key too)
    const flags = parseExpireFlags(args.slice(3));
    const at = expiryOf(unit, intArg(args[2]!), now, name, false);
    const current = liveExpiry(c.env.api, key, now);
    if (current === undefined || !expireAllowed(flags, current, at)) return 0;
    // A time already past deletes the key, as in Redis.
    if (at <= now) return write(c, [{ type: 'del', key }]).then(() => 1);
    return c.session.track(c.env.api.expire(key, at)).then((r) => (r === null ? 0 : 1));
  };

const ttl =
  (ms: boolean) =>
  (c: Ctx, args: Buffer[]): Reply => {
    const now = c.env.now();
    const at = liveExpiry(c.env.api, keyArg(args[1]!), now);
    if (at === undefined) return -2;
    if (at === null) return -1;
    return ms ? at - now : Math.floor((at - now + 500) / 1000); // rounded as Redis rounds it
  };

function persist(c: Ctx, args: Buffer[]): Reply | Promise<Reply> {
  const key = keyArg(args[1]!);
  const current = liveExpiry(c.env.api, key, c.env.now());
  if (current === undefined || current === null) return 0;
  return c.session.track(c.env.api.expire(key, null)).then((r) => (r === null ? 0 : 1));
}

/** RKV.SIBLINGS key: every concurrent value the key holds (null for a concurrent delete); GET answers the resolved one. */
function siblings(c: Ctx, args: Buffer[]): Reply {
  const r = c.env.api.read(keyArg(args[1]!));
  return r === undefined ? [] : r.siblings.map((s) => s.value);
}

export const KEY_COMMANDS: Record<string, CommandSpec> = {
  get: { arity: 2, flags: R, keys: oneKey, run: (c, a) => valueOf(c.env.api, keyArg(a[1]!)) ?? null },
  set: { arity: -3, flags: W, keys: oneKey, run: set, blind: setIsBlind },
  setex: { arity: 4, flags: W, keys: oneKey, run: setWithExpiry('EX', 'setex'), blind: () => true },
  psetex: { arity: 4, flags: W, keys: oneKey, run: setWithExpiry('PX', 'psetex'), blind: () => true },
  setnx: { arity: 3, flags: W, keys: oneKey, run: setnx },
  getdel: { arity: 2, flags: W, keys: oneKey, run: getdel },
  mget: { arity: -2, flags: R, keys: allKeys, run: (c, a) => a.slice(1).map((k) => valueOf(c.env.api, keyArg(k)) ?? null) },
  mset: { arity: -3, flags: W, keys: [1, -1, 2], run: mset, blind: () => true },
  del: { arity: -2, flags: W, keys: allKeys, run: del },
  unlink: { arity: -2, flags: W, keys: allKeys, run: del },
  exists: { arity: -2, flags: R, keys: allKeys, run: exists },
  expire: { arity: -3, flags: W, keys: oneKey, run: expire('EX', 'expire') },
  pexpire: { arity: -3, flags: W, keys: oneKey, run: expire('PX', 'pexpire') },
  expireat: { arity: -3, flags: W, keys: oneKey, run: expire('EXAT', 'expireat') },
  pexpireat: { arity: -3, flags: W, keys: oneKey, run: expire('PXAT', 'pexpireat') },
  ttl: { arity: 2, flags: R, keys: oneKey, run: ttl(false) },
  pttl: { arity: 2, flags: R, keys: oneKey, run: ttl(true) },
  persist: { arity: 2, flags: W, keys: oneKey, run: persist },
  type: { arity: 2, flags: R, keys: oneKey, run: (c, a) => new Simple(valueOf(c.env.api, keyArg(a[1]!)) === undefined ? 'none' : 'string') },
  strlen: { arity: 2, flags: R, keys: oneKey, run: (c, a) => valueOf(c.env.api, keyArg(a[1]!))?.length ?? 0 },
  'rkv.siblings': { arity: 2, flags: R, keys: oneKey, run: siblings },
};
