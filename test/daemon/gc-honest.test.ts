// Garbage collection among honest nodes must never misfire: with every member counted, no node
// collects a delete another has not seen, so no node is ever behind a peer's GC horizon, no node
// withholds deltas from another, and nobody catches up by a whole snapshot. Three daemons start
// together (no waiting for them to know each other, as an operator starts them), collect every
// 300 ms, and take concurrent puts and 40% deletes on 300 keys from three clients, in each mode.
import { describe, expect, it } from 'vitest';
import type { Status } from '../../src/control/api.js';
import { ReplikvClient } from '../../src/control/replikv-client.js';
import { Fleet, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { eventually } from '../helpers/process.js';

const fleet = new Fleet();

const HORIZON_LINES = /garbage-collection horizon|catching up by a full snapshot|behind the peer|withholding deltas/;

/** Seeded, so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

/** One client writing puts and 40% deletes on 300 keys until `stop`, through the control socket. */
async function writer(node: TestDaemon, seed: number, ops: number): Promise<number> {
  const client = new ReplikvClient({ dataDir: node.dataDir });
  const random = rng(seed);
  let done = 0;
  for (let i = 0; i < ops; i++) {
    const key = `k${Math.floor(random() * 300)}`;
    if (random() < 0.4) await client.del(key);
    else await client.put(key, `v${seed}-${i}`);
    done++;
  }
  return done;
}

function horizon(s: Status): number {
  return s.gc.withheldFrom.length + s.gc.behind.length;
}

describe('garbage collection among honest nodes', () => {
  for (const mode of ['push', 'pull', 'hybrid'] as const) {
    it(`never puts a node behind a peer's horizon (${mode} mode)`, async () => {
      try {
        const nodes = await fleet.cluster(3, { mode, gossipIntervalMs: 200, extra: ['--gc-interval', '300'] });
        const seen: number[] = [];
        let writing = true;
        // Sampled all along: a gap that opens and closes between two polls still shows in the logs.
        const sampler = (async () => {
          while (writing) {
            for (const s of await Promise.all(nodes.map((n) => n.status()))) seen.push(horizon(s));
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        const counts = await Promise.all(nodes.map((n, i) => writer(n, 17 * (i + 1), 400)));
        writing = false;
        await sampler;
        expect(counts).toEqual([400, 400, 400]);
        const [first] = await eventually(
          () => Promise.all(nodes.map((n) => n.status())),
          (all) => all.every((s) => s.digest === all[0]!.digest && s.keys === all[0]!.keys && s.tombstones === 0),
          'the three nodes to converge and collect every tombstone',
          60_000,
        );
        await untilConverged(nodes, first!.keys);
        // the test is not vacuous: collection ran and removed deletes
        const collected = (await Promise.all(nodes.map((n) => n.status()))).map((s) => s.gc.collected.siblings);
        expect(collected.every((c) => c > 0)).toBe(true);
        expect(seen.filter((n) => n > 0)).toEqual([]);
        for (const n of nodes) {
          const s = await n.status();
          expect(horizon(s)).toBe(0);
          expect(n.child.stderr()).not.toMatch(HORIZON_LINES);
          expect(n.child.stderr()).not.toMatch(/repair complete/);
        }
      } finally {
        await fleet.cleanup();
      }
    });
  }

  it('never puts a node behind a peer\'s horizon when a node is killed and restarted mid-way (push mode)', async () => {
    try {
      const nodes = await fleet.cluster(4, { mode: 'push', gossipIntervalMs: 200, extra: ['--gc-interval', '300'] });
      const seen: number[] = [];
      let writing = true;
      const sampler = (async () => {
        while (writing) {
          for (const n of nodes) {
            const s = await n.status().catch(() => null); // the killed node does not answer for a while
            if (s !== null) seen.push(horizon(s));
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const [a, b, c] = nodes as [TestDaemon, TestDaemon, TestDaemon, TestDaemon];
      await Promise.all([a, b, c].map((n, i) => writer(n, 31 * (i + 1), 150)));
      const victim = nodes[3]!;
      await victim.stop('SIGKILL');
      await Promise.all([a, b, c].map((n, i) => writer(n, 37 * (i + 1), 150)));
      const back = await fleet.start({ ...victim.opts, dataDir: victim.dataDir });
      nodes[3] = back;
      await Promise.all([a, b, back].map((n, i) => writer(n, 41 * (i + 1), 150)));
      writing = false;
      await sampler;
      const [first] = await eventually(
        () => Promise.all(nodes.map((n) => n.status())),
        (all) => all.every((s) => s.digest === all[0]!.digest && s.keys === all[0]!.keys && s.tombstones === 0),
        'the four nodes to converge and collect every tombstone',
        90_000,
      );
      expect(first!.gc.collected.siblings).toBeGreaterThan(0);
      expect(seen.filter((n) => n > 0)).toEqual([]);
      for (const n of nodes) {
        expect(horizon(await n.status())).toBe(0);
        expect(n.child.stderr()).not.toMatch(HORIZON_LINES);
      }
    } finally {
      await fleet.cleanup();
    }
  });
});
