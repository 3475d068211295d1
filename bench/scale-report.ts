// The scale benchmark's figures, their targets (issue 18, "Real daemons, 50 on this 2-core
// machine") and how they are printed: a table for people and one JSON line for comparing runs.
// Pure: the driver (scale.ts) measures, this decides what the numbers say.

/** Nearest-rank percentile (p in 0..100) of a non-empty list; NaN for an empty one. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface Spread {
  min: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export function spread(xs: readonly number[]): Spread {
  const mean = xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
  return { min: percentile(xs, 0), p50: percentile(xs, 50), p99: percentile(xs, 99), max: percentile(xs, 100), mean };
}

/** Everything one run measured. A time is null when its condition was not reached before the run's deadline. */
export interface ScaleFigures {
  nodes: number;
  seeds: number;
  mode: string;
  gossipIntervalMs: number;
  /** From the first daemon's start to the last one's "started" log line. */
  startSpanMs: number;
  /** From the last start until every node had had at least `minPeers` connected (alive) peers. */
  minPeers: number;
  peersMs: number | null;
  /** From the last start until every node had said "ready". */
  readyMs: number | null;
  /** Nodes that never said "ready" before the deadline. */
  notReady: number;
  /** After settling: TCP connections each daemon holds (kernel sockets), and alive peers in its status. */
  settledMs: number;
  settled: boolean;
  connections: Spread;
  alivePeers: Spread;
  /** Before the idle window: nodes whose status did not answer (left out of alivePeers), and daemons that had exited on their own. */
  silent: number;
  exited: number;
  /** A quiet window: CPU % of one core per daemon, TCP bytes out and sync frame bytes out per daemon per second; socket ends closed in it (their bytes are lost). */
  idle: { windowMs: number; cpuPercent: Spread; cpuAllPercent: number; tcpOutBps: Spread; syncOutBps: Spread; socketsClosed: number };
  /** Writes on node 1, each seen in the watch feed of every other node: per (write, node), and per write on all of them. */
  write: { writes: number; perNodeMs: Spread; onAllMs: Spread; missed: number; unwatched: number };
  /** Keys imported on node 1 (through the control API), then every node at the same digest and key count. */
  import: { keys: number; importMs: number; equalAfterMs: number | null };
  /** Nodes killed (SIGKILL), then one write on node 1: until every survivor's watch feed showed it. */
  kill: { killed: number; survivors: number; timed: number; allHaveMs: number | null };
}

export interface Row {
  measure: string;
  value: string;
  target: string;
  /** Whether the target is met; null when there is no figure to judge. */
  met: boolean | null;
}

const ms = (x: number | null) => (x === null ? 'not reached' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);
const num = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const upTo = (x: number | null, limit: number): boolean | null => (x === null || !Number.isFinite(x) ? null : x <= limit);
const reached = (x: number | null, limit: number): boolean => x !== null && x <= limit; // not reached fails the target

