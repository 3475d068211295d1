// Commands replikv will not run, each with why and what to do instead. replikv is multi-primary:
// every node takes writes at once, and concurrent writes to a key become siblings that merge
// later. A read-modify-write (INCR), a transaction (MULTI) or a script (EVAL) needs one node to
// serialize every write to its keys, which no node here does.

const RMW = 'is a read-modify-write, and replikv is multi-primary: two nodes could run it on the same key at once and one result would be lost (both read the same value). Read the value, compute, and SET it on one node, or keep one key per writer (e.g. a counter per node) and add them up when reading';
const TX = 'is a transaction, and replikv is multi-primary: no node can make a group of writes atomic or isolated across replicas that all take writes concurrently. Each command is applied on its own (MSET is atomic on the node that takes it)';
const SCRIPT = 'runs a script, and replikv is multi-primary: a script\'s reads and writes cannot be made atomic across replicas that all take writes concurrently. Run the commands from the client';
const TYPES = 'works on a Redis data type replikv does not have: replikv stores strings (bytes) only';

const REASONS: Record<string, string> = {};
const add = (names: string, why: string) => names.split(' ').forEach((n) => (REASONS[n] = why));
add('incr decr incrby decrby incrbyfloat append setrange getset getex msetnx lcs copy rename renamenx move', RMW);
add('multi exec discard watch unwatch', TX);
add('eval evalsha eval_ro evalsha_ro fcall fcall_ro function script', SCRIPT);
add('hset hget hgetall hdel hmset hmget hincrby lpush rpush lpop rpop lrange llen sadd srem smembers sismember scard zadd zrem zrange zscore zincrby xadd xread xrange pfadd pfcount setbit getbit bitcount', TYPES);
// Simpler cousins of what replikv does: said so, rather than "unknown".
REASONS.getset = `${RMW}; SET key value GET swaps on this node alone (not atomic across replicas)`;
REASONS.getex = 'is not supported: use GET, then EXPIRE or PERSIST';

/** The error for a refused command, or undefined when the name is not one of them. */
export function refusal(name: string): string | undefined {
  const why = REASONS[name];
  return why === undefined ? undefined : `ERR ${name.toUpperCase()} ${why}`;
}
