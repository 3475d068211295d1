// A hostile member (a real libp2p peer holding the swarm key, with a replica key of its own and its
// signed head) sends a DIGEST whose GC frontier is the honest clock plus two dots of its own, then
// serves a snapshot: an empty one, or one holding only A's keys. Believed, the frontier made A
// "catch up" and drop every key the snapshot lacked (collected there, it said), and B and C then
// caught up from A: every key gone on every honest node within seconds. Now no honest node drops,
// hides or stops receiving anything: the frontier is refused, logged and counted, and replication
// goes on.
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import type { DeltaEntry } from '../../src/core/delta.js';
import { encodeDigest } from '../../src/sync/messages.js';
import { untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { importLines, puts, range, statuses } from '../helpers/gc.js';
import { exchangeWith, tellLies, withHostile } from '../helpers/hostile.js';
import { eventually } from '../helpers/process.js';
import { testReplica } from '../helpers/replicas.js';

const { fleet, hostile } = withHostile();

const me = testReplica();

describe('a hostile member sending a GC frontier past the cluster', () => {
  for (const story of ['an empty snapshot', "a snapshot of A's keys only"] as const) {
    it(`drops nothing on any honest node (${story})`, async () => {
      const nodes = await fleet.cluster(3, { gossipIntervalMs: 300, extra: ['--gc-interval', '500'] });
      const [a, b, c] = nodes as [TestDaemon, TestDaemon, TestDaemon];
      await untilConnected(nodes);
      await importLines(fleet, a, puts(range(0, 50, 'a')));
      await importLines(fleet, b, puts(range(0, 75, 'b')));
      await importLines(fleet, c, puts(range(0, 75, 'c')));
      const [before] = await untilConverged(nodes, 200);

      const h = await hostile();
      // What it learns as any member would: A's clock and states (an exchange from an empty clock).
      const seen = await exchangeWith(h, a.addr, encodeDigest({ replicaId: me.r, digest: new Uint8Array(16), clock: Clock.empty(), forgotten: [] }));
      const aKeys: DeltaEntry[] = seen.entries.filter((e) => Buffer.from(e.key).toString().startsWith('a/'));
      expect(aKeys).toHaveLength(50);
      const frontier = seen.digest.clock.clone().merge(Clock.fromIntervals([[me.r, 1, 2]]));
      const served = await tellLies(h, {
        digest: () => ({ replicaId: me.r, digest: new Uint8Array(16), clock: frontier, frontier, forgotten: [] }),
        snapshot: () => ({
          clock: frontier,
          frontier,
          heads: [...seen.heads, me.head(2)],
          keys: story === 'an empty snapshot' ? 0 : 50,
          chunks: story === 'an empty snapshot' ? [] : [aKeys],
        }),
      });
      // The lie, to A: an exchange opening with that DIGEST; A then asks for the snapshot, or refuses.
      const sentBefore = (await Promise.all(nodes.map((n) => n.status()))).reduce((sum, s) => sum + s.transfer.bytesSent, 0);
      await exchangeWith(h, a.addr, encodeDigest({ replicaId: me.r, digest: new Uint8Array(16), clock: frontier, frontier, forgotten: [] }), served.bytes);
      await eventually(
        async () => ({ snapshots: served.asked.snapshot, refused: (await a.status()).refused.frontiers }),
        (x) => x.snapshots > 0 || x.refused > 0,
        'A to act on the frontier (believe it by asking for the snapshot, or refuse it)',
        30_000,
      );
      // Long enough for a catch-up to run and spread (it took under 3 s): every node heard every
      // other again since, and still holds the 200 keys with the digest they had.
      const mark = Date.now();
      const after = await eventually(
        () => Promise.all(nodes.map(async (n) => ({ s: await n.status(), peers: await n.client.peers() }))),
        (all) => all.every(({ peers }, i) => nodes.every((o, j) => i === j || (peers.find((p) => p.peerId === o.peerId)?.lastSeen ?? 0) > mark + 3000)),
        'three more seconds of sync among the honest nodes',
        30_000,
      );
      for (const { s } of after) {
        expect(s.keys).toBe(200);
        expect(s.digest).toBe(before!.digest);
        expect(s.gc.withheldFrom.filter((g) => nodes.some((n) => n.peerId === g.peer))).toEqual([]);
      }
      expect(served.asked.snapshot).toBe(0);
      // Amplification: what the honest nodes sent the hostile (its exchanges with them, and theirs
      // with it as a connected peer) against what it sent, and all the honest nodes sent meanwhile.
      const sentAfter = after.reduce((sum, { s }) => sum + s.transfer.bytesSent, 0);
      console.log(`hostile frontier (${story}): the hostile sent ${served.bytes.sent} B, honest nodes sent it ${served.bytes.received} B (x${(served.bytes.received / served.bytes.sent).toFixed(2)}); all honest sync traffic meanwhile ${sentAfter - sentBefore} B`);
      expect(served.bytes.received).toBeLessThanOrEqual(10 * served.bytes.sent);
      const sa = after[0]!.s;
      expect(sa.refused.frontiers).toBeGreaterThanOrEqual(1);
      expect(sa.warnings.some((w) => w.includes(h.peerId.toString()) && w.includes('not believed'))).toBe(true);
      expect(a.child.stderr()).toMatch(/frontier covers writes this node never received: not believed/);
      for (const n of nodes) for (const key of ['a/0', 'b/74', 'c/30']) expect((await n.cli('get', key)).code).toBe(0);

      // Replication goes on: a write on each node reaches the others.
      for (const n of nodes) expect((await n.cli('put', `after-${n.peerId.slice(-4)}`, 'x')).code).toBe(0);
      await untilConverged(nodes, 203);
      const gaps = await statuses(nodes);
      for (const s of gaps) expect(s.gc.behind.filter((g) => nodes.some((n) => n.peerId === g.peer))).toEqual([]);
    });
  }
});
