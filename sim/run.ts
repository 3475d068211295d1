// `npm run sim -- --nodes 1000 --seed 7 [--scenario NAME[,NAME...]] [--writes N] [--loss P] [--json]`
// [--graft-ms MS] [--optimize-hops N] [--pull-ms MS] override the cores' defaults (to compare settings).
// Runs the scenarios of sim/scenarios.ts one after the other and prints one line of figures each.
import '../src/polyfill.js';
import { parseArgs } from 'node:util';
import { runScenario, SCENARIOS, type ScenarioName, type ScenarioResult } from './scenarios.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '7' },
    scenario: { type: 'string' },
    writes: { type: 'string', default: '100' },
    loss: { type: 'string', default: '0' },
    json: { type: 'boolean', default: false },
    'graft-ms': { type: 'string' },
    'optimize-hops': { type: 'string' },
    'pull-ms': { type: 'string' },
  },
});

const names = (values.scenario?.split(',') ?? [...SCENARIOS]) as ScenarioName[];
for (const n of names) if (!SCENARIOS.includes(n)) throw new Error(`unknown scenario ${n}; one of ${SCENARIOS.join(', ')}`);

const fmt = (r: ScenarioResult) =>
  [
    r.scenario.padEnd(19),
    `nodes ${r.nodes}`,
    `writes ${r.writes}`,
    `missed ${r.missed}`,
    `RMR ${r.rmr.toFixed(3)}`,
    `LDH ${r.ldh}`,
    `p50 ${r.p50.toFixed(0)} ms`,
    `p99 ${r.p99.toFixed(0)} ms`,
    `idle ${r.idleBytesPerNodeSec.toFixed(0)} B/s/node`,
    `equal after ${r.equalAfterMs === null ? 'never' : `${r.equalAfterMs} ms`} (pull ${r.pullMs / 1000} s)`,
    `wall ${(r.wallMs / 1000).toFixed(1)} s`,
    `max RSS ${r.maxRssMb.toFixed(0)} MB`,
    `trace ${r.traceHash}`,
  ].join(' | ');

for (const name of names) {
  const plumtree = {
    ...(values['graft-ms'] === undefined ? {} : { graftTimeoutMs: Number(values['graft-ms']), graftRetryMs: Number(values['graft-ms']) / 2 }),
    ...(values['optimize-hops'] === undefined ? {} : { optimizeThreshold: Number(values['optimize-hops']) }),
  };
  const world = { loss: Number(values.loss), plumtree, ...(values['pull-ms'] === undefined ? {} : { pullMs: Number(values['pull-ms']) }) };
  const r = runScenario(name, { nodes: Number(values.nodes), seed: Number(values.seed), writes: Number(values.writes), world });
  console.log(values.json ? JSON.stringify(r) : fmt(r));
}
