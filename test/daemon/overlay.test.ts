// The overlay topology (--topology overlay) with real daemons: bounded connections, writes pushed
// along the tree reach every node, survivors of a crash keep receiving, a restarted node rejoins,
// and a forgotten peer never enters a view.
import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from '../../src/control/api.js';
import { Fleet, type DaemonOptions, type TestDaemon } from '../helpers/daemons.js';
import { eventually } from '../helpers/process.js';
import { putOn, untilValue } from '../helpers/ports.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(20));
  await fleet.cleanup();
});

const ACTIVE = 3;
const OVERLAY: DaemonOptions = { gossipIntervalMs: 300, extra: ['--topology', 'overlay', '--active-view', String(ACTIVE), '--passive-view', '12'] };

function alive(s: Status): number {
  return s.peers.filter((p) => p.state === 'alive').length;
}

/** Every node holds at most activeView + 2 connections and at least one active peer (polled until it holds). */
function untilBounded(nodes: TestDaemon[], ms = 90_000): Promise<Status[]> {
  return eventually(
    () => Promise.all(nodes.map((n) => n.status())),
    (all) => all.every((s) => alive(s) <= ACTIVE + 2 && (s.overlay?.active.length ?? 0) >= 1),
    `${nodes.length} nodes each with 1..${ACTIVE} active peers and at most ${ACTIVE + 2} connections`,
    ms,
  );
}

/** n daemons started one by one in a random order; the first two started are the seeds of the rest. */
async function overlayCluster(n: number): Promise<TestDaemon[]> {
  const seeds = [await fleet.start(OVERLAY)];
  seeds.push(await fleet.start({ ...OVERLAY, bootstrap: [seeds[0]!.addr] }));
  const rest: TestDaemon[] = [];
  for (let i = 2; i < n; i++) {
    // each of the rest knows one seed or both, chosen at random
    const pick = Math.random();
    const bootstrap = pick < 0.33 ? [seeds[0]!.addr] : pick < 0.66 ? [seeds[1]!.addr] : seeds.map((s) => s.addr);
    rest.push(await fleet.start({ ...OVERLAY, bootstrap }));
  }
  return [...seeds, ...rest];
}

describe('overlay topology', () => {
  it('bounds connections, delivers every write to all, and survives three crashes', async () => {
    const nodes = await overlayCluster(11);
    const bounded = await untilBounded(nodes);
    for (const s of bounded) expect(s.overlay!.active.length).toBeLessThanOrEqual(ACTIVE);
    // a write on any node reaches all
    for (const i of [0, 5, 10]) {
      await putOn(nodes[i]!, `k${i}`, `from-${i}`);
      await untilValue(nodes, `k${i}`, `from-${i}`, 60_000);
    }
    // three nodes crash; writes on a survivor still reach every survivor
    const killed = [nodes[1]!, nodes[4]!, nodes[7]!];
    await Promise.all(killed.map((n) => n.stop('SIGKILL')));
    const survivors = nodes.filter((n) => !killed.includes(n));
    await putOn(survivors[3]!, 'after-kill', 'yes');
    await untilValue(survivors, 'after-kill', 'yes', 60_000);
    await untilBounded(survivors);
    // a restarted node rejoins (through its remembered peers and its seed) and gets what it missed
    const back = await new (killed[1]!.constructor as new (dir: string, o: DaemonOptions) => TestDaemon)(killed[1]!.dataDir, killed[1]!.opts).start();
    fleet.daemons.push(back);
    await untilValue([back], 'after-kill', 'yes', 60_000);
    await putOn(back, 'from-back', 'yes');
    await untilValue([...survivors, back], 'from-back', 'yes', 60_000);
    await untilBounded([...survivors, back]);
  }, 400_000);

  it('a forgotten peer never enters a view', async () => {
    const nodes = await overlayCluster(5);
    await untilBounded(nodes);
    const victim = nodes[4]!;
    await victim.stop();
    for (const n of nodes.slice(0, 4)) {
      const r = await n.cli('forget', victim.peerId, '--force');
      expect(r.code, r.stderr).toBe(0);
    }
    // it comes back with every other node as a seed: each refuses it, so it holds no view
    const others = { ...victim.opts, bootstrap: nodes.slice(0, 4).map((n) => n.addr) };
    const back = await new (victim.constructor as new (dir: string, o: DaemonOptions) => TestDaemon)(victim.dataDir, others).start();
    fleet.daemons.push(back);
    await putOn(nodes[0]!, 'after-forget', 'yes');
    await untilValue(nodes.slice(0, 4), 'after-forget', 'yes', 60_000);
    // it tries its seeds until at least two have told it they refuse it; no
    // survivor holds it in a view at any poll meanwhile, nor after
    let seenInView = false;
    const survivors = nodes.slice(0, 4);
    await eventually(
      async () => {
        const views = await Promise.all(survivors.map((n) => n.status()));
        if (views.some((v) => v.overlay!.active.includes(victim.peerId) || v.overlay!.eager.includes(victim.peerId))) seenInView = true;
        return back.status();
      },
      (s) => s.warnings.some((w) => (/peers refuse this node: forgotten by an operator on peer (\S+, )+\S+ /.exec(w)) !== null),
      'the forgotten node to be refused by two peers',
      90_000,
    );
    expect(seenInView).toBe(false);
    for (const n of survivors) {
      const s = await n.status();
      expect(s.overlay!.active).not.toContain(victim.peerId);
      expect(s.overlay!.eager).not.toContain(victim.peerId);
    }
    expect(await back.client.get('after-forget')).toBeUndefined();
  }, 300_000);
});
