// The scale benchmark's driver (bench/scale.ts) run whole on four real daemons: it must produce
// every figure, and leave no daemon behind. Not its targets: those are benchmark figures, and wall
// times on a shared machine are not asserted.
import { describe, expect, it } from 'vitest';
import { parseScaleArgs, runScale } from '../../bench/scale.js';
import { table, type ScaleFigures } from '../../bench/scale-report.js';
import { Fleet } from '../helpers/daemons.js';

/** Every leaf of the figures with its path: numbers must be finite, and no time may be null ("not reached"). */
function leaves(x: unknown, path = ''): [string, unknown][] {
  if (x !== null && typeof x === 'object') return Object.entries(x).flatMap(([k, v]) => leaves(v, `${path}.${k}`));
  return [[path, x]];
}

describe('scale benchmark driver', () => {
  it('runs every phase at N=4 and reports every figure', async () => {
    const fleet = new Fleet();
    const options = parseScaleArgs(['--nodes', '4', '--seeds', '2', '--parallel', '2', '--settle-seconds', '1', '--idle-seconds', '2', '--writes', '3', '--import-keys', '300', '--kill', '1', '--poll-ms', '50', '--timeout-seconds', '60']);
    let f: ScaleFigures;
    try {
      f = await runScale(options, fleet);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${fleet.logs()}`);
    } finally {
      await fleet.cleanup();
    }
    const bad = leaves(f).filter(([, v]) => !(typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))));
    expect(bad, table(f).join('\n')).toEqual([]);
    expect(leaves(f).length).toBeGreaterThan(40);
    // What the run did: 4 nodes, 3 writes each seen by all 3 others, 300 keys, one killed of 4.
    expect(f).toMatchObject({ nodes: 4, minPeers: 3, notReady: 0, silent: 0, exited: 0, write: { writes: 3, missed: 0, unwatched: 0 }, import: { keys: 300 }, kill: { killed: 1, survivors: 3, timed: 2 } });
    expect(f.connections.min).toBeGreaterThanOrEqual(3); // each node holds a connection to each of the other three
    expect(table(f)).toHaveLength(14);
    expect(fleet.daemons).toHaveLength(0);
  });
});
