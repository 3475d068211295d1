// Retired replicas with real daemons: a node rebuilt with its PeerId comes back as a new replica;
// its peers retire the old one and leave it out of the clocks they send each other, and nothing
// about replication changes.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { eventually, until } from '../helpers/process.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(30));
  await fleet.cleanup();
});

const count = (d: TestDaemon, text: string) => d.child.stderr().split(text).length - 1;

describe('retired replicas', () => {
  it('a node rebuilt three times with its PeerId: each old replica is retired on its peer, and writes on both still converge', async () => {
    const identity = join(fleet.tmpdir(), 'b.key');
    const a = await fleet.start();
    let b = await fleet.start({ bootstrap: [a.addr], identity });
    await untilConnected([a, b]);
    const replicas = new Set<string>();
    for (let i = 1; i <= 3; i++) {
      expect((await b.cli('put', `from-b/${i}`, 'x')).code).toBe(0);
      replicas.add((await untilConverged([a, b], i))[1]!.replicaId);
      // a has heard b's digest in a sync exchange (so it knows b's replica id), not only its push
      const bPeer = b.peerId;
      await eventually(() => a.status(), (s) => s.peers.some((p) => p.peerId === bPeer && p.behind === 0), 'a to hear b in an exchange', 30_000);
      await b.stop();
      rmSync(b.dataDir, { recursive: true, force: true });
      b = await fleet.start({ bootstrap: [a.addr], identity, dataDir: b.dataDir });
      await untilConverged([a, b], i);
      // a hears the same PeerId with a new replica id, and retires the old one
      await until(() => count(a, 'replica retired') >= i, `a to retire b's replica number ${i}`, 60_000);
    }
    const now = await untilConverged([a, b], 3);
    expect(replicas.has(now[1]!.replicaId)).toBe(false);
    expect(replicas.size).toBe(3);
    for (const r of replicas) expect(a.child.stderr()).toContain(`"replicaId":"${r}"`);

    // both sides keep writing; the clocks they send each other leave the retired entries out
    expect((await a.cli('put', 'from-a', 'y')).code).toBe(0);
    expect((await b.cli('put', 'from-b/after', 'z')).code).toBe(0);
    const [sa, sb] = (await untilConverged([a, b], 5)) as [Awaited<ReturnType<TestDaemon['status']>>, Awaited<ReturnType<TestDaemon['status']>>];
    expect(sa.clock).toEqual(sb.clock);
    for (const r of replicas) expect(Object.keys(sa.clock)).toContain(r); // retired, not forgotten: still in the clock
    // b learned the table from a's digests (it never saw its own old replicas come back)
    await eventually(() => b.status(), (s) => s.gc.retiredReplicas === 3, 'b to learn the retired replicas', 30_000);
    expect((await a.status()).gc.retiredReplicas).toBe(3);

    // the table survives a restart of a
    await a.stop();
    const again = await fleet.start({ ...a.opts, dataDir: a.dataDir, bootstrap: [b.addr] }); // a new port: it dials b
    expect((await b.cli('put', 'after-restart', 'w')).code).toBe(0);
    await untilConverged([again, b], 6);
    expect(again.child.stderr()).not.toContain('retired replicas is unreadable');
  }, 120_000);
});
