// The scale benchmark's pure parts: percentiles, the kernel-counter parsers (on text captured from
// this machine's ss and /proc), the option parser, and the judging of figures against targets.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesSentBetween, cpuTicks, parseSockets, socketsByPid, type SocketSample } from '../../bench/proc-probe.js';
import { parseScaleArgs } from '../../bench/scale.js';
import { percentile, rows, spread, table, type ScaleFigures } from '../../bench/scale-report.js';

// `ss -tinpH state established`, two sockets of a three-node cluster (info lines shortened).
const SS = [
  '0      0      127.0.0.1:47412 127.0.0.1:49222 users:(("node",pid=2234,fd=26))',
  '\t bbr wscale:10,10 rto:204 rtt:1.336/0.987 mss:32768 cwnd:18 bytes_sent:3011 bytes_acked:3011 bytes_received:3013 segs_out:82',
  '0      0      127.0.0.1:37524 127.0.0.1:47411 users:(("node",pid=2234,fd=25))',
  '\t bbr wscale:10,10 rto:204 rtt:1.43/1.402 mss:32768 cwnd:13 bytes_sent:3042 bytes_acked:3043 bytes_received:4661',
  '0      0      127.0.0.1:47411 127.0.0.1:37524 users:(("node",pid=2152,fd=25))',
  '\t cubic wscale:7,7 rto:204 mss:32768 cwnd:10 bytes_received:3042 segs_out:1',
  '',
].join('\n');

const STAT = '2152 (node) S 1 2134 31510 0 -1 4194304 17425 0 7 0 86 13 0 0 20 0 11 0 925584 44208672768 25320';

describe('percentile and spread', () => {
  it('a percentile is an element of the list, between its min and max, and grows with p', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1e9, max: 1e9 }), { minLength: 1 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (xs, p, q) => {
        const v = percentile(xs, p);
        expect(xs).toContain(v);
        const [lo, hi] = p <= q ? [v, percentile(xs, q)] : [percentile(xs, q), v];
        expect(lo).toBeLessThanOrEqual(hi);
        expect(percentile(xs, 0)).toBe(Math.min(...xs));
        expect(percentile(xs, 100)).toBe(Math.max(...xs));
      }),
    );
  });

  it('nearest rank: the p50 of 1..n is ceil(n/2), the p99 of 1..100 is 99', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 500 }), (n) => {
      expect(percentile(Array.from({ length: n }, (_, i) => i + 1), 50)).toBe(Math.ceil(n / 2));
    }));
    expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99)).toBe(99);
  });

  it('an empty list has no figures (NaN), which the table prints as "-"', () => {
    expect(Object.values(spread([])).every(Number.isNaN)).toBe(true);
  });
});

describe('kernel counters', () => {
  it('reads the owner, the ends and the bytes sent of each socket (0 before it sent anything)', () => {
    expect(parseSockets(SS)).toEqual([
      { pid: 2234, local: '127.0.0.1:47412', peer: '127.0.0.1:49222', bytesSent: 3011 },
      { pid: 2234, local: '127.0.0.1:37524', peer: '127.0.0.1:47411', bytesSent: 3042 },
      { pid: 2152, local: '127.0.0.1:47411', peer: '127.0.0.1:37524', bytesSent: 0 },
    ]);
    const by = socketsByPid(parseSockets(SS), [2152, 2234, 9]);
    expect([...by].map(([p, s]) => [p, s.length])).toEqual([[2152, 1], [2234, 2], [9, 0]]);
  });

  it('CPU ticks are utime + stime, whatever the command name holds', () => {
    expect(cpuTicks(STAT)).toBe(99);
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ' ', '(', ')', 'x') }), fc.nat(1e9), fc.nat(1e9), (name, u, s) => {
        const fields = STAT.split(' ').slice(2);
        fields[11] = String(u);
        fields[12] = String(s);
        expect(cpuTicks(`42 (${name}) ${fields.join(' ')}`)).toBe(u + s);
      }),
    );
    expect(() => cpuTicks('garbage')).toThrow(/not a \/proc/);
  });

  it('bytes sent between samples: growth of kept sockets, new ones whole, closed ones counted apart', () => {
    const sock = fc.record({ pid: fc.constant(1), local: fc.constantFrom('a:1', 'a:2', 'a:3', 'a:4'), peer: fc.constantFrom('b:1', 'b:2'), bytesSent: fc.nat(1e6) });
    const uniq = (xs: SocketSample[]) => [...new Map(xs.map((s) => [`${s.local} ${s.peer}`, s])).values()];
    fc.assert(
      fc.property(fc.array(sock).map(uniq), fc.array(sock).map(uniq), (before, after) => {
        const { bytes, closed } = bytesSentBetween(before, after);
        expect(bytes).toBeGreaterThanOrEqual(0);
        expect(bytes).toBeLessThanOrEqual(after.reduce((a, s) => a + s.bytesSent, 0));
        expect(bytesSentBetween(after, after)).toEqual({ bytes: 0, closed: 0 });
        expect(bytesSentBetween([], after).bytes).toBe(after.reduce((a, s) => a + s.bytesSent, 0));
        expect(closed).toBe(before.filter((b) => !after.some((a) => a.local === b.local && a.peer === b.peer)).length);
      }),
    );
  });
});

