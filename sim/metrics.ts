// What the simulator counts, per write and per node, and the figures it derives (docs/simulation.md
// says what each one means). Deliveries are flags per (write, node), so "missed" can leave out
// nodes that were down when the write happened or crashed before the end.

import type { Dot } from '../src/core/replica.js';

export const NONE = 0;
export const BY_PUSH = 1;
export const BY_PULL = 2;

interface WriteRecord {
  t0: number;
  origin: number;
  /** Counted in the figures (a scenario leaves out writes made only to have something to repair). */
  measured: boolean;
  /** Per node index: NONE, BY_PUSH (Plumtree: eager or grafted) or BY_PULL (anti-entropy). */
  by: Uint8Array;
  payloads: number;
}

export interface Figures {
  writes: number;
  missed: number;
  rmr: number;
  ldh: number;
  p50: number;
  p99: number;
}

export class Metrics {
  private readonly writes = new Map<string, WriteRecord>();
  private latencies: number[] = [];
  private maxHop = 0;

  constructor(private readonly capacity: number) {}

  wrote(id: Dot, origin: number, t0: number, measured: boolean): void {
    const rec = { t0, origin, measured, by: new Uint8Array(this.capacity), payloads: 0 };
    this.writes.set(key(id), rec);
  }

  /** A payload frame (GOSSIP or an anti-entropy entry) for `id` arrived at a node, new or not. */
  payloadIn(id: Dot): void {
    const w = this.writes.get(key(id));
    if (w !== undefined) w.payloads++;
  }

  /** upSince: when the node (re)started; a node that came later is caught up, not delivered to, and has no latency. */
  delivered(id: Dot, node: number, now: number, how: typeof BY_PUSH | typeof BY_PULL, hop: number, upSince: number): void {
    const w = this.writes.get(key(id));
    if (w === undefined || w.by[node] !== NONE) return;
    w.by[node] = how;
    if (!w.measured || upSince > w.t0) return;
    this.latencies.push(now - w.t0);
    if (how === BY_PUSH && hop > this.maxHop) this.maxHop = hop;
  }

  /**
   * The figures over measured writes. eligible(node, t0): the node was up from before the write
   * until the end, so the broadcast owed it the write.
   */
  figures(eligible: (node: number, t0: number) => boolean, nodes: number): Figures {
    let missed = 0;
    let deliveries = 0;
    let payloads = 0;
    let writes = 0;
    for (const w of this.writes.values()) {
      if (!w.measured) continue;
      writes++;
      payloads += w.payloads;
      for (let n = 0; n < nodes; n++) {
        if (n === w.origin) continue;
        if (w.by[n] !== NONE) deliveries++;
        if (w.by[n] !== BY_PUSH && eligible(n, w.t0)) missed++;
      }
    }
    const sorted = Float64Array.from(this.latencies).sort();
    const pct = (p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
    return { writes, missed, rmr: deliveries === 0 ? 0 : payloads / deliveries - 1, ldh: this.maxHop, p50: pct(0.5), p99: pct(0.99) };
  }
}

function key(id: Dot): string {
  return `${id.r}:${id.c}`;
}
