// A hostile peer (a real libp2p node built from the project's own dependencies) pushes key states
// that today's honest nodes must refuse: a timestamp at the integer limit (every later write on
// every node would fail) and 400,000 siblings on one key (a read of it would hold the daemon). The
// honest nodes log the refusal, keep their data and digests, and go on writing and replicating.
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { encodeKeyState } from '../../src/core/codec.js';
import type { Sibling } from '../../src/core/key-state.js';
import { encodeEntries, MSG } from '../../src/sync/messages.js';
import { untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { frame, pushFrom, withHostile } from '../helpers/hostile.js';
import { eventually, until } from '../helpers/process.js';
import { testReplicas } from '../helpers/replicas.js';

const { fleet, hostile } = withHostile(15);


// Replicas of the hostile's own making, with real keys: a member may write as itself, so the
// counters are signed and only the sibling and timestamp bounds stand in the way.
const REPLICAS = testReplicas(401);
const replica = (i: number) => REPLICAS[i]!.r;

/** One PUSH of one key state, with a claim of exactly the dots it carries and the heads for them. */
function pushOf(key: string, sibs: Sibling[], seq: number): Uint8Array {
  const ctx = new Map<string, number>();
  for (const s of sibs) ctx.set(s.r, Math.max(ctx.get(s.r) ?? 0, s.c));
  const entries = [...ctx].sort(([a], [b]) => (a < b ? -1 : 1));
  const state = encodeKeyState({ ctx: entries, sibs: [...sibs].sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : a.c - b.c)) });
  const claim = Clock.fromIntervals(entries.map(([r, c]) => [r, 1, c] as [string, number, number]));
  const heads = entries.map(([r, c]) => REPLICAS.find((x) => x.r === r)!.head(c));
  return frame(encodeEntries(MSG.push, { claim, entries: [{ key: Buffer.from(key), state }], heads }, seq));
}

/** The daemon answers with ACK if it applied the push, or resets the stream if it refused it. */
async function pushFromHostile(target: TestDaemon, push: Uint8Array): Promise<void> {
  expect(await pushFrom(await hostile(), target.addr, push), 'the daemon acknowledged a push it should have refused').toBe('refused');
}

describe('a hostile peer pushing states honest nodes must refuse', () => {
  it('a timestamp at the integer limit and 400,000 siblings on one key: refused, logged, nothing changed, writes go on', async () => {
    const [a, b] = (await fleet.cluster(2)) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    expect((await a.cli('put', 'before', '1')).code).toBe(0);
    const [before] = await untilConverged([a, b], 1);

    await pushFromHostile(a, pushOf('future', [{ r: replica(1), c: 1, hlc: Number.MAX_SAFE_INTEGER, value: Buffer.from('x') }], 1));
    await until(() => /maxClockSkewMs/.test(a.child.stderr()), 'the refusal of the far-future timestamp in the log');

    // 400 replicas x 1,000 counters = 400,000 siblings, about 5 MB in one frame
    const flood: Sibling[] = [];
    for (let r = 0; r < 400; r++) for (let c = 1; c <= 1000; c++) flood.push({ r: replica(1 + r), c, hlc: 1, value: null });
    await pushFromHostile(a, pushOf('flood', flood, 2));
    await until(() => /400000 siblings exceeds the limit of 1000 \(maxSiblings\)/.test(a.child.stderr()), 'the refusal of the flood in the log');

    for (const n of [a, b]) {
      const s = await n.status();
      expect(s.digest).toBe(before!.digest);
      expect(s.keys).toBe(1);
      expect((await n.cli('get', 'future')).code).toBe(1);
      expect((await n.cli('get', 'flood')).code).toBe(1);
    }
    // writes on both honest nodes still work, with sane timestamps, and replicate
    expect((await a.cli('put', 'after-a', '2')).code).toBe(0);
    expect((await b.cli('put', 'after-b', '3')).code).toBe(0);
    await untilConverged([a, b], 3);
    const rec = JSON.parse((await b.cli('get', 'after-a', '--json')).stdout) as { siblings: { hlc: number }[] };
    const ms = rec.siblings[0]!.hlc / 1024;
    expect(Math.abs(ms - Date.now())).toBeLessThan(3_600_000);
    await eventually(() => a.status(), (s) => s.state === 'ready', 'a still ready');
  });
});
