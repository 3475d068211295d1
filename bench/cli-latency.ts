// CLI latency: the wall time of one `replikv get` / `replikv put` call (a new Node process each,
// against a running daemon; `bin/replikv` is the launcher npm installs as the command, the other
// rows run node on the built cli.js) next to one `redis-cli PING` (a new process against a running
// redis-server), and `node -e ''` (Node's own start, the floor of any CLI written for Node).
// Medians of CLI_CALLS calls each, run interleaved so that the machine's load hits all alike.
// CLI_BASE=PATH/dist/src/cli.js (another checkout's build) adds its `get`, for a before/after in one run.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { createServer } from 'node:net';
import { Fleet } from '../test/helpers/daemons.js';
import { CLI } from '../test/helpers/daemons.js';
import { ensureRedis } from './redis-sync.js';

const LAUNCHER = resolve(dirname(CLI), '../../bin/replikv');
const CALLS = Number(process.env.CLI_CALLS ?? 30);
const BASE = process.env.CLI_BASE;

function wallMs(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A redis-server to PING, or undefined (and a line saying so) when redis cannot be installed. */
async function redis(): Promise<{ port: number; stop: () => void } | undefined> {
  if (!ensureRedis()) return undefined;
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (spawnSync('redis-cli', ['-p', String(port), 'PING']).stdout?.toString().trim() !== 'PONG') {
    if (Date.now() > deadline) throw new Error('redis-server did not answer PING within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, stop: () => proc.kill() };
}

export async function benchCliLatency(): Promise<void> {
  console.log(`\n== CLI latency: ${CALLS} calls each, new process per call (median wall ms) ==`);
  const fleet = new Fleet();
  const r = await redis();
  try {
    const d = await fleet.start();
    const dir = ['--data-dir', d.dataDir];
    execFileSync('node', [CLI, 'put', 'bench-key', 'v', ...dir]);
    const plain = { ...process.env };
    delete plain.NODE_EXTRA_CA_CERTS;
    const t: Record<string, number[]> = { 'get (bin/replikv, as installed)': [], get: [], put: [], node: [], ping: [], ...(process.env.NODE_EXTRA_CA_CERTS ? { 'get, no NODE_EXTRA_CA_CERTS': [], 'node, no NODE_EXTRA_CA_CERTS': [] } : {}) };
    const base = BASE === undefined ? undefined : { get: [] as number[], 'get, no NODE_EXTRA_CA_CERTS': [] as number[] };
    for (let i = 0; i < CALLS; i++) {
      t['get (bin/replikv, as installed)']!.push(wallMs(LAUNCHER, ['get', 'bench-key', ...dir]));
      t.get!.push(wallMs('node', [CLI, 'get', 'bench-key', ...dir]));
      t.put!.push(wallMs('node', [CLI, 'put', `bench-key-${i}`, 'v', ...dir]));
      t.node!.push(wallMs('node', ['-e', '']));
      if (r !== undefined) t.ping!.push(wallMs('redis-cli', ['-p', String(r.port), 'PING']));
      if (process.env.NODE_EXTRA_CA_CERTS) {
        t['get, no NODE_EXTRA_CA_CERTS']!.push(wallMs('node', [CLI, 'get', 'bench-key', ...dir], plain));
        t['node, no NODE_EXTRA_CA_CERTS']!.push(wallMs('node', ['-e', ''], plain));
      }
      if (base !== undefined) {
        base.get.push(wallMs('node', [BASE!, 'get', 'bench-key', ...dir]));
        if (process.env.NODE_EXTRA_CA_CERTS) base['get, no NODE_EXTRA_CA_CERTS'].push(wallMs('node', [BASE!, 'get', 'bench-key', ...dir], plain));
      }
    }
    const ping = r === undefined ? undefined : median(t.ping!);
    if (r === undefined) console.log('redis-cli PING: skipped (redis-tools could not be installed)');
    if (base !== undefined) for (const [name, xs] of Object.entries(base)) t[`${name} (CLI_BASE)`] = xs;
    for (const [name, xs] of Object.entries(t)) {
      if (xs.length === 0) continue;
      const m = median(xs);
      const label = name === 'ping' ? 'redis-cli PING' : name.startsWith('node') ? name.replace('node', "node -e ''") : `replikv ${name}`;
      console.log(`${label.padEnd(48)} ${m.toFixed(1).padStart(7)} ms${ping === undefined || name === 'ping' ? '' : `  (x${(m / ping).toFixed(1)} redis-cli PING)`}`);
    }
  } finally {
    r?.stop();
    await fleet.cleanup();
  }
}
