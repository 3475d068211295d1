// Rebuilding a node from its peers, and catching up after a restart, with real daemons.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, untilConnected, untilConverged, type DaemonOptions, type TestDaemon } from '../helpers/daemons.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs());
  await fleet.cleanup();
});

async function importKeys(node: TestDaemon, n: number, prefix = 'k'): Promise<void> {
  const file = join(fleet.tmpdir(), 'keys.ndjson');
  writeFileSync(file, Array.from({ length: n }, (_, i) => JSON.stringify({ key: `${prefix}/${i}`, value: 'v'.repeat(100) })).join('\n'));
  const r = await node.cli('import', file);
  expect(r.code, r.stderr).toBe(0);
}

describe('rebuild and catch-up', () => {
  it('a node restarted with its data intact receives only what it missed', async () => {
    const [a, b, c] = (await fleet.cluster(3)) as [TestDaemon, TestDaemon, TestDaemon];
    await untilConnected([a, b, c]);
    await importKeys(a, 5000);
    await untilConverged([a, b, c], 5000);
    const fullSync = (await c.status()).transfer.bytesReceived; // what the whole keyspace cost c
    expect(fullSync).toBeGreaterThan(5000 * 100);

    await c.stop();
    await importKeys(a, 50, 'missed');
    const again = await fleet.start({ ...c.opts, dataDir: c.dataDir });
    await untilConverged([a, b, again], 5050);
    const t = (await again.status()).transfer;
    expect(t.keysReceived).toBeGreaterThanOrEqual(50);
    expect(t.keysReceived).toBeLessThan(500); // the 50 it missed, perhaps from both peers; not the 5,050
    expect(t.bytesReceived).toBeLessThan(fullSync / 10);
  });

  async function rebuild(keepIdentity: boolean): Promise<void> {
    const identity = keepIdentity ? join(fleet.tmpdir(), 'c.key') : undefined;
    const a = await fleet.start();
    const b = await fleet.start({ bootstrap: [a.addr] });
    const cOpts: DaemonOptions = { bootstrap: [a.addr], identity };
    const c = await fleet.start(cOpts);
    await untilConnected([a, b, c]);
    await importKeys(a, 50_000);
    await untilConverged([a, b, c], 50_000, 120_000);
    const before = await c.status();

    await c.stop('SIGKILL');
    rmSync(c.dataDir, { recursive: true, force: true });
    const rebuilt = await fleet.start({ ...cOpts, dataDir: c.dataDir }); // the same flags
    const statuses = await untilConverged([a, b, rebuilt], 50_000, 120_000);
    const after = statuses[2]!;
    expect(after.replicaId).not.toBe(before.replicaId); // a wiped node is a new replica...
    expect(after.peerId === before.peerId).toBe(keepIdentity); // ...whatever its PeerId
    expect(after.digest).toBe(statuses[0]!.digest);

    expect((await rebuilt.cli('put', 'written-after-rebuild', 'yes')).code).toBe(0);
    await untilConverged([a, b, rebuilt], 50_001);
    expect((await a.cli('get', 'written-after-rebuild')).stdout).toBe('yes');
  }

  it('kill -9 a node of three with 50,000 keys, wipe its data dir, restart it: it is rebuilt and its writes reach the others', () =>
    rebuild(false), 240_000);

  it('the same when it keeps its identity file (same PeerId, new replica)', () => rebuild(true), 240_000);
});
