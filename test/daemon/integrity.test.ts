// verify and repair with real daemons: damage injected into a stopped node's LMDB files, found by
// `replikv verify`, mended by `replikv repair` from a peer without losing the node's own write.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { Keyspace } from '../../src/store/keyspace.js';
import { Fleet, untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs());
  await fleet.cleanup();
});

const KEYS = 2000;
/** No gossip rounds and no pushes: nothing moves between the nodes unless a command moves it. */
const QUIET = { mode: 'pull' as const, gossipIntervalMs: 600_000 };

async function damage(dataDir: string): Promise<void> {
  const root = openLmdb({ path: join(dataDir, 'store'), maxDbs: 4 });
  const states = root.openDB({ name: 'states', encoding: 'binary', keyEncoding: 'binary' });
  await root.transaction(() => {
    const k5 = Buffer.from('k/5');
    const bytes = Buffer.from(states.get(k5) as Buffer);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0x20, bytes.length - 1); // a flipped bit in the value
    states.put(k5, bytes);
    states.remove(Buffer.from('k/6')); // a lost state
    states.put(Buffer.from('k/7'), Buffer.from([0xff, 0x00])); // an unreadable one
  });
  await root.close();
}

describe('verify and repair', () => {
  it('verify finds damage that repair mends from a peer, keeping a write only the damaged node holds', async () => {
    let [a, b] = (await fleet.cluster(2)) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    const file = join(fleet.tmpdir(), 'keys.ndjson');
    writeFileSync(file, Array.from({ length: KEYS }, (_, i) => JSON.stringify({ key: `k/${i}`, value: `value ${i}` })).join('\n'));
    expect((await a.cli('import', file)).code).toBe(0);
    await untilConverged([a, b], KEYS);
    const healthy = await a.cli('verify');
    expect(healthy.code, healthy.stdout + healthy.stderr).toBe(0);
    expect(healthy.stdout).toMatch(new RegExp(`peer ${b.peerId}\\s+ok: same digest at the same clock`));

    await Promise.all([a.stop(), b.stop()]);
    await damage(a.dataDir);
    const ks = await Keyspace.openDir(a.dataDir); // a write of a's own replica, made while b cannot see it
    await ks.put('only-a', Buffer.from('mine'));
    await ks.close();
    b = await fleet.start({ ...QUIET, dataDir: b.dataDir });
    a = await fleet.start({ ...QUIET, dataDir: a.dataDir, bootstrap: [b.addr] });
    await untilConnected([a, b]);

    const found = await a.cli('verify');
    expect(found.code).toBe(1);
    expect(found.stdout).toMatch(/^local\s+DAMAGED: .* 1 unreadable states/m);
    expect(found.stderr).toMatch(/damage found: run `replikv repair`/);
    expect((await b.cli('verify')).code).toBe(0); // b itself is fine

    // a --peer that is no PeerId is named as such (as forget does), not as a peer not connected
    const bogus = await a.cli('repair', '--peer', '12D3KooWbogusbogus');
    expect(bogus.code).toBe(1);
    expect(bogus.stderr).toMatch(/"12D3KooWbogusbogus" is not a PeerId/);

    const repaired = await a.cli('repair', '--json');
    expect(repaired.code, repaired.stderr).toBe(0);
    const report = JSON.parse(repaired.stdout) as { peer: string; received: number; replaced: number; removed: number };
    expect(report).toMatchObject({ peer: b.peerId, received: KEYS, removed: 0 });
    expect(report.replaced).toBe(3);
    expect(a.child.stderr()).toMatch(/repair complete/);
    const after = await a.cli('verify', '--json');
    expect(after.code, after.stdout).toBe(0);
    for (const [key, value] of [['k/5', 'value 5'], ['k/6', 'value 6'], ['k/7', 'value 7'], ['only-a', 'mine']]) {
      expect((await a.cli('get', key!)).stdout).toBe(value);
    }
    expect((await a.status()).state).toBe('ready');

    // back to normal gossip: both end with every key, a's own write included
    await a.stop();
    a = await fleet.start({ dataDir: a.dataDir, bootstrap: [b.addr] });
    await b.stop();
    b = await fleet.start({ dataDir: b.dataDir, bootstrap: [a.addr] });
    await untilConverged([a, b], KEYS + 1);
    expect((await b.cli('get', 'only-a')).stdout).toBe('mine');
  });
});
