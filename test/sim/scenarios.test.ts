// The simulation's pass marks (issue 18) on 100 nodes: virtual-time counts of a deterministic run,
// so they may be asserted. The 1,000- and 5,000-node runs are a benchmark (docs/simulation.md).
import { describe, expect, it } from 'vitest';
import { runScenario, type ScenarioName, type ScenarioResult } from '../../sim/scenarios.js';

const NODES = 100;
const run = (scenario: ScenarioName, seed = 7): ScenarioResult => runScenario(scenario, { nodes: NODES, seed, writes: 100 });

/** Idle control traffic: the same mark for every scenario. */
function idleWithinMark(r: ScenarioResult): void {
  expect(r.idleBytesPerNodeSec).toBeLessThanOrEqual(200);
}

/** Every live replica equal within three pull periods of the fault, and nothing missed by the nodes that stayed up. */
function caughtUp(r: ScenarioResult): void {
  expect(r.equalAfterMs).not.toBeNull();
  expect(r.equalAfterMs!).toBeLessThanOrEqual(3 * r.pullMs);
  expect(r.missed).toBe(0);
  idleWithinMark(r);
}

describe('simulation, 100 nodes', () => {
  it('one writer: nothing missed, RMR <= 0.2, LDH <= 10, p99 <= 500 virtual ms; the same seed gives the same trace', () => {
    const r = run('one-writer');
    expect(r.writes).toBe(100);
    expect(r.missed).toBe(0);
    expect(r.rmr).toBeLessThanOrEqual(0.2);
    expect(r.ldh).toBeLessThanOrEqual(10);
    expect(r.p99).toBeLessThanOrEqual(500);
    idleWithinMark(r);
    expect(run('one-writer').traceHash).toBe(r.traceHash);
    expect(run('one-writer', 8).traceHash).not.toBe(r.traceHash);
  });

  it('ten writers: nothing missed, RMR <= 1', () => {
    const r = run('ten-writers');
    expect(r.missed).toBe(0);
    expect(r.rmr).toBeLessThanOrEqual(1);
    idleWithinMark(r);
  });

  it('every node writing: nothing missed, RMR <= 3', () => {
    const r = run('all-write');
    expect(r.writes).toBe(NODES);
    expect(r.missed).toBe(0);
    expect(r.rmr).toBeLessThanOrEqual(3);
    idleWithinMark(r);
  });

  it('30% crashed at once: writes two shuffle periods later miss nothing; replicas equal within three pull periods', () => {
    caughtUp(run('crash-30pct'));
  });

  it('a healed partition: replicas become equal, and later writes miss nothing', () => {
    const r = run('partition-heal');
    expect(r.equalAfterMs).not.toBeNull();
    expect(r.missed).toBe(0);
    idleWithinMark(r);
  });

  it('1% replaced by empty nodes: they catch up, and nothing was missed by the nodes that stayed', () => {
    caughtUp(run('replace-1pct'));
  });

  it('a node restored from an old backup catches up within three pull periods', () => {
    caughtUp(run('restore-old-backup'));
  });
});
