// The Redis protocol front end against Redis itself, in the same run: redis-benchmark (SET and GET,
// 100-byte values, 50 clients, without and with 16 commands pipelined) against one replikv daemon
// with durability relaxed and strict, and redis-server with appendfsync everysec and always.
// Target (issue 11): replikv relaxed at least 0.5x Redis everysec for SET and 0.7x for GET.
//
// The machine is shared: every target runs in each of ROUNDS rounds, in alternating order, and the
// best round counts. Beside requests/s, the server's CPU time per request (user + system, from
// /proc), which other load on the machine disturbs less than the wall clock.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Fleet } from '../test/helpers/daemons.js';
import { respPort } from '../test/helpers/redis.js';
import { ensureRedis, RedisPair } from './redis-sync.js';

const REQUESTS = Number(process.env.BENCH_RESP_REQUESTS ?? 20_000);
const PIPELINED_REQUESTS = REQUESTS * 3;
const KEYSPACE = 100_000;
const ROUNDS = Number(process.env.BENCH_RESP_ROUNDS ?? 2);
const TESTS = ['SET', 'GET', 'SET -P 16', 'GET -P 16'] as const;
type Test = (typeof TESTS)[number];

interface Target {
  name: string;
  port: number;
  pid: number;
}
/** Per test: the best requests/s over the rounds, and the least CPU µs per request. */
type Result = Record<Test, { rps: number; cpuUs: number }>;

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** One redis-benchmark run of SET and GET against a target; rates and the server's CPU per request. */
function run(t: Target, pipeline: number): { SET: number; GET: number; cpuUs: number } {
  const n = pipeline > 1 ? PIPELINED_REQUESTS : REQUESTS;
  const args = ['-h', '127.0.0.1', '-p', String(t.port), '-t', 'set,get', '-d', '100', '-c', '50', '-n', String(n), '-r', String(KEYSPACE), '-P', String(pipeline), '--csv'];
  const cpu0 = cpuSeconds(t.pid);
  const csv = execFileSync('redis-benchmark', args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  const cpuUs = ((cpuSeconds(t.pid) - cpu0) * 1e6) / (2 * n);
  const rate = (test: string) => {
    const m = new RegExp(`^"${test}","([\\d.]+)"`, 'm').exec(csv);
    if (m === null) throw new Error(`redis-benchmark printed no ${test} line:\n${csv.slice(0, 2000)}`);
    return Number(m[1]);
  };
  return { SET: rate('SET'), GET: rate('GET'), cpuUs };
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

export async function benchRespProtocol(): Promise<void> {
  console.log(`\n# Redis protocol: redis-benchmark -t set,get -d 100 -c 50 -r ${fmt(KEYSPACE)} (-n ${fmt(REQUESTS)}; with -P 16: -n ${fmt(PIPELINED_REQUESTS)}), best of ${ROUNDS} rounds`);
  if (!ensureRedis()) return void console.log('skipped: redis-server and redis-benchmark could not be installed');
  const fleet = new Fleet();
  const redis = new RedisPair();
  try {
    const targets: Target[] = [];
    for (const durability of ['relaxed', 'strict']) {
      const d = await fleet.start({ extra: ['--resp', '127.0.0.1:0', '--durability', durability] });
      targets.push({ name: `replikv ${durability}`, port: await respPort(d), pid: d.child.proc.pid! });
    }
    for (const fsync of ['everysec', 'always']) {
      const r = await redis.standalone(['--appendonly', 'yes', '--appendfsync', fsync]);
      targets.push({ name: `redis appendfsync ${fsync}`, ...r });
    }
    const results = new Map<string, Result>(targets.map((t) => [t.name, Object.fromEntries(TESTS.map((k) => [k, { rps: 0, cpuUs: Infinity }])) as Result]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
        const r = results.get(t.name)!;
        for (const pipeline of [1, 16]) {
          const got = run(t, pipeline);
          for (const cmd of ['SET', 'GET'] as const) {
            const k: Test = pipeline > 1 ? `${cmd} -P 16` : cmd;
            r[k].rps = Math.max(r[k].rps, got[cmd]);
            r[k].cpuUs = Math.min(r[k].cpuUs, got.cpuUs); // SET and GET of one run together
          }
        }
      }
    }
    const w = 28;
    console.log(`${'requests/s'.padEnd(w)}${TESTS.map((k) => k.padStart(12)).join('')}   server CPU µs/request (SET+GET): plain, -P 16`);
    for (const t of targets) {
      const r = results.get(t.name)!;
      console.log(`${t.name.padEnd(w)}${TESTS.map((k) => fmt(r[k].rps).padStart(12)).join('')}   ${r.SET.cpuUs.toFixed(1)}, ${r['SET -P 16'].cpuUs.toFixed(1)}`);
    }
    const ratio = (a: string, b: string, label: string) => {
      const x = results.get(a)!;
      const y = results.get(b)!;
      console.log(`${label.padEnd(w)}${TESTS.map((k) => `${(x[k].rps / y[k].rps).toFixed(2)}x`.padStart(12)).join('')}`);
    };
    ratio('replikv relaxed', 'redis appendfsync everysec', 'relaxed / redis everysec');
    ratio('replikv strict', 'redis appendfsync always', 'strict / redis always');
    ratio('replikv relaxed', 'redis appendfsync always', 'relaxed / redis always');
    console.log('target: replikv relaxed / redis everysec at least 0.5x for SET and 0.7x for GET');
  } finally {
    await fleet.cleanup();
    await redis.cleanup();
  }
}
