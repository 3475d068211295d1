// Garbage collection of deletes with real daemons: tombstones collected on every node, a node
// down past the grace period refused and rebuilt, a restored backup behind a peer's GC horizon
// catching up (by range reconciliation), and an incremental backup after a collection taken as full.
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Keyspace } from '../../src/store/keyspace.js';
import { cli, ok } from '../helpers/backup-cli.js';
import { Fleet, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { GC, dels, importLines, logged, puts, range, statuses, untilMembers } from '../helpers/gc.js';
import { eventually, until } from '../helpers/process.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(30));
  await fleet.cleanup();
});

/** Every live key of a node, through scan. */
async function liveKeys(node: TestDaemon): Promise<string[]> {
  const keys: string[] = [];
  for (let after: string | undefined; ; ) {
    const page = await node.client.scan({ limit: 10_000, ...(after === undefined ? {} : { after }) });
    keys.push(...page.items.map((i) => i.key));
    if (page.cursor === null) return keys;
    after = page.cursor;
  }
}

interface Read {
  /** When it was sent (ms since the epoch) and how long it took to answer. */
  at: number;
  ms: number;
}

/** Reads `key` on `node` back to back until `done()`, timing each read. */
async function readLoop(node: TestDaemon, key: string, done: () => boolean): Promise<Read[]> {
  const reads: Read[] = [];
  while (!done()) {
    const at = Date.now();
    const t = performance.now();
    expect(await node.client.get(key)).toBeDefined();
    reads.push({ at, ms: performance.now() - t });
  }
  return reads;
}

/** The reads that overlapped one of the collections `node` logged (each logs when it ends and how long it ran). */
function duringCollection(node: TestDaemon, reads: Read[]): Read[] {
  const runs = node.child
    .stderr()
    .split('\n')
    .filter((l) => l.includes('"msg":"garbage collected"'))
    .map((l) => JSON.parse(l) as { time: number; ms: number })
    .map((r) => ({ from: r.time - r.ms, to: r.time }));
  return reads.filter((r) => runs.some((run) => r.at <= run.to && r.at + r.ms >= run.from));
}

/** Waits until each node has heard from each other one `ms` after now: sync rounds went on meanwhile. */
async function moreRounds(nodes: TestDaemon[], ms = 1500): Promise<void> {
  const mark = Date.now() + ms;
  await eventually(
    () => Promise.all(nodes.map((n) => n.client.peers())),
    (all) => all.every((peers, i) => nodes.every((o, j) => i === j || (peers.find((p) => p.peerId === o.peerId)?.lastSeen ?? 0) > mark)),
    `${nodes.length} daemons to keep syncing for ${ms} ms`,
    30_000,
  );
}

/** None of these nodes withholds deltas from another or is behind one: they crossed each other's GC horizons. */
function untilNoGap(nodes: TestDaemon[]) {
  const ids = new Set(nodes.map((n) => n.peerId));
  return eventually(
    () => statuses(nodes),
    (all) => all.every((s) => [...s.gc.behind, ...s.gc.withheldFrom].every((g) => !ids.has(g.peer))),
    'every node to have caught up with every GC horizon',
    30_000,
  );
}

/** The deleted keys read as not found on `node`, and the kept ones are exactly its live keys. */
async function expectOnly(node: TestDaemon, kept: string[], deleted: string[]): Promise<void> {
  expect((await liveKeys(node)).sort(), node.peerId).toEqual([...kept].sort());
  for (const key of deleted) expect(await node.client.get(key), `${key} on ${node.peerId}`).toBeUndefined();
}

