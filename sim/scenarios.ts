// The scenarios of issue 18's simulation: a network is grown, warmed up for two shuffle periods,
// then written to and hurt in one way each. Figures cover the "measured" writes; writes made only
// so that a fault has something to repair are left out of missed/RMR/latency.

import { performance } from 'node:perf_hooks';
import { DEFAULT_HYPARVIEW } from '../src/overlay/hyparview.js';
import type { Figures } from './metrics.js';
import { DEFAULT_WORLD, World, type SimNode, type WorldOptions } from './world.js';

export const SCENARIOS = ['one-writer', 'ten-writers', 'all-write', 'crash-30pct', 'partition-heal', 'replace-1pct', 'restore-old-backup'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ScenarioOptions {
  nodes: number;
  seed: number;
  /** Measured writes (all-write: one per node, whatever this says). */
  writes: number;
  world?: Partial<WorldOptions>;
}

export interface ScenarioResult extends Figures {
  scenario: ScenarioName;
  nodes: number;
  /** Bytes sent per live node per second over two idle shuffle periods after the scenario. */
  idleBytesPerNodeSec: number;
  /** The same, per frame type. */
  idleByType: Record<string, number>;
  /** Virtual ms from the fault (or the last write) until every live replica's clock is equal; null: not within the limit. */
  equalAfterMs: number | null;
  pullMs: number;
  shuffleMs: number;
  frames: number;
  wallMs: number;
  maxRssMb: number;
  traceHash: string;
}

const WRITE_GAP_MS = 200;

export function runScenario(name: ScenarioName, o: ScenarioOptions): ScenarioResult {
  const started = performance.now();
  const extra = Math.ceil(o.nodes / 100) + 1;
  const w = new World({ ...DEFAULT_WORLD, ...o.world, nodes: o.nodes, seed: o.seed, capacity: o.nodes + extra });
  const shuffleMs = w.opts.hyparview.shuffleIntervalMs ?? DEFAULT_HYPARVIEW.shuffleIntervalMs;
  const pick = (from: SimNode[]) => from[Math.floor(w.random() * from.length)]!;

  // Grow the network: a node every 10 ms, each joining through a random node already in.
  for (let i = 0; i < o.nodes; i++) w.addNode();
  for (let i = 1; i < o.nodes; i++) {
    const n = w.nodes[i]!;
    w.q.at(i * 10, () => w.start(n, w.nodes[Math.floor(w.random() * i)]!));
  }
  let t = o.nodes * 10 + 2 * shuffleMs;
  w.run(t);

  /** `count` writes, one every gap ms, by writer(i); returns the time after the last. */
  const writeSeries = (count: number, writer: (i: number) => SimNode, measured: boolean, gap = WRITE_GAP_MS) => {
    for (let i = 0; i < count; i++) {
      w.q.at(t + i * gap, () => {
        const n = writer(i);
        if (n.up) w.write(n, measured);
      });
    }
    t += count * gap;
    w.run(t);
  };
  const waitEqual = (from: number, limitMs: number): number | null => {
    for (let at = Math.max(from, w.now); at <= from + limitMs; at += 100) {
      w.run(at);
      if (w.allEqual()) return at - from;
    }
    return null;
  };
  let equalAfterMs: number | null = null;

  switch (name) {
    case 'one-writer': {
      const writer = pick(w.nodes);
      writeSeries(o.writes, () => writer, true);
      equalAfterMs = waitEqual(t - WRITE_GAP_MS, 10 * w.opts.pullMs);
      break;
    }
    case 'ten-writers': {
      const writers = Array.from({ length: 10 }, () => pick(w.nodes));
      writeSeries(o.writes, (i) => writers[i % 10]!, true, WRITE_GAP_MS / 10);
      equalAfterMs = waitEqual(t, 10 * w.opts.pullMs);
      break;
    }
    case 'all-write': {
      // Every node writes once, all within one second.
      for (const n of w.nodes) w.q.at(t + w.random() * 1000, () => w.write(n, true));
      t += 1000;
      equalAfterMs = waitEqual(t, 10 * w.opts.pullMs);
      break;
    }
    case 'crash-30pct': {
      // Writes in flight when 30% of the nodes stop at once; then, two shuffle periods later, new writes.
      writeSeries(20, () => pick(w.live()), false, 50);
      const crashAt = t;
      for (const n of shuffled(w, w.nodes).slice(0, Math.floor(o.nodes * 0.3))) w.crash(n);
      equalAfterMs = waitEqual(crashAt, 2 * shuffleMs);
      t = crashAt + 2 * shuffleMs;
      w.run(t);
      const writer = pick(w.live());
      writeSeries(o.writes, () => writer, true);
      break;
    }
    case 'partition-heal': {
      w.partition((i) => i % 2);
      const [a, b] = [pick(w.nodes.filter((n) => n.index % 2 === 0)), pick(w.nodes.filter((n) => n.index % 2 === 1))];
      writeSeries(20, (i) => (i % 2 === 0 ? a : b), false, 500);
      t += 20_000;
      w.run(t);
      w.heal();
      equalAfterMs = waitEqual(t, 10 * shuffleMs);
      t = Math.max(w.now, t + 2 * shuffleMs);
      w.run(t);
      writeSeries(o.writes, () => a, true);
      break;
    }
    case 'replace-1pct': {
      const writer = pick(w.nodes);
      writeSeries(o.writes, () => writer, true);
      t += 5_000;
      w.run(t);
      const gone = shuffled(w, w.live().filter((n) => n !== writer)).slice(0, Math.max(1, Math.floor(o.nodes / 100)));
      const replaceAt = t;
      for (const n of gone) {
        w.crash(n);
        const fresh = w.addNode();
        w.start(fresh, pick(w.live().filter((m) => m !== fresh)));
      }
      equalAfterMs = waitEqual(replaceAt, 10 * shuffleMs);
      break;
    }
    case 'restore-old-backup': {
      const writer = pick(w.nodes);
      const restored = pick(w.nodes.filter((n) => n !== writer));
      writeSeries(Math.ceil(o.writes / 2), () => writer, true);
      const backup = restored.replica.snapshot();
      writeSeries(Math.floor(o.writes / 2), () => writer, true);
      t += 5_000;
      w.run(t);
      w.crash(restored);
      t += 1_000;
      w.run(t);
      w.restart(restored, backup, pick(w.live().filter((m) => m !== restored)));
      equalAfterMs = waitEqual(t, 10 * shuffleMs);
      break;
    }
  }

  // Settle for a shuffle period (every pull partner hears the new clock entries once), then measure two idle ones.
  t = Math.max(w.now, t) + shuffleMs;
  w.run(t);
  const before = w.bytes;
  const beforeByType = w.bytesByType.slice();
  w.run(t + 2 * shuffleMs);
  const idleByType: Record<string, number> = {};
  w.bytesByType.forEach((b, type) => {
    if (b > beforeByType[type]!) idleByType[type] = Math.round((b - beforeByType[type]!) / w.live().length / ((2 * shuffleMs) / 1000));
  });
  const idle = (w.bytes - before) / w.live().length / ((2 * shuffleMs) / 1000);

  const f = w.metrics.figures((n, t0) => {
    const node = w.nodes[n];
    return node !== undefined && node.up && node.upSince <= t0;
  }, w.nodes.length);
  return {
    scenario: name,
    nodes: o.nodes,
    ...f,
    idleBytesPerNodeSec: idle,
    idleByType,
    equalAfterMs,
    pullMs: w.opts.pullMs,
    shuffleMs,
    frames: w.frames,
    wallMs: performance.now() - started,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    traceHash: w.traceHash(),
  };
}

/** The nodes in a random order drawn from the world's seeded source. */
function shuffled(w: World, nodes: SimNode[]): SimNode[] {
  return nodes
    .map((n) => ({ n, k: w.random() }))
    .sort((a, b) => a.k - b.k)
    .map(({ n }) => n);
}
