// Equivocation by a real hostile member (a libp2p peer holding the swarm key, with its own Ed25519
// replica key and signed heads, issue 17): it writes one dot of its own with a different value to
// each honest node, then leaves. The honest nodes resolve the dot the same way, converge to the
// same bytes, report the replica, and stop healing; the honest bytes the heals cost are measured
// against the attacker's.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { encodeKeyState } from '../../src/core/codec.js';
import type { Status } from '../../src/control/api.js';
import { encodeEntries, MSG } from '../../src/sync/messages.js';
import { untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { frame, pushFrom, withHostile } from '../helpers/hostile.js';
import { eventually, until } from '../helpers/process.js';
import { testReplica } from '../helpers/replicas.js';

const { fleet, hostile } = withHostile();

const HEALS = /divergence: merging the peer's snapshot/g;
const healsIn = (n: TestDaemon) => (n.child.stderr().match(HEALS) ?? []).length;
const healBytes = (s: Status) => s.divergence?.healBytes ?? 0;
/** CPU seconds a daemon has used (user and system, from /proc; clock ticks of 10 ms). */
const cpuSeconds = (n: TestDaemon): number => {
  const fields = readFileSync(`/proc/${n.child.proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

/** A PUSH of one write of replica `x` at dot (x, 1): `value`, expiring at `exp` if given. */
function forgedPush(x: ReturnType<typeof testReplica>, key: string, value: string, exp?: number): Uint8Array {
  const sib = { r: x.r, c: 1, hlc: Date.now() * 1024, value: Buffer.from(value), ...(exp === undefined ? {} : { exp }) };
  const state = encodeKeyState({ ctx: [[x.r, 1]], sibs: [sib] });
  return frame(encodeEntries(MSG.push, { claim: Clock.fromIntervals([[x.r, 1, 1]]), entries: [{ key: Buffer.from(key), state }], heads: [x.head(1)] }, 1));
}

/**
 * The nodes' CPU seconds a minute while each sends three more kilobytes of gossip (two heal
 * intervals and more: in sync, a node sends about 28 bytes a sync round, some 4 rounds a second at
 * a 500 ms gossip interval): a heal loop would show here, and in the heal count.
 */
async function cpuPerMinuteOver(nodes: TestDaemon[], from?: number[]): Promise<number> {
  const sent = from ?? (await Promise.all(nodes.map((n) => n.status()))).map((s) => s.transfer.bytesSent);
  const cpu0 = nodes.map(cpuSeconds);
  const t0 = Date.now();
  await eventually(
    () => Promise.all(nodes.map((n) => n.status())),
    (all) => all.every((s, i) => s.transfer.bytesSent > sent[i]! + 3_000),
    'three kilobytes of gossip on every node',
    120_000,
  );
  return (nodes.reduce((sum, n, i) => sum + cpuSeconds(n) - cpu0[i]!, 0) * 60_000) / (Date.now() - t0);
}

async function writeKeys(n: TestDaemon, count: number): Promise<void> {
  const file = join(fleet.tmpdir(), 'keys.ndjson');
  writeFileSync(file, Array.from({ length: count }, (_, i) => JSON.stringify({ key: `k/${i}`, value: `value ${i}` })).join('\n'));
  expect((await n.cli('import', file)).code).toBe(0);
}

describe('equivocation by a hostile member', () => {
  it('one dot written with 3 values to 3 nodes, then the writer leaves: the values converge, heals stop, honest heal bytes are bounded', async () => {
    const first = (await fleet.cluster(3, { gossipIntervalMs: 500 })) as TestDaemon[];
    await untilConnected(first);
    const KEYS = 1000; // what the heals cost must not grow with it
    await writeKeys(first[0]!, KEYS);
    await untilConverged(first, KEYS);
    const idle = await cpuPerMinuteOver(first); // the same measure before the attack
    // each node restarts alone (on a new port, so its remembered peers' addresses are stale): each
    // then holds only the version the member gave it, as when the three pushes race ahead of sync
    await Promise.all(first.map((n) => n.stop()));
    const apart = await Promise.all(first.map((n) => fleet.start({ dataDir: n.dataDir, gossipIntervalMs: 500 })));

    const x = testReplica(); // the attacker's own replica: it may write as itself
    const h = await hostile();
    const frames = apart.map((_, i) => forgedPush(x, 'eq', `version ${'abc'[i]} of one write`));
    const attackerBytes = frames.reduce((sum, f) => sum + f.length, 0);
    for (const [i, n] of apart.entries()) expect(await pushFrom(h, n.addr, frames[i]!)).toBe('acked');
    await h.stop(); // it leaves
    await Promise.all(apart.slice(1).map((n) => n.stop()));
    const a = apart[0]!;
    const nodes = [a, ...(await Promise.all(apart.slice(1).map((n) => fleet.start({ dataDir: n.dataDir, gossipIntervalMs: 500, bootstrap: [a.addr] }))))];
    await untilConnected(nodes);

    // the same value and digest everywhere (today each keeps its own version, and they heal forever)
    const converged = await untilConverged(nodes, KEYS + 1, 90_000);
    const values = await Promise.all(nodes.map(async (n) => (await n.cli('get', 'eq')).stdout));
    expect(new Set(values).size).toBe(1);
    expect(values[0]).toBe('version a of one write'); // the lowest content wins

    // healing stops: many gossip rounds later no node has started another heal
    const heals = nodes.map(healsIn);
    const sent = converged.map((s) => s.transfer.bytesSent);
    const cpuPerMinute = await cpuPerMinuteOver(nodes, sent);
    expect(nodes.map(healsIn)).toEqual(heals);
    const after = await Promise.all(nodes.map((n) => n.status()));
    for (const s of after) {
      expect(s.digest).toBe(converged[0]!.digest);
      expect(s.divergence!.peers).toEqual([]);
    }
    // the replica is reported as equivocating, at least by the nodes that held a losing version
    const reporting = after.filter((s) => (s.equivocation?.detected ?? 0) > 0);
    expect(reporting.length).toBeGreaterThanOrEqual(2);
    for (const s of reporting) expect(s.equivocation!.replicas).toEqual([x.r]);
    expect(nodes.filter((n) => /equivocation: a peer holds this write with other contents/.test(n.child.stderr())).length).toBe(reporting.length);

    // what the heals cost: snapshot bytes received by honest nodes, against the attacker's frames
    const honest = after.reduce((sum, s) => sum + healBytes(s), 0);
    const factor = honest / attackerBytes;
    console.log(
      `equivocation: attacker sent ${attackerBytes} B; honest heal bytes ${honest} B (${factor.toFixed(1)}x), heals ${nodes.map(healsIn).join('+')}; ` +
        `after convergence the three nodes use ${cpuPerMinute.toFixed(2)} CPU-s a minute (${idle.toFixed(2)} before the attack)`,
    );
    expect(factor).toBeLessThanOrEqual(10);
  });

  it('one dot with two values, each with a far-future expiry, to two nodes: the digests differ, the divergence is healed, both serve one value', async () => {
    // two nodes apart while the member writes to each, so each holds only its own version
    const a = await fleet.start({ gossipIntervalMs: 500 });
    let b = await fleet.start({ gossipIntervalMs: 500 });
    const x = testReplica();
    const h = await hostile();
    const year = Date.now() + 365 * 86_400_000;
    expect(await pushFrom(h, a.addr, forgedPush(x, 'ttl', 'version a', year))).toBe('acked');
    expect(await pushFrom(h, b.addr, forgedPush(x, 'ttl', 'version b', year + 1000))).toBe('acked');
    await h.stop();
    await b.stop();
    b = await fleet.start({ dataDir: b.dataDir, gossipIntervalMs: 500, bootstrap: [a.addr] });
    await untilConnected([a, b]);

    // the expiring values are part of the digest: at an equal clock the nodes see they differ,
    // heal, and agree (before, both digests left the values out: equal, and each served its own)
    const [sa, sb] = await eventually(
      () => Promise.all([a.status(), b.status()]),
      ([p, q]) => p.digest === q.digest && (p.divergence?.detected ?? 0) + (q.divergence?.detected ?? 0) >= 1,
      'the divergence found and healed',
      90_000,
    );
    expect(sa!.clock).toEqual(sb!.clock);
    const got = await Promise.all([a, b].map(async (n) => (await n.cli('get', 'ttl')).stdout));
    expect(got).toEqual(['version a', 'version a']);
    for (const n of [a, b]) {
      const v = await n.cli('verify');
      expect(v.code, v.stdout + v.stderr).toBe(0);
    }
  });
});