/** The rows of the table: each figure beside its target from the issue. */
export function rows(f: ScaleFigures): Row[] {
  const w = f.write;
  return [
    { measure: `daemons started (first start to last "started")`, value: `${f.nodes} in ${ms(f.startSpanMs)}, ${f.seeds} seed(s)`, target: '', met: null },
    { measure: `every node >= ${f.minPeers} connected peers, after the last start`, value: ms(f.peersMs), target: '<= 10 s', met: reached(f.peersMs, 10_000) },
    { measure: 'every node ready, after the last start', value: `${ms(f.readyMs)}${f.notReady > 0 ? ` (${f.notReady} never)` : ''}`, target: '', met: null },
    { measure: `TCP connections per node${f.settled ? '' : ' (still changing)'}: max, p50`, value: `${num(f.connections.max)}, ${num(f.connections.p50)} (min ${num(f.connections.min)})`, target: '<= 8', met: upTo(f.connections.max, 8) },
    { measure: 'alive peers per node (status): min, p50, max', value: `${num(f.alivePeers.min)}, ${num(f.alivePeers.p50)}, ${num(f.alivePeers.max)}${f.silent > 0 ? `; ${f.silent} did not answer` : ''}`, target: '', met: null },
    { measure: 'daemons that exited on their own before the kills', value: String(f.exited), target: '', met: null },
    { measure: `idle CPU per daemon, ${ms(f.idle.windowMs)} window: mean (max)`, value: `${num(f.idle.cpuPercent.mean, 2)}% (${num(f.idle.cpuPercent.max, 2)}%); all: ${num(f.idle.cpuAllPercent, 1)}% of a core`, target: '<= 0.5%', met: upTo(f.idle.cpuPercent.mean, 0.5) },
    { measure: `idle TCP bytes out per daemon: mean (max)${f.idle.socketsClosed > 0 ? `, ${f.idle.socketsClosed} socket ends closed in the window` : ''}`, value: `${num(f.idle.tcpOutBps.mean)} B/s (${num(f.idle.tcpOutBps.max)} B/s)`, target: '<= 300 B/s', met: upTo(f.idle.tcpOutBps.mean, 300) },
    { measure: 'idle sync frame bytes out per daemon (status): mean (max)', value: `${num(f.idle.syncOutBps.mean)} B/s (${num(f.idle.syncOutBps.max)} B/s)`, target: '', met: null },
    { measure: `one write seen on all ${f.nodes - 1 - w.unwatched} others${w.unwatched > 0 ? ` (${w.unwatched} without a watch feed)` : ''} (${w.writes} writes): p50, p99`, value: `${ms(w.onAllMs.p50)}, ${ms(w.onAllMs.p99)} (max ${ms(w.onAllMs.max)})${w.missed > 0 ? `; ${w.missed} deliveries missed` : ''}`, target: 'p50 <= 50 ms, p99 <= 250 ms', met: w.missed > 0 ? false : upTo(Math.max(w.onAllMs.p50 / 50, w.onAllMs.p99 / 250), 1) },
    { measure: 'the same per node and write: p50, p99', value: `${ms(w.perNodeMs.p50)}, ${ms(w.perNodeMs.p99)}`, target: '', met: null },
    { measure: `${f.import.keys.toLocaleString('en-US')} keys imported on one node: all equal after the last write`, value: `${ms(f.import.equalAfterMs)} (import took ${ms(f.import.importMs)})`, target: '<= 5 s', met: reached(f.import.equalAfterMs, 5000) },
    { measure: `nodes killed: ${f.kill.killed}, then a write: on all ${f.kill.timed} other survivors${f.kill.timed < f.kill.survivors - 1 ? ` with a watch feed (of ${f.kill.survivors - 1})` : ''}`, value: ms(f.kill.allHaveMs), target: '<= 5 s', met: reached(f.kill.allHaveMs, 5000) },
  ];
}

/** The table as text lines. */
export function table(f: ScaleFigures): string[] {
  const all = rows(f);
  const head = { measure: 'measure', value: 'figure', target: 'target', met: null };
  const w = { measure: Math.max(...[head, ...all].map((r) => r.measure.length)), value: Math.max(...[head, ...all].map((r) => r.value.length)) };
  const mark = (m: boolean | null) => (m === null ? '' : m ? '  met' : '  MISSED');
  return [head, ...all].map((r) => `${r.measure.padEnd(w.measure)}  ${r.value.padEnd(w.value)}  ${r.target}${mark(r.met)}`.trimEnd());
}

/** One JSON line: the figures, the run's context and which targets were met. */
export function jsonLine(f: ScaleFigures, context: Record<string, unknown>): string {
  const round = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 100) / 100 : v);
  return JSON.stringify({ bench: 'scale', ...context, ...f, met: rows(f).filter((r) => r.met !== null).map((r) => ({ target: r.target, met: r.met })) }, round);
}