describe('garbage collection with real daemons', () => {
  it('three daemons collect the tombstones of 90,000 deletes, and reads keep answering meanwhile', async () => {
    const t0 = Date.now();
    const laps: string[] = [];
    const lap = (what: string) => laps.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const nodes = await fleet.cluster(3, { extra: GC });
    const [a] = nodes as [TestDaemon, TestDaemon, TestDaemon];
    await untilMembers(nodes);
    lap('connected');
    await importLines(fleet, a, puts(range(0, 100_000)));
    lap('imported');
    await untilConverged(nodes, 100_000, 60_000);
    lap('replicated');

    // Reads on every node, back to back, from the first delete until every tombstone is collected.
    let collecting = true;
    const loops = nodes.map((n) => readLoop(n, 'k/42', () => !collecting));
    try {
      await importLines(fleet, a, dels(range(10_000, 100_000)));
      lap('deleted');
      const done = await eventually(
        () => statuses(nodes),
        // Every node got every delete as a tombstone, and collected each one.
        (all) => all.every((s) => s.tombstones === 0 && s.keys === 10_000 && s.digest === all[0]!.digest && s.gc.collected.keys === 90_000),
        'every node to collect the 90,000 tombstones',
        60_000,
      );
      lap('collected');
      for (const s of done) expect(s.gc.frontier).toBeGreaterThan(0);
    } finally {
      collecting = false;
      await Promise.allSettled(loops); // none is left talking to a daemon the cleanup kills
    }
    const reads = await Promise.all(loops);
    const expected = range(0, 10_000).sort();
    for (const n of nodes) {
      expect((await liveKeys(n)).sort()).toEqual(expected);
      for (let i = 10_000; i < 100_000; i += 997) {
        expect(await n.client.get(`k/${i}`)).toBeUndefined();
        expect(await n.client.getJson(`k/${i}`)).toBeUndefined(); // collected: no state is left at all
      }
    }
    // Measured, not tuned: the slowest read while a collection ran on that node (and over the whole
    // delete and collection, the import of the deletes and their replication included).
    const slowest = (rs: Read[]) => Math.round(Math.max(...rs.map((r) => r.ms)));
    const gcReads = nodes.map((n, i) => duringCollection(n, reads[i]!));
    console.log(
      `gc test: ${laps.join(', ')}; reads while collecting: ${gcReads.map((rs) => `${rs.length}, slowest ${slowest(rs)} ms`).join('; ')}; ` +
        `all reads: ${reads.map((rs) => `${rs.length}, slowest ${slowest(rs)} ms`).join('; ')}`,
    );
    for (const rs of gcReads) {
      expect(rs.length).toBeGreaterThan(10);
      expect(slowest(rs)).toBeLessThan(2000);
    }
  });

  it('a node down past gcGraceMs is refused when it comes back with its old data, and rebuilt from an empty data directory', async () => {
    const extra = ['--gc-grace', '3000', ...GC];
    const nodes = await fleet.cluster(3, { extra });
    const [a, b, c] = nodes as [TestDaemon, TestDaemon, TestDaemon];
    await untilMembers(nodes);
    await importLines(fleet, a, puts(range(0, 200)));
    await untilConverged(nodes, 200);
    expect((await c.stop()).code).toBe(0);

    const kept = range(100, 200);
    const deleted = range(0, 100);
    await importLines(fleet, a, dels(deleted));
    // Silent for over 3 s, C is declared gone: A and B stop waiting for it and collect.
    const collected = await eventually(
      () => statuses([a, b]),
      (all) => all.every((s) => s.tombstones === 0 && s.gc.collected.keys === 100 && s.keys === 100 && s.digest === all[0]!.digest && s.gc.gone.includes(c.peerId)),
      'A and B to declare C gone and collect every tombstone',
      30_000,
    );

    // C comes back with its old data: it lacks the deletes A and B collected, so it is refused.
    const back = await fleet.start({ ...c.opts, dataDir: c.dataDir });
    expect(back.peerId).toBe(c.peerId);
    const silent = 'refusing deltas to a peer that was silent for longer than gcGraceMs';
    await until(() => logged(a, silent, c.peerId) || logged(b, silent, c.peerId), 'A or B to refuse C', 30_000);
    const [refused] = await eventually(
      () => statuses([back]),
      ([s]) => s!.gc.refusedAsGone !== null && s!.warnings.some((w) => w.includes('re-bootstrap')),
      'C to say it is refused and must re-bootstrap',
      30_000,
    );
    expect([a.peerId, b.peerId]).toContain(refused!.gc.refusedAsGone!.peer);
    expect(refused!.keys).toBe(200); // it keeps its old data, and nothing comes back from it
    await moreRounds([a, b, back]);
    for (const n of [a, b]) await expectOnly(n, kept, deleted);
    const after = await statuses([a, b]);
    expect(after.map((s) => [s.keys, s.digest])).toEqual(collected.map((s) => [s.keys, s.digest]));

    // Rebuilt from an empty data directory (the old one moved away whole, identity included).
    expect((await back.stop()).code).toBe(0);
    renameSync(c.dataDir, join(fleet.tmpdir(), 'old-c'));
    const rebuilt = await fleet.start({ dataDir: c.dataDir, bootstrap: [a.addr], extra });
    expect(rebuilt.peerId).not.toBe(c.peerId);
    const ready = await eventually(
      () => statuses([a, rebuilt]),
      ([sa, sr]) => sr!.state === 'ready' && sr!.keys === 100 && sr!.digest === sa!.digest,
      'the rebuilt node to be ready with A\'s keyspace',
      30_000,
    );
    expect(ready[1]!.gc.refusedAsGone).toBeNull();
    expect(ready[1]!.warnings.filter((w) => w.includes('re-bootstrap'))).toEqual([]);
    // Its clock took in what A collected: nobody withholds deltas from it.
    await moreRounds([a, b, rebuilt]);
    await untilNoGap([a, b, rebuilt]);
    await expectOnly(rebuilt, kept, deleted);
  });

  it('a node restored from a backup taken before a collection catches up by range reconciliation', async () => {
    const [a, b] = (await fleet.cluster(2, { extra: GC })) as [TestDaemon, TestDaemon];
    await untilMembers([a, b]);
    await importLines(fleet, a, puts(range(1, 101)));
    await untilConverged([a, b], 100);
    const repo = join(fleet.tmpdir(), 'repo');
    await ok(a.cli('backup', 'create', '--type', 'full', '--repo', repo));

    const kept = range(51, 101);
    const deleted = range(1, 51);
    await importLines(fleet, a, dels(deleted));
    // The last backup counts as one of A's members (the next incremental must carry the deletes);
    // a newer backup, elsewhere, lets A collect them.
    await ok(a.cli('backup', 'create', '--type', 'full', '--repo', join(fleet.tmpdir(), 'newer')));
    await eventually(
      () => statuses([a, b]),
      (all) => all.every((s) => s.tombstones === 0 && s.keys === 50 && s.gc.frontier > 0 && s.digest === all[0]!.digest),
      'A and B to collect every tombstone',
      30_000,
    );

    // The restored node holds k/1..k/50 and lacks the deletes A and B collected: behind their horizon.
    const dataDir = join(fleet.tmpdir(), 'restored');
    await ok(cli('restore', '--repo', repo, '--data-dir', dataDir));
    const c = await fleet.start({ dataDir, bootstrap: [a.addr], extra: GC });
    const catchingUp = 'behind the peer\'s garbage-collection horizon: catching up from it by range reconciliation';
    await until(() => logged(c, catchingUp, a.peerId) || logged(c, catchingUp, b.peerId), 'C to catch up by range reconciliation', 30_000);
    const nodes = [a, b, c];
    const converged = await untilConverged(nodes, 50);
    expect(converged[2]!.gc.refusedAsGone).toBeNull();
    // Caught up, its clock holds what A and B collected: nobody withholds deltas from it any more.
    await moreRounds(nodes);
    await untilNoGap(nodes);
    for (const n of nodes) await expectOnly(n, kept, deleted);
    expect((await statuses(nodes)).map((s) => [s.keys, s.digest])).toEqual(converged.map((s) => [s.keys, s.digest]));
  });

  it('a partial backup waits for nothing it needs: deletes after the last backup are kept for the next incremental, and a differential after a collection is taken as full', async () => {
    const a = await fleet.start({ extra: GC });
    await importLines(fleet, a, puts(range(0, 1000)));
    const repo = join(fleet.tmpdir(), 'repo');
    await ok(a.cli('backup', 'create', '--type', 'full', '--repo', repo));
    const kept = range(300, 1000);
    await importLines(fleet, a, dels(range(0, 300)));
    // The full backup lacks these deletes: they are not collected, so an incremental can carry them.
    const after = Date.now() + 600;
    const ran = await eventually(() => a.status(), (st) => (st.gc.lastRunAt ?? 0) > after, 'collections to run after the deletes');
    expect(ran.tombstones).toBe(300);
    expect(await ok(a.cli('backup', 'create', '--type', 'incremental', '--repo', repo))).not.toMatch(/taken as a full backup/);
    // Now the last backup has them: they go.
    const [collected] = await eventually(() => statuses([a]), ([s]) => s!.tombstones === 0 && s!.keys === 700 && s!.gc.collected.keys === 300, 'A to collect every tombstone');

    // A differential's parent is the full backup, which never saw the collected deletes.
    const out = await ok(a.cli('backup', 'create', '--type', 'differential', '--repo', repo));
    expect(out).toMatch(/taken as a full backup/);
    const list = JSON.parse(await ok(cli('backup', 'list', '--repo', repo, '--json'))) as { id: string; type: string; parent: string | null; keys: number }[];
    expect(list.map((m) => [m.type, m.keys])).toEqual([
      ['full', 1000],
      ['incremental', 700],
      ['full', 700],
    ]);

    const target = join(fleet.tmpdir(), 'restored');
    await ok(cli('restore', '--repo', repo, '--data-dir', target));
    const ks = await Keyspace.openDir(target);
    try {
      expect([ks.summary().digest, ks.count()]).toEqual([collected!.digest, 700]);
      const live = ks.scan({ limit: 10_000 }).items.map((i) => i.key);
      expect(live.sort()).toEqual([...kept].sort());
      for (const key of range(0, 300)) expect(ks.get(key)).toBeUndefined();
    } finally {
      await ks.close();
    }
  });
});
