// A hostile member (a real libp2p peer holding the swarm key) teaches two honest nodes 100,000
// forged retired-replica records each, different ones to each, as many as fit in its DIGESTs, and
// leaves. A record is kept only with evidence (this node's clock holds exactly [1..c] of the
// replica), so the forged ones are refused and counted; the few that name a real replica at its
// real counter are harmless shorthands and the two tables end equal. Idle traffic between the
// honest nodes returns to what it was before the attack, and nothing honest is lost.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import type { Status } from '../../src/control/api.js';
import { FrameWriter, readFrames } from '../../src/net/frames.js';
import type { Network } from '../../src/net/node.js';
import { decodeMessage, encodeDigest, END_MESSAGE, MAX_RETIRED_RECORDS, MSG, SYNC_PROTOCOL, type DigestMessage } from '../../src/sync/messages.js';
import { untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { digestOf, frame, withHostile } from '../helpers/hostile.js';
import { eventually } from '../helpers/process.js';
import { testReplica } from '../helpers/replicas.js';

const { fleet, hostile } = withHostile();

const me = testReplica().r; // the hostile's own replica id
const FORGED_PER_NODE = 100_000;

/**
 * One sync exchange started by the hostile: a DIGEST with the target's own clock and digest (so it
 * owes no delta and sees no divergence) teaching `records`, then END. Returns the bytes it sent.
 */
async function teach(h: Network, target: string, own: DigestMessage, records: [string, number][]): Promise<number> {
  const stream = await h.dialProtocol(multiaddr(target), SYNC_PROTOCOL);
  const w = new FrameWriter(stream);
  const digest = frame(encodeDigest({ replicaId: me, digest: own.digest, clock: own.clock, forgotten: [], retired: { hash: randomBytes(16), omitted: new Uint8Array(0), records } }));
  const end = frame(END_MESSAGE);
  stream.send(digest);
  stream.send(end);
  for await (const f of readFrames(stream, { maxFrameBytes: 64 << 20 })) if (decodeMessage(f).type === MSG.end) break;
  await w.close().catch(() => {});
  return digest.length + end.length;
}

/** CPU seconds a daemon process has used (utime + stime from /proc, in clock ticks of 10 ms). */
function cpuSeconds(d: TestDaemon): number {
  const fields = readFileSync(`/proc/${d.child.proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const sentBy = (all: Status[]) => all.reduce((sum, s) => sum + s.transfer.bytesSent, 0);

/**
 * Bytes per second the honest nodes send each other while idle, and A's CPU share, over a
 * measurement window (a rate needs a span of time; nothing here waits for an event).
 */
async function idle(nodes: TestDaemon[], ms: number): Promise<{ bytesPerSecond: number; cpuShare: number }> {
  const before = sentBy(await Promise.all(nodes.map((n) => n.status())));
  const cpu = cpuSeconds(nodes[0]!);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, ms)); // the measurement window
  const seconds = (Date.now() - t0) / 1000;
  const after = sentBy(await Promise.all(nodes.map((n) => n.status())));
  return { bytesPerSecond: (after - before) / seconds, cpuShare: (cpuSeconds(nodes[0]!) - cpu) / seconds };
}

const forged = (n: number): [string, number][] => Array.from({ length: n }, () => [randomBytes(16).toString('hex'), 1 + Math.floor(Math.random() * 1000)]);

describe('a hostile member teaching forged retired-replica records', () => {
  it('100,000 forged records to each of A and B: refused, the tables converge, idle traffic returns to normal, nothing lost', async () => {
    const [a, b] = (await fleet.cluster(2)) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    for (let i = 1; i <= 10; i++) for (const n of [a, b]) expect((await n.cli('put', `k${i}-${n.peerId.slice(-4)}`, String(i))).code).toBe(0);
    const [settled] = await untilConverged([a, b], 20);
    const normal = await idle([a, b], 5000);

    const h = await hostile();
    const ids = [settled!.replicaId, (await b.status()).replicaId];
    let attackerBytes = 0;
    const honestBefore = sentBy(await Promise.all([a, b].map((n) => n.status())));
    for (const target of [a, b]) {
      const own = await digestOf(h, target.addr);
      const clock = own.clock;
      for (let sent = 0; sent < FORGED_PER_NODE; sent += MAX_RETIRED_RECORDS) {
        const records = forged(Math.min(MAX_RETIRED_RECORDS, FORGED_PER_NODE - sent));
        // among them, the honest replicas at their real counter (evidenced: a harmless shorthand) and beyond it (not)
        if (sent === 0) records.splice(0, 4, [ids[0]!, clock.max(ids[0]!)], [ids[1]!, clock.max(ids[1]!)], [ids[0]!, clock.max(ids[0]!) + 7], [me, 3]);
        attackerBytes += await teach(h, target.addr, own, records);
      }
    }
    await h.stop(); // the attacker leaves

    // the two tables converge (equal hashes), then idle traffic and CPU are measured
    const converged = await eventually(
      () => Promise.all([a, b].map((n) => n.status())),
      (all) => all[0]!.gc.retiredReplicas === all[1]!.gc.retiredReplicas && all[0]!.gc.retiredHash === all[1]!.gc.retiredHash,
      'the two tables equal',
      60_000,
    );
    // everything the honest nodes sent from the first forged DIGEST until their tables agreed (idle gossip included: an upper bound)
    const honestSpent = sentBy(converged) - honestBefore;
    const after = await idle([a, b], 5000);
    const factor = after.bytesPerSecond / normal.bytesPerSecond;
    const amplification = honestSpent / attackerBytes;
    console.log(
      `idle honest traffic ${normal.bytesPerSecond.toFixed(0)} B/s before, ${after.bytesPerSecond.toFixed(0)} B/s after the attack (x${factor.toFixed(2)}); ` +
        `A's CPU ${(normal.cpuShare * 100).toFixed(1)}% before, ${(after.cpuShare * 100).toFixed(1)}% after; tables of ${converged[0]!.gc.retiredReplicas} records; ` +
        `attacker sent ${attackerBytes} bytes, honest nodes sent ${honestSpent} bytes from its first DIGEST until their tables agreed (amplification x${amplification.toFixed(3)})`,
    );
    expect(factor).toBeLessThan(3);
    expect(amplification).toBeLessThan(10);
    expect(after.cpuShare).toBeLessThan(normal.cpuShare * 3 + 0.05);

    // the forged records were refused and counted on both; the tables hold the two evidenced
    // records: the honest replicas at their real counters, a true shorthand while they do not write
    for (const s of await Promise.all([a, b].map((n) => n.status()))) {
      expect(s.gc.retiredRefused).toBeGreaterThanOrEqual(FORGED_PER_NODE - 2);
      expect(s.gc.retiredReplicas).toBe(2);
    }
    for (const n of [a, b]) expect(n.child.stderr()).toMatch(/retired-replica records without evidence refused/);

    // nothing honest lost: same keys and digest, and writes on both still meet
    const [sa] = await untilConverged([a, b], 20);
    expect(sa!.digest).toBe(settled!.digest);
    for (const n of [a, b]) expect((await n.cli('put', `after-${n.peerId.slice(-4)}`, 'x')).code).toBe(0);
    await untilConverged([a, b], 22);
    // both replicas wrote again: the shorthands abbreviate nothing now and go, on both nodes alike
    await eventually(
      () => Promise.all([a, b].map((n) => n.status())),
      (all) => all.every((s) => s.gc.retiredReplicas === 0) && all[0]!.gc.retiredHash === all[1]!.gc.retiredHash,
      'the records of the replicas that wrote again dropped',
    );
  }, 240_000);
});
