// Scale benchmark (issue 18, "Real daemons, 50 on this 2-core machine"): `npm run bench -- scale
// --nodes 50`. N real daemons (the built CLI, real libp2p over 127.0.0.1, real LMDB), started the
// way an operator would: the first alone, a few more seeds bootstrapping from it, then the rest
// with --bootstrap pointing at the seeds, a few at a time. Then, in this order:
//  1. time from the last start until every node has had >= 3 alive peers (status, polled per node);
//  2. once the alive-peer counts stop changing: TCP connections per daemon (kernel sockets);
//  3. a quiet window: CPU per daemon (/proc/PID/stat), TCP bytes out (kernel counters) and sync
//     frame bytes out (status) per daemon per second; nothing polls the daemons in the window;
//  4. writes on node 1, each timed until every other node's watch feed shows it (feed-watch.ts);
//  5. keys imported on node 1 through the control API, then until every node has its digest and
//     key count (status, polled per node);
//  6. nodes killed with SIGKILL, then a write at once: until every survivor's feed shows it.
// Prints a table (each figure beside its target) and one JSON line. Every daemon is killed and its
// directory removed at the end, on failure, and on Ctrl-C. Asserts nothing: the machine is shared.
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Status } from '../src/control/api.js';
import { Fleet, type TestDaemon } from '../test/helpers/daemons.js';
import { FeedWatch } from './feed-watch.js';
import { bytesSentBetween, readCpuTicks, readSockets, socketsByPid, ticksPerSecond } from './proc-probe.js';
import { jsonLine, spread, table, type ScaleFigures } from './scale-report.js';

type Topology = 'mesh' | 'overlay';

export interface ScaleOptions {
  nodes: number;
  seeds: number;
  /** Daemons started at once after the seeds. */
  parallel: number;
  mode: 'push' | 'pull' | 'hybrid';
  /** The topology of this run; `topologies`: every one asked for, run one after the other on fresh fleets. */
  topology: Topology;
  topologies: Topology[];
  /** overlay: the active view's size (--active-view). */
  activeView: number;
  gossipIntervalMs: number;
  minPeers: number;
  /** The alive-peer counts must hold this long before the idle window (or the deadline passes). */
  settleMs: number;
  idleMs: number;
  writes: number;
  importKeys: number;
  kill: number;
  /** How often each node's status is read while waiting for a condition (the times' resolution). */
  pollMs: number;
  /** How long any one phase may wait before its figure is "not reached". */
  timeoutMs: number;
}

const USAGE = `usage: npm run bench -- scale [--nodes N] [--seeds S] [--parallel P] [--mode push|pull|hybrid]
  [--topology mesh|overlay|mesh,overlay] [--active-view N]
  [--gossip-interval MS] [--min-peers K] [--settle-seconds S] [--idle-seconds S] [--writes W]
  [--import-keys K] [--kill K] [--poll-ms MS] [--timeout-seconds S]`;

