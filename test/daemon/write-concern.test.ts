// Write concern with real daemons: --w N returns only once N replicas hold the write durably.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { eventually } from '../helpers/process.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs());
  await fleet.cleanup();
});

const has = async (n: TestDaemon, key: string) => (await n.client.get(key)) !== undefined;

describe('write concern', () => {
  it('a write acknowledged with --w 2 survives its writer being killed and wiped right after the ack', async () => {
    const [a, b, c] = (await fleet.cluster(3)) as [TestDaemon, TestDaemon, TestDaemon];
    await untilConnected([a, b, c]);
    const put = await a.cli('put', 'precious', 'data', '--w', '2', '--timeout', '10000', '--json');
    expect(put.code, put.stderr).toBe(0);
    expect(JSON.parse(put.stdout).replicas).toBeGreaterThanOrEqual(2);
    await a.stop('SIGKILL');
    rmSync(a.dataDir, { recursive: true, force: true });
    // the peer that acknowledged already holds it; the other gets it from that peer
    expect((await has(b, 'precious')) || (await has(c, 'precious'))).toBe(true);
    await untilConverged([b, c], 1);
    expect(Buffer.from((await c.client.get('precious'))!).toString()).toBe('data');
  });

  it('--w 3 with one node down times out with exit 3 and the count; --w all counts the peers that are up', async () => {
    const [a, b, c] = (await fleet.cluster(3)) as [TestDaemon, TestDaemon, TestDaemon];
    await untilConnected([a, b, c]);
    await c.stop();
    await eventually(() => a.status(), (s) => s.peers.filter((p) => p.state === 'alive').length === 1, 'a to see c gone');
    const t0 = Date.now();
    const put = await a.cli('put', 'k', 'v', '--w', '3', '--timeout', '1000');
    expect(put.code).toBe(3);
    expect(put.stderr).toMatch(/2 of 3 replicas stored the write within 1000 ms \(the write is not undone\)/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect((await a.cli('get', 'k')).stdout).toBe('v'); // not undone
    const all = await a.cli('put', 'k2', 'v2', '--w', 'all', '--timeout', '10000', '--json');
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout).replicas).toBe(2);
    const del = await a.cli('del', 'k', '--w', '2', '--timeout', '10000');
    expect(del.code, del.stderr).toBe(0);
  });

  it('works in pull mode through peer digests, and for an import', async () => {
    const [a, b] = (await fleet.cluster(2, { mode: 'pull' })) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    const put = await a.cli('put', 'pulled', 'yes', '--w', '2', '--timeout', '20000');
    expect(put.code, put.stderr).toBe(0);
    expect(await has(b, 'pulled')).toBe(true);
    const file = `${fleet.tmpdir()}/in.ndjson`;
    (await import('node:fs')).writeFileSync(file, Array.from({ length: 500 }, (_, i) => JSON.stringify({ key: `i${i}`, value: 'x' })).join('\n'));
    const imp = await a.cli('import', file, '--w', '2', '--timeout', '20000');
    expect(imp.code, imp.stderr).toBe(0);
    expect(await has(b, 'i499')).toBe(true);
  });
});
