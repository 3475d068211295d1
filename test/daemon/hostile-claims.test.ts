// A hostile member (a real libp2p peer holding the swarm key, built from the project's own
// dependencies) lies about counters, with well-formed messages and the honest writer's real signed
// head in hand: claims near 2^53 for every replica, a context far beyond every replica's counter, a
// DELTA that claims another replica's writes without carrying them, and the same lies as the side
// that answers a sync round the daemon starts. The honest nodes refuse or cut each lie, log and count
// it, keep their data and digests, go on writing, and end up with every honest write.
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { encodeKeyState } from '../../src/core/codec.js';
import { MAX_COUNTER, type Head } from '../../src/core/head.js';
import { readFrames } from '../../src/net/frames.js';
import { decodeMessage, encodeDigest, encodeEntries, END_MESSAGE, MSG, SYNC_PROTOCOL } from '../../src/sync/messages.js';
import { untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { frame, headsOf, pushFrom, withHostile } from '../helpers/hostile.js';
import { eventually, until } from '../helpers/process.js';
import { testReplica, testReplicas } from '../helpers/replicas.js';

const { fleet, hostile } = withHostile();

const me = testReplica(); // the hostile's own replica: it may write as itself
const digestOf = (clock: Clock) => frame(encodeDigest({ replicaId: me.r, digest: new Uint8Array(16), clock, forgotten: [] }));
const huge = (replicas: string[]) => Clock.fromIntervals(replicas.map((r) => [r, 1, MAX_COUNTER - 1] as [string, number, number]));
const sorted = (ctx: [string, number][]) => ctx.sort(([a], [b]) => (a < b ? -1 : 1));

const headsFrom = async (target: TestDaemon): Promise<Head[]> => headsOf(await hostile(), target.addr, me.r);

/** A PUSH from the hostile: 'acked' (applied) or 'refused'. */
const push = async (target: TestDaemon, msg: Uint8Array) => pushFrom(await hostile(), target.addr, frame(msg));

async function writeWorks(nodes: TestDaemon[], key: string): Promise<void> {
  for (const n of nodes) expect((await n.cli('put', `${key}-${n.peerId.slice(-4)}`, 'x')).code).toBe(0);
}

describe('a hostile member lying about counters', () => {
  it('claims near 2^53 for every replica and a context far beyond every counter are refused; writes go on everywhere', async () => {
    const [a, b] = (await fleet.cluster(2)) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    expect((await a.cli('put', 'shared', 'honest-1')).code).toBe(0);
    const [before] = await untilConverged([a, b], 1);
    const heads = [...(await headsFrom(a)), me.head(1)];
    const ids = await Promise.all([a, b].map(async (n) => (await n.status()).replicaId));

    // every replica's counters claimed near 2^53: each put would then fail "integer too large"
    expect(await push(b, encodeEntries(MSG.push, { claim: huge([...ids, me.r]), entries: [], heads }, 1))).toBe('refused');
    // the hostile's own write whose context claims every honest replica up to 2^40: it would win and freeze the key
    const frozen = encodeKeyState({ ctx: sorted([...ids.map((r) => [r, 2 ** 40] as [string, number]), [me.r, 1]]), sibs: [{ r: me.r, c: 1, hlc: Date.now() * 1024, value: Buffer.from('evil') }] });
    expect(await push(b, encodeEntries(MSG.push, { claim: Clock.fromIntervals([[me.r, 1, 1]]), entries: [{ key: Buffer.from('shared'), state: frozen }], heads }, 2))).toBe('refused');
    await until(() => (b.child.stderr().match(/beyond the highest it signed/g) ?? []).length >= 2, 'both refusals in the log');

    const s = await b.status();
    expect(s.digest).toBe(before!.digest);
    expect(s.refused.frames).toBeGreaterThanOrEqual(2);
    // honest writes go on, on both nodes, and the key is not frozen
    expect((await a.cli('put', 'shared', 'honest-2')).code).toBe(0);
    await writeWorks([a, b], 'after');
    await untilConverged([a, b], 3);
    for (const n of [a, b]) expect((await n.cli('get', 'shared')).stdout.trim()).toBe('honest-2');
  });

  it('a DELTA that claims another replica\'s writes without carrying them is cut: the receiver still gets them', async () => {
    const writer = await fleet.start();
    for (let i = 1; i <= 5; i++) expect((await writer.cli('put', `w${i}`, String(i))).code).toBe(0);
    const other = await fleet.start(); // a separate node, not connected to the writer yet
    expect((await other.cli('put', 'own', 'o')).code).toBe(0);
    const heads = await headsFrom(writer);
    const writerId = (await writer.status()).replicaId;
    expect(heads.some((h) => h.r === writerId && h.c === 5)).toBe(true);

    const lie = encodeEntries(MSG.push, { claim: Clock.fromIntervals([[writerId, 1, 5]]), entries: [], heads }, 1);
    await push(other, lie);
    await eventually(() => other.status(), (s) => s.refused.claimsCut >= 1, 'the cut claim counted');
    expect(other.child.stderr()).toMatch(/claimed writes it did not carry/);
    expect((await other.status()).clock[writerId]).toBeUndefined(); // nothing of the writer believed

    // the two honest nodes meet: every write arrives (with the claim believed, none would)
    await other.stop();
    const again = await fleet.start({ dataDir: other.dataDir, bootstrap: [writer.addr] });
    // (not untilConnected: the hostile, which speaks no sync protocol, sits in their peer tables)
    const [w] = await untilConverged([writer, again], 6);
    expect(w!.keys).toBe(6);
  });

  it('as the answering side of a sync round the daemon starts: its lies are refused and the daemon keeps its data', async () => {
    const d = await fleet.start({ gossipIntervalMs: 200 });
    expect((await d.cli('put', 'kept', 'v')).code).toBe(0);
    const before = await d.status();
    const dId = before.replicaId;
    let answered = 0;
    const h = await hostile();
    await h.handle(SYNC_PROTOCOL, (stream: Stream) => {
      void (async () => {
        const frames = readFrames(stream, { maxFrameBytes: 1 << 20 });
        const first = await frames.next();
        if (first.done === true || decodeMessage(first.value.slice()).type !== MSG.digest) return stream.abort(new Error('not a round'));
        // a digest claiming the daemon's own replica near 2^53, then a delta claiming it and freezing its key
        stream.send(digestOf(huge([dId])));
        const frozen = encodeKeyState({ ctx: sorted([[dId, 2 ** 40], [me.r, 1]]), sibs: [{ r: me.r, c: 1, hlc: Date.now() * 1024, value: Buffer.from('evil') }] });
        stream.send(frame(encodeEntries(MSG.delta, { claim: huge([dId, me.r]), entries: [{ key: Buffer.from('kept'), state: frozen }], heads: [me.head(1)] })));
        stream.send(frame(END_MESSAGE));
        answered++;
      })().catch(() => {});
    });
    await h.dial(multiaddr(d.addr)); // the daemon now gossips to it, starting rounds
    await until(() => answered >= 2 && /sync round failed/.test(d.child.stderr()), 'rounds started by the daemon, answered with lies and refused');
    expect(d.child.stderr()).toMatch(/beyond the highest it signed/);
    const s = await d.status();
    expect(s.digest).toBe(before.digest);
    expect(s.refused.frames).toBeGreaterThanOrEqual(1);
    expect((await d.cli('get', 'kept')).stdout.trim()).toBe('v');
    expect((await d.cli('put', 'next', 'x')).code).toBe(0);
    expect((await d.status()).clock[dId]?.base).toBe(2); // its own counter untouched: one dot a write
  });

  it('a member minting replicas to buy signature checks by the thousand is cut off at its budget, and the node goes on', async () => {
    const d = await fleet.start();
    expect((await d.cli('put', 'kept', 'v')).code).toBe(0);
    const before = await d.status();
    // 4,096 replicas of its own making; each frame re-signs all their heads one counter higher, and
    // carries a write whose context names each of them there (a head that vouches for nothing the
    // frame carries is not checked at all), so every head in it needs a signature check
    const minted = testReplicas(4096);
    const outcomes: string[] = [];
    for (let f = 1; f <= 16 && !outcomes.includes('refused'); f++) {
      const heads = minted.map((x) => x.head(f));
      const state = encodeKeyState({ ctx: minted.map((x) => [x.r, f] as [string, number]), sibs: [{ r: minted[0]!.r, c: f, hlc: Date.now() * 1024, value: Buffer.from('m') }] });
      outcomes.push(await push(d, encodeEntries(MSG.push, { claim: Clock.empty(), entries: [{ key: Buffer.from('minted'), state }], heads }, f)));
    }
    expect(outcomes[0]).toBe('acked'); // within the burst of 2 s of CPU
    expect(outcomes).toContain('refused');
    await until(() => /cost more signature checks than the budget/.test(d.child.stderr()), 'the refusal in the log');
    const s = await d.status();
    expect(s.keys).toBe(before.keys + 1); // its own writes, and nothing else
    expect(s.refused.frames).toBeGreaterThanOrEqual(1);
    expect((await d.cli('put', 'after', 'x')).code).toBe(0);
    expect((await d.cli('get', 'kept')).stdout.trim()).toBe('v');
  });
});