/** The options from the command line after "scale"; the defaults are the issue's setup at N=50. */
export function parseScaleArgs(argv: string[]): ScaleOptions {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(['nodes', 'seeds', 'parallel', 'mode', 'topology', 'active-view', 'gossip-interval', 'min-peers', 'settle-seconds', 'idle-seconds', 'writes', 'import-keys', 'kill', 'poll-ms', 'timeout-seconds'].map((k) => [k, { type: 'string' as const }])),
  });
  const int = (name: string, fallback: number, min: number) => {
    const v = values[name] === undefined ? fallback : Number(values[name]);
    if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be a whole number >= ${min}\n${USAGE}`);
    return v;
  };
  const nodes = int('nodes', 50, 3);
  const mode = values.mode ?? 'hybrid';
  if (mode !== 'push' && mode !== 'pull' && mode !== 'hybrid') throw new Error(`--mode must be push, pull or hybrid\n${USAGE}`);
  const topologies = (values.topology ?? 'mesh').split(',');
  if (topologies.length === 0 || topologies.some((t) => t !== 'mesh' && t !== 'overlay')) throw new Error(`--topology must be mesh, overlay, or both separated by a comma\n${USAGE}`);
  const kill = int('kill', Math.min(10, Math.max(1, Math.floor(nodes / 5))), 1);
  if (kill > nodes - 2) throw new Error(`--kill must leave node 1 and one other: at most ${nodes - 2} of ${nodes}`);
  return {
    nodes,
    seeds: Math.min(nodes, int('seeds', 3, 1)),
    parallel: int('parallel', 4, 1),
    mode,
    topology: topologies[0] as Topology,
    topologies: topologies as Topology[],
    activeView: int('active-view', 6, 1),
    gossipIntervalMs: int('gossip-interval', 1000, 10),
    minPeers: Math.min(nodes - 1, int('min-peers', 3, 1)),
    settleMs: int('settle-seconds', 5, 0) * 1000,
    idleMs: int('idle-seconds', 20, 1) * 1000,
    writes: int('writes', 20, 1),
    importKeys: int('import-keys', 10_000, 1),
    kill,
    pollMs: int('poll-ms', 200, 10),
    timeoutMs: int('timeout-seconds', 120, 1) * 1000,
  };
}

/** Why each node's last status request failed, for the report of nodes that did not answer. */
const statusErrors = new WeakMap<TestDaemon, string>();

/** Status, or undefined while the node does not answer (starting, busy, or killed). */
const statusOf = (d: TestDaemon) =>
  d.status().catch((err: Error) => {
    statusErrors.set(d, err.message);
    return undefined;
  });

/** Polls one node until `ok` holds; the time it first did, or null once `deadline` passed. */
async function firstTime(d: TestDaemon, ok: (s: Status) => boolean, deadline: number, pollMs: number): Promise<number | null> {
  for (;;) {
    const s = await statusOf(d);
    if (s !== undefined && ok(s)) return performance.now();
    if (performance.now() > deadline) return null;
    await sleep(pollMs);
  }
}

/** The latest of every node's first time (null if any node never got there), and the nodes that never did. */
async function lastFirstTime(nodes: readonly TestDaemon[], ok: (s: Status) => boolean, deadline: number, pollMs: number): Promise<{ at: number | null; missing: number[] }> {
  const times = await Promise.all(nodes.map((d) => firstTime(d, ok, deadline, pollMs)));
  const missing = times.flatMap((t, i) => (t === null ? [i] : []));
  return { at: missing.length > 0 ? null : Math.max(...(times as number[])), missing };
}

/** Each node's last log line, for a report of what held it up. */
const lastLines = (nodes: readonly TestDaemon[], which: readonly number[]) =>
  which.map((i) => `  node ${i + 1}: ${nodes[i]!.child.stderr().trimEnd().split('\n').at(-1)!.slice(0, 400)}`).join('\n');

/** "nodes 3 (exited 1), 7": 1-based, as the table names node 1; with how a node that is gone ended. */
function nodeList(nodes: readonly TestDaemon[], which: readonly number[]): string {
  const gone = (d: TestDaemon) => d.child.proc.exitCode ?? d.child.proc.signalCode;
  return `node${which.length === 1 ? '' : 's'} ${which.map((i) => `${i + 1}${gone(nodes[i]!) === null ? '' : ` (exited ${gone(nodes[i]!)})`}`).join(', ')}`;
}

const alive = (s: Status) => s.peers.filter((p) => p.state === 'alive').length;

/** Starts the fleet: node 1, the other seeds from it, then the rest from the seeds, `parallel` at a time. */
async function startAll(fleet: Fleet, o: ScaleOptions): Promise<{ nodes: TestDaemon[]; spanMs: number; lastStart: number }> {
  const extra = o.topology === 'overlay' ? ['--topology', 'overlay', '--active-view', String(o.activeView)] : [];
  const base = { mode: o.mode, gossipIntervalMs: o.gossipIntervalMs, startMs: o.timeoutMs, extra };
  const t0 = performance.now();
  const first = await fleet.start(base);
  const seeds = [first];
  for (let i = 1; i < o.seeds; i++) seeds.push(await fleet.start({ ...base, bootstrap: [first.addr] }));
  const rest: TestDaemon[] = new Array(o.nodes - o.seeds);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < rest.length; i = next++) rest[i] = await fleet.start({ ...base, bootstrap: seeds.map((s) => s.addr) });
  };
  await Promise.all(Array.from({ length: o.parallel }, worker));
  const lastStart = performance.now();
  return { nodes: [...seeds, ...rest], spanMs: lastStart - t0, lastStart };
}

/**
 * Reads every node's alive-peer count each second until the counts hold for settleMs (at most a
 * minute: a mesh may never settle). Returns the last counts of the nodes that answered, and the ones that did not.
 */
async function settle(nodes: readonly TestDaemon[], o: ScaleOptions): Promise<{ settled: boolean; alive: number[]; silent: number[] }> {
  const deadline = performance.now() + Math.min(o.timeoutMs, 60_000);
  let last = '';
  let since = performance.now();
  for (;;) {
    const statuses = await Promise.all(nodes.map(statusOf));
    const counts = statuses.map((s) => (s === undefined ? -1 : alive(s)));
    if (counts.join() !== last) [last, since] = [counts.join(), performance.now()];
    const settled = performance.now() - since >= o.settleMs;
    if (settled || performance.now() > deadline) {
      return { settled, alive: counts.filter((c) => c >= 0), silent: counts.flatMap((c, i) => (c < 0 ? [i] : [])) };
    }
    await sleep(1000);
  }
}

/** The quiet window: per daemon, CPU % of one core, TCP bytes out per second, sync frame bytes out per second. */
async function idle(nodes: readonly TestDaemon[], windowMs: number): Promise<ScaleFigures['idle']> {
  const pids = nodes.map((d) => d.child.proc.pid!);
  const sync = async () => (await Promise.all(nodes.map(statusOf))).map((s) => s?.transfer.bytesSent ?? NaN); // NaN: left out
  const syncBefore = await sync();
  const sockBefore = socketsByPid(readSockets(), pids);
  const ticks = (pid: number) => {
    try {
      return readCpuTicks(pid);
    } catch {
      return NaN; // the daemon is gone: left out
    }
  };
  const cpuBefore = pids.map(ticks);
  const t0 = performance.now();
  await sleep(windowMs); // a measuring window, not a wait for something to happen
  const cpuAfter = pids.map(ticks);
  const seconds = (performance.now() - t0) / 1000;
  const sockAfter = socketsByPid(readSockets(), pids);
  const syncAfter = await sync();
  const hz = ticksPerSecond();
  const cpu = pids.map((_, i) => ((cpuAfter[i]! - cpuBefore[i]!) / hz / seconds) * 100).filter(Number.isFinite);
  const tcp = pids.map((p) => bytesSentBetween(sockBefore.get(p)!, sockAfter.get(p)!));
  return {
    windowMs: seconds * 1000,
    cpuPercent: spread(cpu),
    cpuAllPercent: cpu.reduce((a, b) => a + b, 0),
    tcpOutBps: spread(tcp.map((t) => t.bytes / seconds)),
    syncOutBps: spread(syncAfter.map((b, i) => (b - syncBefore[i]!) / seconds).filter(Number.isFinite)),
    socketsClosed: tcp.reduce((a, t) => a + t.closed, 0), // socket ends: a connection closed between two fleet daemons counts twice
  };
}

/** Writes on node 1, one at a time, each until every other node's feed shows it. */
async function writes(nodes: readonly TestDaemon[], watched: readonly number[], feed: FeedWatch, o: ScaleOptions): Promise<ScaleFigures['write']> {
  const others = watched.filter((i) => i !== 0);
  const perNode: number[] = [];
  const onAll: number[] = [];
  let missed = 0;
  for (let w = 0; w < o.writes; w++) {
    const key = `probe/write/${w}`;
    const t0 = performance.now();
    await nodes[0]!.client.put(key, Buffer.from(`write ${w}`));
    const at = await feed.arrivals(key, others, 30_000);
    for (const t of at.values()) perNode.push(t - t0);
    missed += others.length - at.size;
    if (at.size === others.length) onAll.push(Math.max(...at.values()) - t0);
    await sleep(200); // spacing, so that one write's trailing traffic does not time the next
  }
  return { writes: o.writes, perNodeMs: spread(perNode), onAllMs: spread(onAll), missed, unwatched: nodes.length - 1 - others.length };
}

/** Keys imported on node 1 through the control API, then until every node has node 1's digest and key count. */
async function importKeys(nodes: readonly TestDaemon[], o: ScaleOptions, say: (line: string) => void): Promise<ScaleFigures['import']> {
  const lines = Array.from({ length: o.importKeys }, (_, i) => JSON.stringify({ key: `bulk/${String(i).padStart(8, '0')}`, value: 'v'.repeat(100) }));
  const body = Buffer.from(lines.join('\n') + '\n');
  const t0 = performance.now();
  const reply = await nodes[0]!.client.import(Readable.from([body]));
  const done = performance.now();
  if (reply.imported !== o.importKeys) throw new Error(`imported ${reply.imported} of ${o.importKeys} keys`);
  const want = await nodes[0]!.status();
  const equal = await lastFirstTime(nodes, (s) => s.digest === want.digest && s.keys === want.keys, done + o.timeoutMs, o.pollMs);
  if (equal.missing.length > 0) say(`not equal to node 1 after ${o.timeoutMs / 1000} s: ${nodeList(nodes, equal.missing)}`);
  return { keys: o.importKeys, importMs: done - t0, equalAfterMs: equal.at === null ? null : Math.max(0, equal.at - done) };
}

/** Kills `kill` nodes spread over the fleet (never node 1), then one write on node 1: until every survivor's feed shows it. */
async function killThenWrite(nodes: readonly TestDaemon[], watched: readonly number[], feed: FeedWatch, o: ScaleOptions): Promise<ScaleFigures['kill']> {
  const step = (nodes.length - 1) / o.kill;
  const victims = new Set(Array.from({ length: o.kill }, (_, k) => 1 + Math.floor(k * step)));
  await Promise.all([...victims].map((i) => nodes[i]!.stop('SIGKILL')));
  const survivors = nodes.map((_, i) => i).filter((i) => !victims.has(i));
  const t0 = performance.now();
  await nodes[0]!.client.put('probe/after-kill', Buffer.from('after'));
  const others = survivors.filter((i) => i !== 0 && watched.includes(i));
  const at = await feed.arrivals('probe/after-kill', others, o.timeoutMs);
  return { killed: victims.size, survivors: survivors.length, timed: others.length, allHaveMs: at.size === others.length ? Math.max(...at.values()) - t0 : null };
}

/** One whole run on a fresh fleet; `fleet` is the caller's, so that it can clean up on a signal too. */
export async function runScale(o: ScaleOptions, fleet: Fleet, say: (line: string) => void = () => {}): Promise<ScaleFigures> {
  say(`starting ${o.nodes} daemons (${o.seeds} seeds, ${o.parallel} at a time, ${o.mode}, ${o.topology}, gossip ${o.gossipIntervalMs} ms)`);
  const { nodes, spanMs, lastStart } = await startAll(fleet, o);
  say(`all started in ${(spanMs / 1000).toFixed(1)} s; waiting for >= ${o.minPeers} alive peers everywhere`);
  const deadline = lastStart + o.timeoutMs;
  const [peers, ready] = await Promise.all([
    lastFirstTime(nodes, (s) => alive(s) >= o.minPeers, deadline, o.pollMs),
    lastFirstTime(nodes, (s) => s.state === 'ready', deadline, o.pollMs),
  ]);
  if (peers.missing.length > 0) say(`never >= ${o.minPeers} alive peers in ${o.timeoutMs / 1000} s: ${nodeList(nodes, peers.missing)}`);
  if (ready.missing.length > 0) say(`never ready in ${o.timeoutMs / 1000} s: ${nodeList(nodes, ready.missing)}; their last log lines:\n${lastLines(nodes, ready.missing)}`);
  const settledFrom = performance.now();
  const { settled, alive: alivePeers, silent } = await settle(nodes, o);
  if (silent.length > 0) say(`no status answer: ${nodeList(nodes, silent)}: ${silent.map((i) => statusErrors.get(nodes[i]!)).join('; ')}`);
  const settledMs = performance.now() - settledFrom;
  const pids = nodes.map((d) => d.child.proc.pid!);
  const sockets = socketsByPid(readSockets(), pids);
  const connections = spread(pids.map((p) => sockets.get(p)!.length));
  say(`${settled ? 'settled' : 'not settled'} after ${(settledMs / 1000).toFixed(1)} s; idle window of ${o.idleMs / 1000} s`);
  const quiet = await idle(nodes, o.idleMs);
  const feed = new FeedWatch(nodes, 'probe/');
  try {
    const watched = await feed.started(nodes.length, o.timeoutMs);
    const unwatched = nodes.map((_, i) => i).filter((i) => !watched.includes(i));
    if (unwatched.includes(0)) throw new Error(`node 1's watch feed did not start: ${feed.errors.get(0) ?? 'no answer'}`);
    if (unwatched.length > 0) say(`no watch feed (left out of the visibility figures): ${nodeList(nodes, unwatched)}: ${unwatched.map((i) => feed.errors.get(i) ?? 'no answer').join('; ')}`);
    say(`${o.writes} writes on node 1`);
    const write = await writes(nodes, watched, feed, o);
    say(`importing ${o.importKeys} keys on node 1`);
    const imported = await importKeys(nodes, o, say);
    const exited = nodes.filter((d) => d.child.proc.exitCode !== null || d.child.proc.signalCode !== null).length;
    say(`killing ${o.kill} nodes, then a write`);
    const kill = await killThenWrite(nodes, watched, feed, o);
    return {
      nodes: o.nodes,
      seeds: o.seeds,
      mode: o.topology === 'mesh' ? o.mode : `${o.mode}, ${o.topology} (active view ${o.activeView})`,
      gossipIntervalMs: o.gossipIntervalMs,
      startSpanMs: spanMs,
      minPeers: o.minPeers,
      peersMs: peers.at === null ? null : peers.at - lastStart,
      readyMs: ready.at === null ? null : ready.at - lastStart,
      notReady: ready.missing.length,
      settledMs,
      settled,
      connections,
      alivePeers: spread(alivePeers),
      silent: silent.length,
      exited,
      idle: quiet,
      write,
      import: imported,
      kill,
    };
  } finally {
    feed.close();
  }
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** `npm run bench -- scale ...`: one run, its table and JSON line; every daemon killed however it ends. */
export async function benchScale(argv: string[]): Promise<void> {
  const all = parseScaleArgs(argv);
  for (const topology of all.topologies) await benchScaleOnce({ ...all, topology });
}

