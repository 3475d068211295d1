// The Redis protocol front end against Redis itself, in the same run: redis-benchmark (SET and GET,
// 100-byte values, 50 clients, without and with 16 commands pipelined) against one replikv daemon
// with durability relaxed and strict, and redis-server with appendfsync everysec and always.
// Target (issue 11): replikv relaxed at least 0.5x Redis everysec for SET and 0.7x for GET.
import { execFileSync } from 'node:child_process';
import { Fleet } from '../test/helpers/daemons.js';
import { respPort } from '../test/helpers/redis.js';
import { ensureRedis, RedisPair } from './redis-sync.js';

const REQUESTS = Number(process.env.BENCH_RESP_REQUESTS ?? 20_000);
const PIPELINED_REQUESTS = REQUESTS * 3;
const KEYSPACE = 100_000;

type Rates = { set: number; get: number };

/** redis-benchmark's SET and GET rates (requests/s) against 127.0.0.1:port. */
function redisBenchmark(port: number, pipeline: number): Rates {
  const n = pipeline > 1 ? PIPELINED_REQUESTS : REQUESTS;
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', 'set,get', '-d', '100', '-c', '50', '-n', String(n), '-r', String(KEYSPACE), '-P', String(pipeline), '--csv'];
  const csv = execFileSync('redis-benchmark', args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  const rate = (test: string) => {
    const m = new RegExp(`^"${test}","([\\d.]+)"`, 'm').exec(csv);
    if (m === null) throw new Error(`redis-benchmark printed no ${test} line:\n${csv.slice(0, 2000)}`);
    return Number(m[1]);
  };
  return { set: rate('SET'), get: rate('GET') };
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

export async function benchRespProtocol(): Promise<void> {
  console.log(`\n# Redis protocol: redis-benchmark -t set,get -d 100 -c 50 -r ${fmt(KEYSPACE)} (-n ${fmt(REQUESTS)}; with -P 16: -n ${fmt(PIPELINED_REQUESTS)})`);
  if (!ensureRedis()) return void console.log('skipped: redis-server and redis-benchmark could not be installed');
  const targets: [string, () => Promise<number>][] = [];
  const fleet = new Fleet();
  const redis = new RedisPair();
  try {
    for (const durability of ['relaxed', 'strict']) {
      targets.push([`replikv ${durability}`, async () => respPort(await fleet.start({ extra: ['--resp', '127.0.0.1:0', '--durability', durability] }))]);
    }
    targets.push(['redis appendfsync everysec', () => redis.standalone(['--appendonly', 'yes', '--appendfsync', 'everysec'])]);
    targets.push(['redis appendfsync always', () => redis.standalone(['--appendonly', 'yes', '--appendfsync', 'always'])]);
    const results = new Map<string, { plain: Rates; piped: Rates }>();
    for (const [name, start] of targets) {
      const port = await start();
      const plain = redisBenchmark(port, 1);
      const piped = redisBenchmark(port, 16);
      results.set(name, { plain, piped });
      console.log(`${name.padEnd(28)} SET ${fmt(plain.set).padStart(9)}/s  GET ${fmt(plain.get).padStart(9)}/s   -P 16: SET ${fmt(piped.set).padStart(9)}/s  GET ${fmt(piped.get).padStart(9)}/s`);
    }
    const ratio = (a: string, b: string) => {
      const x = results.get(a)!;
      const y = results.get(b)!;
      const r = (p: number, q: number) => `${(p / q).toFixed(2)}x`;
      return `SET ${r(x.plain.set, y.plain.set)}  GET ${r(x.plain.get, y.plain.get)}   -P 16: SET ${r(x.piped.set, y.piped.set)}  GET ${r(x.piped.get, y.piped.get)}`;
    };
    console.log(`ratio replikv relaxed / redis everysec (target: SET >= 0.5x, GET >= 0.7x)  ${ratio('replikv relaxed', 'redis appendfsync everysec')}`);
    console.log(`ratio replikv strict / redis always                                          ${ratio('replikv strict', 'redis appendfsync always')}`);
    console.log(`ratio replikv relaxed / redis always                                         ${ratio('replikv relaxed', 'redis appendfsync always')}`);
  } finally {
    await fleet.cleanup();
    await redis.cleanup();
  }
}