describe('options', () => {
  it('defaults are the issue setup at 50 nodes; --kill scales with smaller fleets', () => {
    expect(parseScaleArgs([])).toMatchObject({ nodes: 50, seeds: 3, kill: 10, minPeers: 3, writes: 20, importKeys: 10_000, gossipIntervalMs: 1000, mode: 'hybrid' });
    expect(parseScaleArgs(['--nodes', '10'])).toMatchObject({ nodes: 10, kill: 2 });
    expect(parseScaleArgs(['--nodes', '4', '--seeds', '9'])).toMatchObject({ seeds: 4, kill: 1, minPeers: 3 });
  });

  it('refuses what cannot run', () => {
    expect(() => parseScaleArgs(['--nodes', '2'])).toThrow(/--nodes/);
    expect(() => parseScaleArgs(['--nodes', 'many'])).toThrow(/--nodes/);
    expect(() => parseScaleArgs(['--nodes', '5', '--kill', '4'])).toThrow(/--kill/);
    expect(() => parseScaleArgs(['--mode', 'gossip'])).toThrow(/--mode/);
    expect(() => parseScaleArgs(['--colour'])).toThrow(/colour/);
  });
});

describe('judging and printing', () => {
  const s = (x: number) => spread([x]);
  const figures: ScaleFigures = {
    nodes: 50, seeds: 3, mode: 'hybrid', gossipIntervalMs: 1000, startSpanMs: 30_000, minPeers: 3, peersMs: 9_000, readyMs: 2_000, notReady: 0, settledMs: 5_000, settled: true,
    connections: s(8), alivePeers: s(6), silent: 0, exited: 0,
    idle: { windowMs: 20_000, cpuPercent: s(0.4), cpuAllPercent: 20, tcpOutBps: s(250), syncOutBps: s(100), socketsClosed: 0 },
    write: { writes: 20, perNodeMs: spread([10, 20]), onAllMs: spread([40, 240]), missed: 0, unwatched: 0 },
    import: { keys: 10_000, importMs: 300, equalAfterMs: 4_000 },
    kill: { killed: 10, survivors: 40, timed: 39, allHaveMs: 1_000 },
  };
  const judged = (f: ScaleFigures) => rows(f).filter((r) => r.met !== null).map((r) => r.met);

  it('every target of the issue is judged, and figures within them are met', () => {
    expect(judged(figures)).toEqual([true, true, true, true, true, true, true]);
    expect(table(figures).join('\n')).not.toMatch(/MISSED/);
  });

  it('a figure past its target, not reached, or with missed deliveries is missed', () => {
    const missed = judged({
      ...figures,
      peersMs: null,
      connections: s(9),
      idle: { ...figures.idle, cpuPercent: s(0.6), tcpOutBps: s(301) },
      write: { ...figures.write, missed: 1 },
      import: { ...figures.import, equalAfterMs: null },
      kill: { ...figures.kill, allHaveMs: 5_001 },
    });
    expect(missed).toEqual([false, false, false, false, false, false, false]);
    expect(judged({ ...figures, write: { ...figures.write, onAllMs: spread([60, 60]) } })[4]).toBe(false);
  });
});