async function benchScaleOnce(o: ScaleOptions): Promise<void> {
  const fleet = new Fleet();
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`scale: ${signal}: stopping every daemon`);
    void fleet.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  // If this process dies some other way, its daemons must not outlive it.
  const onExit = () => fleet.daemons.forEach((d) => d.child?.proc.kill('SIGKILL'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.on('exit', onExit);
  console.log(`\n# scale: ${o.nodes} daemons on 127.0.0.1, ${o.topology}`);
  const load = loadavg()[0]!;
  try {
    const f = await runScale(o, fleet, (line) => console.error(`scale: ${line}`));
    console.log(table(f).join('\n'));
    console.log(`(status polled every ${o.pollMs} ms per node; visibility from the put's call to the change event on each other node's watch feed; load average ${load.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end)`);
    console.log(jsonLine(f, { commit: commit(), at: new Date().toISOString(), loadavg: [load, loadavg()[0]] }));
  } catch (err) {
    // A daemon that died during the run is the likeliest cause: name it, with its last log lines.
    for (const d of fleet.daemons) {
      if (d.child?.proc.exitCode === null && d.child.proc.signalCode === null) continue;
      console.error(`scale: daemon ${d.peerId} exited (${d.child?.proc.exitCode ?? d.child?.proc.signalCode}):\n${d.child?.stderr().split('\n').slice(-30).join('\n')}`);
    }
    throw err;
  } finally {
    await fleet.cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}
