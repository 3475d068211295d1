// DIGESTs against a base between real daemons (docs/protocol.md, "DIGEST against a base"): nodes in
// sync exchange at most 128 bytes a sync round, both directions and framing included, with 3
// replicas in their clocks and with 53 (50 writers that came and went); a node killed mid-stream
// and restarted gets whole DIGESTs again and then small ones; a hostile member that names a base
// the daemon does not hold is asked for the whole DIGEST, a lie sent as a difference is judged as the
// same lie sent whole, and a difference that breaks a clock's bounds is refused.
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { encodeKeyState } from '../../src/core/codec.js';
import { localWrite } from '../../src/core/key-state.js';
import { FrameWriter, readFrames } from '../../src/net/frames.js';
import { coreHash, type DigestCore } from '../../src/sync/digest-core.js';
import { decodeMessage, encodeDigest, encodeDigestDelta, encodeEntries, END_MESSAGE, EXCHANGE_ACK_MESSAGE, MSG, SYNC_PROTOCOL, type Message } from '../../src/sync/messages.js';
import { untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { frame, pushFrom, withHostile } from '../helpers/hostile.js';
import { metricsAddr, scrape, value } from '../helpers/metrics.js';
import { eventually, until } from '../helpers/process.js';
import { testReplica, testReplicas } from '../helpers/replicas.js';

const { fleet, hostile } = withHostile();
const METRICS = { extra: ['--metrics', '127.0.0.1:0'] };

/** Sync rounds a daemon took part in (started or served) that ended well. */
async function roundsOf(d: TestDaemon): Promise<number> {
  const s = await scrape(await metricsAddr(d));
  return ['initiated', 'served'].reduce((n, role) => n + (value(s, 'replikv_sync_exchanges_total', { role, result: 'ok' }) ?? 0), 0);
}

/** Waits until `d` has taken part in `n` more sync rounds (a count, not a time). */
async function moreRounds(d: TestDaemon, n: number): Promise<number> {
  const r0 = await roundsOf(d);
  return (await eventually(() => roundsOf(d), (r) => r - r0 >= n, `${n} sync rounds`, 60_000)) - r0;
}

/**
 * Frame bytes (framing included) a daemon moved per sync round it took part in, over at least
 * `rounds` rounds: sent and received, on streams it started and streams it served. The daemon
 * counts frames it reads; the peer's ACK(0) it does not wait for (it sent no DELTA) is not read,
 * so its 3 bytes (length and message) are added to every round: an upper bound.
 */
async function bytesPerRound(d: TestDaemon, rounds = 60): Promise<number> {
  const moved = async (): Promise<number> => {
    const t = (await d.status()).transfer;
    return t.bytesSent + t.bytesReceived;
  };
  const b0 = await moved();
  const n = await moreRounds(d, rounds);
  const b1 = await moved();
  return (b1 - b0) / n + 3;
}

/**
 * Membership settled after `gone` left: no node lists it as alive or suspect (a change of a peer
 * list is sent once, as PEERS, and is no part of a sync round), then 40 more rounds.
 */
async function settled(nodes: TestDaemon[], gone: string): Promise<void> {
  await eventually(
    () => Promise.all(nodes.map((n) => n.status())),
    (all) => all.every((s) => s.peers.every((p) => p.peerId !== gone || p.state === 'down')),
    'the departed peer down everywhere',
    60_000,
  );
  await moreRounds(nodes[0]!, 40);
}

/** One PUSH of a first write by each of `n` replicas (real keys, signed heads): writers that came and went. */
function writersPush(n: number): Uint8Array {
  const writers = testReplicas(n);
  const entries = writers.map((w, i) => ({ key: Buffer.from(`writer/${i}`), state: encodeKeyState(localWrite(undefined, { r: w.r, c: 1 }, Date.now() * 1024, Buffer.from(`from writer ${i}`))) }));
  const claim = Clock.fromIntervals(writers.map((w) => [w.r, 1, 1] as [string, number, number]));
  return frame(encodeEntries(MSG.push, { claim, entries, heads: writers.map((w) => w.head(1)) }, 1));
}

describe('DIGESTs against a base', () => {
  it('nodes in sync exchange at most 128 bytes a round with 3 replicas and with 53; a node killed mid-stream comes back to it', { timeout: 300_000 }, async () => {
    const nodes = (await fleet.cluster(3, METRICS)) as [TestDaemon, TestDaemon, TestDaemon];
    const [a, b] = nodes;
    await untilConnected(nodes);
    for (const n of nodes) expect((await n.cli('put', `k-${n.peerId.slice(-4)}`, 'v')).code).toBe(0);
    await untilConverged(nodes, 3);
    const small = await bytesPerRound(a);
    expect(small).toBeLessThanOrEqual(128);

    // 50 more writers, each with one write, relayed by a to the others
    const h = await hostile();
    expect(await pushFrom(h, a.addr, writersPush(50))).toBe('acked');
    await h.stop();
    const [s] = await untilConverged(nodes, 53);
    await settled(nodes, h.peerId.toString());
    expect(Object.keys(s!.clock).length).toBe(53);
    // a whole DIGEST of that clock is 16 bytes and more per replica
    const whole = encodeDigest({ replicaId: s!.replicaId, digest: new Uint8Array(16), clock: Clock.fromIntervals(Object.keys(s!.clock).map((r) => [r, 1, 1] as [string, number, number])), forgotten: [] });
    expect(whole.length).toBeGreaterThan(53 * 16);
    const large = await bytesPerRound(a);
    expect(large).toBeLessThanOrEqual(128);

    // b is killed while rounds run (every 200 ms, both ways), a writes meanwhile, b comes back
    await b.stop('SIGKILL');
    expect((await a.cli('put', 'while-b-was-away', 'v')).code).toBe(0);
    await b.start();
    await untilConverged(nodes, 54);
    expect((await b.cli('get', 'while-b-was-away')).stdout.trim()).toBe('v');
    const after = await bytesPerRound(b);
    expect(after).toBeLessThanOrEqual(128);
    console.log(`bytes per sync round in sync: 3 replicas ${small.toFixed(1)}, 53 replicas ${large.toFixed(1)}, after a restart ${after.toFixed(1)}; a whole DIGEST of 53 replicas ${whole.length}`);
  });

  it('a base the daemon does not hold is asked for whole; a lie as a difference is judged as the same lie whole; a broken difference is refused', { timeout: 180_000 }, async () => {
    const [a, b] = (await fleet.cluster(2)) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    expect((await a.cli('put', 'x', '1')).code).toBe(0);
    const [before] = await untilConverged([a, b], 1);
    const h = await hostile();
    const me = testReplica();
    const base: DigestCore = { replicaId: me.r, digest: new Uint8Array(16), digestAt: Date.now(), clock: Clock.empty(), frontier: Clock.empty(), retiredHash: new Uint8Array(16), omitted: new Uint8Array(0) };
    const wholeOf = (c: DigestCore) => encodeDigest({ ...c, retired: { hash: c.retiredHash, omitted: c.omitted, records: [] }, forgotten: [] });

    // a whole DIGEST first: the daemon's answer says it holds it (heard: the core's hash)
    const first = await exchange(h, a, wholeOf(base));
    expect(first.digest.type === MSG.digest && first.digest.heard).toBe(coreHash(base));
    expect(first.entries).toBe(1); // an empty clock is sent the one key

    // a base it never sent: NEED_FULL, and the exchange goes on once the DIGEST comes whole
    const bogus = encodeDigestDelta(base, { core: { base: 'ff'.repeat(8), clock: [], frontier: [] }, forgotten: [], records: [] });
    const asked = await exchange(h, a, bogus, wholeOf(base));
    expect(asked.needFull).toBe(true);
    expect(asked.digest.type).toBe(MSG.digest);

    // its clock claims a's replica up to 2^40, far past a's signed head: as a difference and whole
    const lie = { ...base, clock: Clock.fromIntervals([[before!.replicaId, 1, 2 ** 40]]) };
    const asDelta = await exchange(h, a, encodeDigestDelta(base, { core: { base: coreHash(base), clock: [{ r: before!.replicaId, runs: [[1, 2 ** 40]] }], frontier: [] }, forgotten: [], records: [] }));
    expect(asDelta.needFull).toBe(false);
    const asWhole = await exchange(h, a, wholeOf(lie));
    expect(asDelta.entries).toBe(asWhole.entries); // the same judgement: it is sent nothing it claims
    expect(asDelta.entries).toBe(0);

    // a difference naming a replica the base does not have: refused, counted, the daemon goes on
    const refusedBefore = (await a.status()).refused.frames;
    const broken = encodeDigestDelta(base, { core: { base: coreHash(base), clock: [{ r: 7, runs: [[1, 2]] }], frontier: [] }, forgotten: [], records: [] });
    await expect(exchange(h, a, broken)).rejects.toThrow();
    await until(() => /clock diff: replica index 7 outside/.test(a.child.stderr()), 'the refusal logged');
    expect((await a.status()).refused.frames).toBe(refusedBefore + 1);

    // nothing changed on a, and honest writes go on
    const s = await a.status();
    expect([s.digest, s.keys]).toEqual([before!.digest, before!.keys]);
    expect((await a.cli('put', 'y', '2')).code).toBe(0);
    await untilConverged([a, b], 2);
  });
});

/**
 * A sync exchange from `h` that opens with `digest` (answering NEED_FULL with `whole`) and sends no
 * delta: the daemon's DIGEST, whether it asked for the whole one, and how many entries it sent.
 */
async function exchange(h: Awaited<ReturnType<typeof hostile>>, d: TestDaemon, digest: Uint8Array, whole?: Uint8Array): Promise<{ digest: Message; needFull: boolean; entries: number }> {
  const stream: Stream = await h.dialProtocol(multiaddr(d.addr), SYNC_PROTOCOL);
  const w = new FrameWriter(stream);
  const frames = readFrames(stream, { maxFrameBytes: 64 << 20 });
  const next = async (): Promise<Message> => {
    const f = await frames.next();
    if (f.done === true) throw new Error('the daemon closed the stream');
    return decodeMessage(f.value);
  };
  await w.write(digest);
  await w.flush();
  let answer = await next();
  const needFull = answer.type === MSG.needFull;
  if (needFull) {
    if (whole === undefined) throw new Error('NEED_FULL');
    await w.write(whole);
    await w.flush();
    answer = await next();
  }
  await w.write(END_MESSAGE);
  await w.flush();
  let entries = 0;
  for (let m = await next(); m.type !== MSG.end; m = await next()) if (m.type === MSG.delta) entries += m.entries.length;
  await w.write(EXCHANGE_ACK_MESSAGE);
  await w.close().catch(() => {});
  return { digest: answer, needFull, entries };
}
