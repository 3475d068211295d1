// What signing and MACs cost (issue 9: signed replica heads, evidence for claims): ed25519 sign
// and verify of a 40-byte message with node:crypto, and HMAC-SHA256 over 1 KiB. Each is timed in
// several slices of about SLICE_MS of wall time; the median slice gives ops/s, the slowest and
// fastest the noise. Each slice is also timed in this process's CPU time, which a machine shared
// with other work disturbs less than the wall clock (time spent descheduled is not counted).
// `npm run bench -- crypto` prints it alone; bench/compare.ts prints it after its A/B rounds.
import { createHmac, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';

const SLICE_MS = 300;
const SLICES = 5;

export interface OpRate {
  name: string;
  /** Median ops/s over the slices, and the slowest and fastest slice. */
  opsPerSec: number;
  minOpsPerSec: number;
  maxOpsPerSec: number;
  /** Microseconds per op at the median rate. */
  usPerOp: number;
  /** Median CPU microseconds per op (user + system of this process). */
  cpuUsPerOp: number;
}

function rate(name: string, op: () => unknown): OpRate {
  for (let i = 0; i < 200; i++) op(); // warm-up
  const slices: number[] = [];
  const cpuSlices: number[] = [];
  for (let s = 0; s < SLICES; s++) {
    let n = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < SLICE_MS) {
      for (let i = 0; i < 64; i++) op();
      n += 64;
      t = performance.now();
    }
    slices.push(n / ((t - t0) / 1000));
    const c = process.cpuUsage(c0);
    cpuSlices.push((c.user + c.system) / n);
  }
  slices.sort((a, b) => a - b);
  cpuSlices.sort((a, b) => a - b);
  const median = slices[Math.floor(slices.length / 2)]!;
  return { name, opsPerSec: median, minOpsPerSec: slices[0]!, maxOpsPerSec: slices[slices.length - 1]!, usPerOp: 1e6 / median, cpuUsPerOp: cpuSlices[Math.floor(cpuSlices.length / 2)]! };
}

export function measureCrypto(): OpRate[] {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const head = randomBytes(40); // e.g. replica id (16 B) + counter (8 B) + HLC (8 B) + digest prefix (8 B)
  const sig = sign(null, head, privateKey);
  if (!verify(null, head, publicKey, sig)) throw new Error('ed25519 self-check failed');
  const macKey = randomBytes(32);
  const kib = randomBytes(1024);
  return [
    rate('ed25519 sign, 40-byte message (KeyObject)', () => sign(null, head, privateKey)),
    rate('ed25519 verify, 40-byte message (KeyObject)', () => verify(null, head, publicKey, sig)),
    rate('HMAC-SHA256 over 1 KiB', () => createHmac('sha256', macKey).update(kib).digest()),
  ];
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

export function cryptoRows(rates: OpRate[]): [string, string][] {
  return rates.map((r) => [
    r.name,
    `${fmt(r.opsPerSec)} ops/s = ${r.usPerOp.toFixed(2)} µs each (slices ${fmt(r.minOpsPerSec)}-${fmt(r.maxOpsPerSec)} ops/s); ${r.cpuUsPerOp.toFixed(2)} µs of CPU each`,
  ]);
}

export async function benchCrypto(): Promise<void> {
  console.log('\n# crypto: one core, node:crypto');
  const rows = cryptoRows(measureCrypto());
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}
