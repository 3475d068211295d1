// Real daemons as child processes on 127.0.0.1, real LMDB files, real libp2p connections.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, untilConnected, untilConverged } from '../helpers/daemons.js';
import { eventually, until } from '../helpers/process.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs());
  await fleet.cleanup();
});

describe.each(['push', 'pull', 'hybrid'] as const)('three daemons in %s mode', (mode) => {
  it('converge on writes made on every node, and on an import of 20,000 keys', async () => {
    const nodes = await fleet.cluster(3, { mode });
    await untilConnected(nodes);

    for (const [i, n] of nodes.entries()) {
      const put = await n.cli('put', `from-${i}`, `value-${i}`);
      expect(put.code, put.stderr).toBe(0);
    }
    const del = await nodes[1]!.cli('del', 'from-0');
    expect(del.code, del.stderr).toBe(0);
    await untilConverged(nodes, 2);
    for (const n of nodes) {
      expect((await n.cli('get', 'from-2')).stdout).toBe('value-2');
      expect((await n.cli('get', 'from-0')).code).toBe(1); // the delete replicated too
    }

    const file = join(fleet.tmpdir(), 'import.ndjson');
    writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ key: `bulk/${i}`, value: `v${i}` })).join('\n') + '\n');
    const imp = await nodes[2]!.cli('import', file);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stdout).toMatch(/20000/);
    const statuses = await untilConverged(nodes, 20_002);
    expect(new Set(statuses.map((s) => s.digest)).size).toBe(1);
    expect((await nodes[0]!.cli('get', 'bulk/19999')).stdout).toBe('v19999');
  });
});

describe('membership and conflicts', () => {
  it('a node given one bootstrap address ends up connected to every peer', async () => {
    const a = await fleet.start();
    const b = await fleet.start({ bootstrap: [a.addr] });
    const c = await fleet.start({ bootstrap: [b.addr] });
    const d = await fleet.start({ bootstrap: [c.addr] });
    await untilConnected([a, b, c, d]);
    const peersOfA = (await a.client.peers()).map((p) => p.peerId).sort();
    expect(peersOfA).toEqual([b.peerId, c.peerId, d.peerId].sort());
  });

  it('redials a peer that went away, with backoff, once it is back at its address', async () => {
    const aDir = fleet.tmpdir();
    let a = await fleet.start({ dataDir: aDir });
    const listen = a.addr.replace(/\/p2p\/.*$/, ''); // come back on the same port
    const b = await fleet.start({ bootstrap: [a.addr] });
    await untilConnected([a, b]);
    await a.stop();
    await eventually(() => b.status(), (s) => s.peers.every((p) => p.state !== 'alive'), 'b to notice a is gone');
    // a comes back only once b has tried it while away (a quick restart could beat b's first redial)
    await until(() => /dial failed/.test(b.child.stderr()), 'b to try a while it is away', 60_000);
    a = await fleet.start({ dataDir: aDir, listen }); // a has no bootstrap: b must come back to it
    await untilConnected([a, b]);
    expect((await a.cli('put', 'after-restart', 'yes')).code).toBe(0);
    await untilConverged([a, b], 1);
    expect(b.child.stderr()).toMatch(/dial failed/); // it did try while a was away
  });

  it('writes to one key made while two nodes cannot reach each other end as siblings with one resolved value', async () => {
    const a = await fleet.start();
    const bDir = fleet.tmpdir();
    let b = await fleet.start({ dataDir: bDir }); // not bootstrapped: the two do not know each other
    expect((await a.cli('put', 'k', 'from-a')).code).toBe(0);
    expect((await b.cli('put', 'k', 'from-b')).code).toBe(0);
    await b.stop();
    b = await fleet.start({ dataDir: bDir, bootstrap: [a.addr] });
    await untilConverged([a, b], 1);
    const views = await Promise.all([a, b].map(async (n) => JSON.parse((await n.cli('get', 'k', '--json')).stdout)));
    for (const v of views) {
      expect(v.siblings.map((s: { value: string }) => s.value).sort()).toEqual(['from-a', 'from-b']);
      expect(v.value).toBe(views[0].value);
    }
    // a write with the context it read supersedes both siblings, everywhere
    expect((await a.cli('put', 'k', 'resolved', '--context', views[0].context)).code).toBe(0);
    await untilConverged([a, b], 1);
    const after = JSON.parse((await b.cli('get', 'k', '--json')).stdout);
    expect(after.siblings.map((s: { value: string }) => s.value)).toEqual(['resolved']);
  });
});

describe('lifecycle', () => {
  it('SIGTERM stops a daemon cleanly; a restart keeps its data and identity', async () => {
    const dir = fleet.tmpdir();
    const first = await fleet.start({ dataDir: dir });
    for (let i = 0; i < 5; i++) expect((await first.cli('put', `k${i}`, `v${i}`)).code).toBe(0);
    const before = await first.status();
    const exit = await first.stop('SIGTERM');
    expect(exit.code, first.child.stderr()).toBe(0);
    expect(first.child.stderr()).toMatch(/"msg":"stopped"/);
    const again = await fleet.start({ dataDir: dir });
    const after = await again.status();
    expect(after.peerId).toBe(before.peerId);
    expect(after.replicaId).toBe(before.replicaId);
    expect(after.digest).toBe(before.digest);
    expect(after.keys).toBe(5);
    expect((await again.cli('get', 'k3')).stdout).toBe('v3');
  });
});
