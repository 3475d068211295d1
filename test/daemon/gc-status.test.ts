// What an operator reads about garbage collection, with real daemons: which member holds it back
// and since when, `replikv forget` releasing it and retiring that member's replica id, and the
// store's size in use growing with data and falling once deletes are collected.
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { GC, dels, importLines, puts, range, statuses, untilMembers } from '../helpers/gc.js';
import { eventually } from '../helpers/process.js';
import { operatorKey } from '../helpers/operator-key.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(30));
  await fleet.cleanup();
});

describe('garbage collection as the operator sees it', () => {
  it('status names the stopped member that holds collection back and since when; `forget` releases it and retires its replica id', async () => {
    const op = await operatorKey(fleet);
    const nodes = await fleet.cluster(3, { extra: [...GC, ...op.flags] });
    const [a, b, c] = nodes as [TestDaemon, TestDaemon, TestDaemon];
    await untilMembers(nodes);
    await importLines(fleet, a, puts(range(0, 200)));
    // C writes too: a replica that never wrote is in nobody's clock, and there is nothing to retire.
    expect((await c.cli('put', 'from-c', 'x')).code).toBe(0);
    await untilConverged(nodes, 201);
    const cReplica = (await c.status()).replicaId;
    // (heldBackBy is not checked here: a collection that ran before a node heard C's last clock names C.)
    expect((await statuses([a, b])).map((s) => s.gc.retiredReplicas)).toEqual([0, 0]);

    // A and B heard C's clock after it took every put (C lacks nothing but what comes next).
    await eventually(
      () => Promise.all([a, b].map((n) => n.status())),
      (all) => all.every((s) => s.peers.some((p) => p.peerId === c.peerId && p.behind === 0)),
      'A and B to hear C in an exchange with all 201 puts',
      30_000,
    );
    const stopping = Date.now();
    expect((await c.stop()).code).toBe(0);
    const stopped = Date.now();
    await importLines(fleet, a, dels(range(0, 100)));
    // C lacks the 100 deletes, so A and B keep their tombstones, and say why: C, silent since it stopped.
    const held = await eventually(
      () => statuses([a, b]),
      (all) => all.every((s) => s.keys === 101 && s.tombstones === 100 && s.gc.heldBackBy?.peer === c.peerId && (s.gc.stableAgeMs ?? 0) >= 3000),
      'A and B to hold their tombstones back for C for 3 s',
      30_000,
    );
    for (const s of held) {
      const by = s.gc.heldBackBy!;
      expect(by.lacking).toBe(100); // the dots of the deletes, and nothing else
      expect(by.since).toBeGreaterThan(stopping - 30_000);
      expect(by.since).toBeLessThanOrEqual(stopped);
      // C is the member heard longest ago: the stable clock is as old as its last digest.
      expect(s.gc.stableAgeMs).toBe(s.gc.lastRunAt! - by.since);
      expect(s.gc.collected.keys).toBe(0);
      expect(s.gc.members).toBe(2);
    }
    const text = await a.cli('status');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`held back by ${c.peerId} (lacks 100)`);
    expect(text.stdout).toMatch(/tombstones\s+100\b/);

    // The machine is gone for good: the operator forgets it on A with the operator key; B is told at the next exchanges.
    const forgot = await a.cli('forget', c.peerId, '--sign-key', op.file);
    expect(forgot.code, forgot.stderr).toBe(0);
    const done = await eventually(
      () => statuses([a, b]),
      (all) => all.every((s) => s.tombstones === 0 && s.gc.collected.keys === 100 && s.gc.heldBackBy === null && s.gc.retiredReplicas === 1 && s.digest === all[0]!.digest),
      'A and B to collect the tombstones and retire C\'s replica',
      30_000,
    );
    for (const s of done) {
      expect(s.keys).toBe(101);
      expect(s.gc.members).toBe(1);
    }
    const retired = a.child
      .stderr()
      .split('\n')
      .filter((l) => l.includes('replica retired'));
    expect(retired).toHaveLength(1);
    expect(retired[0]).toContain(`"replicaId":"${cReplica}"`);
    expect(retired[0]).toContain('its peer was forgotten');
    for (const n of [a, b]) {
      for (const key of range(0, 100)) expect(await n.client.getJson(key), `${key} on ${n.peerId}`).toBeUndefined();
    }
  });

  it('storeBytes grows with the data, and falls back once the deletes are collected', async () => {
    const a = await fleet.start({ extra: ['--gc-interval', '0'] });
    const [empty] = await statuses([a]);
    const keys = range(0, 20_000);
    await importLines(fleet, a, puts(keys, (k) => k.padEnd(1000, '.')));
    const [full] = await statuses([a]);
    expect(full!.keys).toBe(20_000);
    expect(full!.storeBytes - empty!.storeBytes).toBeGreaterThan(20_000_000);

    // GC off: the tombstones stay. LMDB does not merge pages a smaller record leaves half empty,
    // so the pages the values filled stay in use too.
    await importLines(fleet, a, dels(keys));
    const [held] = await statuses([a]);
    expect([held!.keys, held!.tombstones]).toEqual([0, 20_000]);
    expect(held!.storeBytes - empty!.storeBytes).toBeGreaterThan(20_000_000);
    expect((await a.stop()).code).toBe(0);

    // GC on: the tombstones go too.
    const again = await fleet.start({ dataDir: a.dataDir, extra: GC });
    const [collected] = await eventually(
      () => statuses([again]),
      ([s]) => s!.tombstones === 0 && s!.gc.collected.keys === 20_000,
      'the 20,000 tombstones to be collected',
      60_000,
    );
    console.log(`storeBytes: empty ${empty!.storeBytes}, 20,000 values ${full!.storeBytes}, 20,000 tombstones ${held!.storeBytes}, collected ${collected!.storeBytes}`);
    expect(collected!.storeBytes - empty!.storeBytes).toBeLessThan(1_000_000);
    const text = await again.cli('status');
    expect(text.stdout).toMatch(new RegExp(`store\\s+${(collected!.storeBytes / 1048576).toFixed(1)} MiB in use`));
  });
});
