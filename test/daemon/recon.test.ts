// Hybrid recovery by range reconciliation with real daemons and the real CLI (issue 18): a node
// restored from a backup, after 1% of the keys were changed or deleted and garbage collection moved
// the frontier past the backup, receives the changed states and learns which keys are gone, and
// nothing else: it keeps the backup's other keys instead of fetching them again.
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, ok } from '../helpers/backup-cli.js';
import { Fleet, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { GC, dels, importLines, puts, range, statuses, untilMembers } from '../helpers/gc.js';
import { eventually, until } from '../helpers/process.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(30));
  await fleet.cleanup();
});

const KEYS = 10_000;
/** Values of about 100 bytes: a state of about 150, as in the measurement. */
const value = (tag: string) => (key: string) => `${tag} ${key} `.padEnd(100, '.');

/** Key and state bytes of `keys` in a stopped node's store (0 for a key it does not hold). */
async function stateBytes(dataDir: string, keys: string[]): Promise<number> {
  const root = openLmdb({ path: join(dataDir, 'store'), maxDbs: 4 });
  const states = root.openDB({ name: 'states', encoding: 'binary', keyEncoding: 'binary' });
  let n = 0;
  for (const k of keys) {
    const s = states.get(Buffer.from(k)) as Uint8Array | undefined;
    if (s !== undefined) n += k.length + s.length;
  }
  await root.close();
  return n;
}

describe('hybrid recovery by range reconciliation', () => {
  it('a restored node behind the GC frontier receives at most 1.5x the changed states\' bytes and keeps the backup\'s other keys', async () => {
    const [a, b] = (await fleet.cluster(2, { extra: GC })) as [TestDaemon, TestDaemon];
    await untilMembers([a, b]);
    await importLines(fleet, a, puts(range(0, KEYS), value('first')));
    await untilConverged([a, b], KEYS);
    const repo = join(fleet.tmpdir(), 'repo');
    await ok(a.cli('backup', 'create', '--type', 'full', '--repo', repo));

    // 1%: 50 keys changed, 50 deleted, spread over the keyspace
    const changed = range(0, 50).map((_, i) => `k/${i * 200 + 7}`);
    const deleted = range(0, 50).map((_, i) => `k/${i * 200 + 107}`);
    await importLines(fleet, a, [...puts(changed, value('second')), ...dels(deleted)]);
    // a newer backup elsewhere releases the first one's hold on collection (collector.ts)
    await ok(a.cli('backup', 'create', '--type', 'full', '--repo', join(fleet.tmpdir(), 'newer')));
    const [sa] = await eventually(
      () => statuses([a, b]),
      (all) => all.every((s) => s.tombstones === 0 && s.keys === KEYS - 50 && s.gc.frontier > 0 && s.digest === all[0]!.digest),
      'A and B to collect every tombstone',
      60_000,
    );

    const dataDir = join(fleet.tmpdir(), 'restored');
    await ok(cli('restore', '--repo', repo, '--data-dir', dataDir));
    const oldDeleted = await stateBytes(dataDir, deleted); // what it must learn is gone
    const c = await fleet.start({ dataDir, bootstrap: [a.addr], extra: GC });
    const done = 'caught up from the peer by range reconciliation';
    await until(() => c.child.stderr().includes(done), 'C to catch up by range reconciliation', 60_000);
    const report = JSON.parse(c.child.stderr().split('\n').find((l) => l.includes(done))!) as { received: number; removed: number; absent: number; bytes: number; rounds: number };
    const converged = await untilConverged([a, b, c], KEYS - 50, 60_000);
    expect(converged[2]!.digest).toBe(sa!.digest);
    for (const k of deleted.slice(0, 5)) expect((await c.cli('get', k)).code, k).not.toBe(0);
    expect((await c.cli('get', changed[3]!)).stdout).toBe(value('second')(changed[3]!));
    expect((await c.cli('get', 'k/1234')).stdout).toBe(value('first')('k/1234'));

    // only the changed keys moved: the 9,900 untouched ones were kept, not fetched again
    expect(report.received).toBe(changed.length);
    expect(report.removed).toBe(deleted.length);
    const { transfer } = await c.status();
    await c.stop();
    const newChanged = await stateBytes(dataDir, changed);
    console.log(
      `recon catch-up: ${report.bytes} bytes received in ${report.rounds} rounds for ${newChanged} bytes of changed states ` +
        `(ratio ${(report.bytes / newChanged).toFixed(2)}; ${oldDeleted} bytes of deleted states besides); all sync traffic of the node: ${transfer.bytesReceived} received, ${transfer.bytesSent} sent`,
    );
    // the deleted keys' old states are not counted: what the node must receive is the changed ones
    expect(report.bytes).toBeLessThanOrEqual(1.5 * newChanged);
  });
});
