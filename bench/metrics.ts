// Metrics scrape cost: real daemons (processes, libp2p over 127.0.0.1), one scraped over HTTP
// back to back while the cluster gossips, with 2 and with 10 nodes: time per GET /metrics (client
// side, so HTTP included) and the size of the text. BENCH_METRICS_NODES=2,10 picks the sizes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fleet, untilConnected, untilConverged } from '../test/helpers/daemons.js';
import { httpGet, metricsAddr } from '../test/helpers/metrics.js';

const SIZES = (process.env.BENCH_METRICS_NODES ?? '2,10').split(',').map(Number);
const SCRAPES = 200;
const KEYS = 10_000;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function measure(nodes: number): Promise<void> {
  const fleet = new Fleet();
  try {
    const first = await fleet.start({ extra: ['--metrics', '127.0.0.1:0'], gossipIntervalMs: 1000 });
    const rest = [];
    for (let i = 1; i < nodes; i++) rest.push(await fleet.start({ bootstrap: [first.addr], gossipIntervalMs: 1000 }));
    const all = [first, ...rest];
    await untilConnected(all, 120_000);
    const file = join(fleet.tmpdir(), 'keys.ndjson');
    writeFileSync(file, Array.from({ length: KEYS }, (_, i) => JSON.stringify({ key: `m/${i}`, value: 'v'.repeat(100) })).join('\n'));
    await first.cli('import', file);
    await untilConverged(all, KEYS, 180_000);
    const addr = await metricsAddr(first);
    const times: number[] = [];
    let bytes = 0;
    let series = 0;
    for (let i = 0; i < SCRAPES; i++) {
      const t0 = performance.now();
      const r = await httpGet(addr, '/metrics');
      times.push(performance.now() - t0);
      bytes = Buffer.byteLength(r.body);
      series = r.body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
    }
    const replikv = (await httpGet(addr, '/metrics')).body.split('\n').filter((l) => l.startsWith('replikv_')).length;
    console.log(
      `metrics scrape, ${nodes} nodes (${nodes - 1} peers), ${KEYS} keys: ${bytes} bytes, ${series} samples (${replikv} replikv_), ` +
        `p50 ${pct(times, 50).toFixed(2)} ms, p95 ${pct(times, 95).toFixed(2)} ms, max ${Math.max(...times).toFixed(2)} ms over ${SCRAPES} scrapes`,
    );
  } finally {
    await fleet.cleanup();
  }
}

export async function benchMetrics(): Promise<void> {
  for (const n of SIZES) await measure(n);
}
