// Daemon benchmark: three local daemons (real processes, real libp2p over 127.0.0.1).
//  - write-to-visible latency on a peer, push and pull mode: time from a put on node 1 until a GET
//    on node 2 returns the value (polled back-to-back over the control socket, ~0.1-0.3 ms a poll)
//  - import throughput: 100,000 keys through `replikv import`, then until all three nodes agree
//  - idle gossip: bytes on the wire (the kernel's per-socket TCP counters, so Noise, yamux and
//    multistream overhead included) per node per second, with no writes, default 1 s interval
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startDaemon } from '../src/daemon.js';
import { CLI, Fleet, untilConnected, untilConverged, type TestDaemon } from '../test/helpers/daemons.js';
import { run } from '../test/helpers/process.js';

const LATENCY_SAMPLES = { push: 300, pull: 40 };
const IMPORT_KEYS = Number(process.env.BENCH_IMPORT_KEYS ?? 100_000);
const IDLE_SECONDS = 10;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function latency(a: TestDaemon, b: TestDaemon, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const key = `lat/${Date.now()}/${i}`;
    const t0 = performance.now();
    await a.client.put(key, Buffer.from('x'));
    while ((await b.client.get(key)) === undefined) {
      if (performance.now() - t0 > 30_000) throw new Error(`write ${key} not visible on the peer after 30 s`);
    }
    out.push(performance.now() - t0);
  }
  return out;
}

/** Total bytes sent over established TCP connections that touch any of `ports`. */
function tcpBytesSent(ports: Set<number>): number {
  const text = execFileSync('ss', ['-tinH', 'state', 'established'], { encoding: 'utf8' });
  let total = 0;
  let touches = false;
  for (const line of text.split('\n')) {
    const ends = /\S+:(\d+)\s+\S+:(\d+)\s*$/.exec(line.trim());
    if (ends !== null && !line.includes('bytes_sent')) {
      touches = ports.has(Number(ends[1])) || ports.has(Number(ends[2]));
      continue;
    }
    const sent = /bytes_sent:(\d+)/.exec(line);
    if (touches && sent !== null) total += Number(sent[1]);
  }
  return total;
}

function ensureSs(): void {
  try {
    execFileSync('ss', ['-V'], { stdio: 'ignore' });
  } catch {
    execFileSync('bash', ['-c', 'apt-get update -qq && apt-get install -y -qq iproute2'], { stdio: 'inherit' });
  }
}

/**
 * Replication alone: two daemons in this process (real libp2p TCP between them, real LMDB), from
 * the origin's write acknowledgement to the value being readable on the peer. Leaves out the
 * control socket round trip and the process wake-ups the end-to-end figure includes.
 */
async function replicationOnly(n: number): Promise<number[]> {
  const dirs = [mkdtempSync(join(tmpdir(), 'rkv-b-')), mkdtempSync(join(tmpdir(), 'rkv-b-'))];
  const log = pino({ level: 'warn' });
  const config = (dataDir: string, bootstrap: string[], swarmKey?: string) => loadConfig(undefined, { dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], mode: 'push', bootstrap, swarmKey });
  const a = await startDaemon(config(dirs[0]!, []), log);
  // b joins a's private network with the swarm key a made in its data directory.
  const b = await startDaemon(config(dirs[1]!, [a.api.status().addrs[0]!], join(dirs[0]!, 'swarm.key')), log);
  try {
    const deadline = Date.now() + 30_000;
    while (!b.api.status().peers.some((p) => p.state === 'alive') || !a.api.status().peers.some((p) => p.state === 'alive')) {
      if (Date.now() > deadline) throw new Error('the two in-process daemons did not connect');
      await new Promise((r) => setTimeout(r, 20));
    }
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const key = `rep/${i}`;
      await a.api.write([{ type: 'put', key, value: Buffer.from('x') }]);
      const t0 = performance.now();
      while (b.api.read(key) === undefined) {
        if (performance.now() - t0 > 30_000) throw new Error(`${key} not visible on the peer after 30 s`);
        await new Promise((r) => setImmediate(r));
      }
      out.push(performance.now() - t0);
    }
    return out;
  } finally {
    await b.stop();
    await a.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

export async function benchDaemons(): Promise<void> {
  ensureSs();
  console.log('\n# daemons: three local nodes on 127.0.0.1');
  const rows: [string, string][] = [];
  const fleet = new Fleet();
  try {
    for (const mode of ['push', 'pull'] as const) {
      const nodes = await fleet.cluster(3, { mode, gossipIntervalMs: 1000 });
      await untilConnected(nodes);
      const xs = await latency(nodes[0]!, nodes[1]!, LATENCY_SAMPLES[mode]);
      rows.push([`end to end: put on node 1 until a GET on node 2 sees it, ${mode} mode (${xs.length} writes)`, `p50 ${pct(xs, 50).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms`]);
      await fleet.cleanup();
    }

    const rep = await replicationOnly(300);
    rows.push(['replication alone, push (2 daemons in one process, ack to visible)', `p50 ${pct(rep, 50).toFixed(2)} ms, p99 ${pct(rep, 99).toFixed(2)} ms`]);

    const nodes = await fleet.cluster(3, { mode: 'hybrid', gossipIntervalMs: 1000 });
    await untilConnected(nodes);
    const file = join(fleet.tmpdir(), 'import.ndjson');
    writeFileSync(file, Array.from({ length: IMPORT_KEYS }, (_, i) => JSON.stringify({ key: `bulk/${String(i).padStart(8, '0')}`, value: 'v'.repeat(100) })).join('\n') + '\n');
    const t0 = performance.now();
    const imp = run([CLI, 'import', file, '--data-dir', nodes[0]!.dataDir]);
    const { code } = await imp.exited;
    if (code !== 0) throw new Error(`import failed: ${imp.stderr()}`);
    const local = (performance.now() - t0) / 1000;
    await untilConverged(nodes, IMPORT_KEYS, 300_000);
    const everywhere = (performance.now() - t0) / 1000;
    rows.push([
      `import of ${IMPORT_KEYS.toLocaleString('en-US')} keys x 100 B (hybrid)`,
      `${Math.round(IMPORT_KEYS / local).toLocaleString('en-US')} keys/s on the importing node (${local.toFixed(2)} s); on all three after ${everywhere.toFixed(2)} s`,
    ]);

    const ports = new Set(nodes.map((n) => Number(/\/tcp\/(\d+)/.exec(n.addr)![1])));
    const before = tcpBytesSent(ports);
    const start = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000)); // measuring idle traffic over a fixed window
    const perNode = (tcpBytesSent(ports) - before) / ((performance.now() - start) / 1000) / nodes.length;
    rows.push([`idle gossip (hybrid, 1 s interval, fanout 1, ${IDLE_SECONDS} s window)`, `${Math.round(perNode)} bytes/s per node sent (TCP payload)`]);
  } finally {
    await fleet.cleanup();
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}
