// Peers remembered across a restart (meta record `peers`), with real daemons: nodes that bootstrap
// from one seed find each other again while the seed is down, and the seed, restarted with no
// bootstrap address at all, finds them.
import { afterEach, describe, expect, it } from 'vitest';
import { Keyspace } from '../../src/store/keyspace.js';
import { META_PEERS } from '../../src/sync/known-peers-store.js';
import { Fleet, untilConnected, type TestDaemon } from '../helpers/daemons.js';
import { eventually } from '../helpers/process.js';
import { freePorts, putOn, tcp, untilValue } from '../helpers/ports.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(30));
  await fleet.cleanup();
});

/** Waits until `node` sees every one of `others` alive. */
async function untilSees(node: TestDaemon, others: TestDaemon[], ms = 60_000): Promise<void> {
  await eventually(
    () => node.status(),
    (s) => others.every((o) => s.peers.some((p) => p.peerId === o.peerId && p.state === 'alive')),
    `${node.peerId.slice(-6)} to see ${others.map((o) => o.peerId.slice(-6)).join(', ')} alive`,
    ms,
  );
}

describe('remembered peers', () => {
  it('nodes that bootstrapped from one seed find each other after a restart while the seed is down, and the seed finds them with no bootstrap address', async () => {
    const [pa, pb, pc] = (await freePorts(3)).map(tcp) as [string, string, string];
    const seed = [pa]; // bare, as in config/example-three-machines and scripts/cluster.sh
    const a = await fleet.start({ listen: pa });
    const b = await fleet.start({ listen: pb, bootstrap: seed });
    const c = await fleet.start({ listen: pc, bootstrap: seed });
    await untilConnected([a, b, c], 60_000); // b and c met through a's peer exchange
    await putOn(b, 'before', 'restart');
    await untilValue([a, b, c], 'before', 'restart', 60_000);

    for (const n of [a, b, c]) expect((await n.stop()).code).toBe(0);

    // a stays down: b and c know each other only from before the restart
    const b2 = await fleet.start({ listen: pb, bootstrap: seed, dataDir: b.dataDir });
    const c2 = await fleet.start({ listen: pc, bootstrap: seed, dataDir: c.dataDir });
    expect([b2.peerId, c2.peerId]).toEqual([b.peerId, c.peerId]);
    await untilSees(b2, [c2]);
    await untilSees(c2, [b2]);
    await putOn(c2, 'while', 'seed-down');
    await untilValue([b2], 'while', 'seed-down', 60_000);
    for (const n of [b2, c2]) expect(n.child.stderr()).toMatch(/remembered peers restored/);

    // the seed alone, no bootstrap address: it dials the peers it remembers
    const a2 = await fleet.start({ listen: pa, dataDir: a.dataDir });
    await untilSees(a2, [b2, c2]);
    await untilValue([a2], 'while', 'seed-down', 60_000);
    expect(a2.child.stderr()).toMatch(/remembered peers restored/);
    for (const n of [a2, b2, c2]) expect(n.child.stderr()).not.toMatch(/unreadable/);
  }, 240_000);

  it('a damaged record is logged and the node starts from its bootstrap addresses, then writes a good one', async () => {
    const [pa, pb] = (await freePorts(2)).map(tcp) as [string, string];
    const a = await fleet.start({ listen: pa });
    const b = await fleet.start({ listen: pb, bootstrap: [pa] });
    await untilConnected([a, b], 60_000);
    expect((await b.stop()).code).toBe(0);
    const ks = await Keyspace.openDir(b.dataDir);
    await ks.putMeta(META_PEERS, Buffer.from('{"v":1,"peers":[["12D3Koo'));
    await ks.close();
    const b2 = await fleet.start({ listen: pb, bootstrap: [pa], dataDir: b.dataDir });
    await untilSees(b2, [a]);
    expect(b2.child.stderr()).toMatch(/the record of remembered peers is unreadable; starting with the bootstrap addresses only/);
    expect((await b2.stop()).code).toBe(0); // the stop writes the record again
    const again = await Keyspace.openDir(b.dataDir);
    const raw = again.getMeta(META_PEERS);
    await again.close();
    expect(JSON.parse(Buffer.from(raw!).toString())).toMatchObject({ v: 1, peers: [[a.peerId, expect.any(Number), [pa]]] });
  }, 120_000);
});
