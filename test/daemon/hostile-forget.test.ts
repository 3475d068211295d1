// Membership changes need authority. A hostile member (a real libp2p peer holding the swarm key)
// sends DIGESTs whose forget list names honest B while B restarts, in every form it can make: the
// bare PeerId of the old wire, a forget signed with its own key, and one that names the operator's
// key with a forged signature. A and C refuse and count each; B comes back and its writes reach
// them. An operator's signed forget spreads to every node (and the forgotten node says so in its
// status); an unsigned one stays on the node where it was run.
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { Writer } from '../../src/core/bytes.js';
import { Clock } from '../../src/core/clock.js';
import { writeClock } from '../../src/core/codec.js';
import { newOperatorKey, parseOperatorKey, signForget } from '../../src/core/forget-record.js';
import type { Network } from '../../src/net/node.js';
import { FrameWriter, readFrames } from '../../src/net/frames.js';
import { decodeMessage, encodeDigest, END_MESSAGE, MSG, SYNC_PROTOCOL } from '../../src/sync/messages.js';
import { untilConnected, type TestDaemon } from '../helpers/daemons.js';
import { withHostile } from '../helpers/hostile.js';
import { operatorKey } from '../helpers/operator-key.js';
import { eventually, until } from '../helpers/process.js';
import { putOn, untilValue } from '../helpers/ports.js';
import { testReplica } from '../helpers/replicas.js';

const { fleet, hostile } = withHostile(60);
const me = testReplica(); // the hostile's own replica

/** A DIGEST in the wire form before signed forgets: the forget list is bare PeerIds. */
function legacyDigest(forgotten: string[]): Uint8Array {
  const w = new Writer(256);
  w.u8(MSG.digest);
  w.u8(3);
  w.bytes(Buffer.from(me.r, 'hex'));
  w.bytes(new Uint8Array(16));
  writeClock(w, Clock.empty());
  w.varint(0); // peers
  w.varint(forgotten.length);
  for (const id of forgotten) w.chunk(Buffer.from(id));
  writeClock(w, Clock.empty()); // frontier
  w.bytes(new Uint8Array(16)); // retired hash
  w.chunk(new Uint8Array(0));
  w.varint(0);
  return w.finish();
}

/** The forgets of `victim` a member can make without the operator's private key. */
function hostileDigests(victim: string, operatorPublicKey: string): Uint8Array[] {
  const own = signForget(newOperatorKey().key, victim, Date.now());
  const forged = { ...signForget(newOperatorKey().key, victim, Date.now()), key: parseOperatorKey(operatorPublicKey) };
  const digest = (forgotten: (typeof own)[]) => encodeDigest({ replicaId: me.r, digest: new Uint8Array(16), clock: Clock.empty(), forgotten });
  return [legacyDigest([victim]), digest([own]), digest([forged])];
}

/** One sync exchange started by the hostile with `msg` as its DIGEST; its bytes sent. */
async function exchange(h: Network, target: string, msg: Uint8Array): Promise<number> {
  const stream = await h.dialProtocol(multiaddr(target), SYNC_PROTOCOL);
  const w = new FrameWriter(stream);
  await w.write(msg);
  await w.write(END_MESSAGE);
  await w.flush();
  try {
    for await (const f of readFrames(stream, { maxFrameBytes: 64 << 20 })) if (decodeMessage(f).type === MSG.end) break;
  } catch {
    // the daemon refused the frame and reset the stream
  }
  await w.close().catch(() => undefined);
  return msg.length + END_MESSAGE.length + 2;
}

const noLongerAlive = (nodes: TestDaemon[], peer: string) =>
  eventually(
    () => Promise.all(nodes.map((n) => n.status())),
    (all) => all.every((s) => s.peers.every((p) => p.peerId !== peer || p.state !== 'alive')),
    `${peer} to be seen gone`,
    30_000,
  );

describe('forgets need an operator\'s signature', () => {
  it('a member naming honest B in its DIGESTs while B restarts is refused: B comes back, its writes reach A and C', async () => {
    const op = await operatorKey(fleet);
    const [a, b, c] = (await fleet.cluster(3, { extra: op.flags })) as [TestDaemon, TestDaemon, TestDaemon];
    await untilConnected([a, b, c]);
    await putOn(a, 'before', 'x');
    await untilValue([a, b, c], 'before', 'x');

    await b.stop(); // a routine restart
    await noLongerAlive([a, c], b.peerId);
    const h = await hostile();
    let sent = 0;
    for (const n of [a, c]) for (const msg of hostileDigests(b.peerId, op.publicKey)) sent += await exchange(h, n.addr, msg);
    await h.stop(); // the attacker leaves

    const back = await fleet.start({ ...b.opts, dataDir: b.dataDir });
    await untilConnected([a, back, c], 60_000);
    await putOn(back, 'after-restart', 'from-b');
    await untilValue([a, c], 'after-restart', 'from-b');
    for (const n of [a, c]) {
      const s = await n.status();
      expect(s.peers.find((p) => p.peerId === b.peerId)?.state).toBe('alive');
      expect(s.refused.forgets, 'the forget signed by its own key and the forged one').toBeGreaterThanOrEqual(2);
      expect(s.refused.frames, 'the old wire form does not decode').toBeGreaterThanOrEqual(1);
      expect(n.child.stderr()).toMatch(/refused a forget sent by a peer/);
      expect(n.child.stderr()).not.toMatch(/peer forgotten/);
    }
    expect((await back.status()).warnings).toEqual([]);
    console.log(`hostile forgets: ${sent} bytes sent to A and C; both refused them, B reconnected and replicates`);
  }, 180_000);

  it('an operator-signed forget spreads: A forgets D with the operator key, B and C drop and refuse it, and D says so', async () => {
    const op = await operatorKey(fleet);
    const nodes = (await fleet.cluster(4, { extra: op.flags })) as [TestDaemon, TestDaemon, TestDaemon, TestDaemon];
    const [a, b, c, d] = nodes;
    await untilConnected(nodes);
    const r = await a.cli('forget', d.peerId, '--force', '--sign-key', op.file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/the other nodes are told/);
    // B and C are still connected to D: they keep it until the connection ends, and pass the forget on to D itself
    const told = await eventually(() => d.status(), (s) => s.warnings.some((w) => /^forgotten by an operator .* passed on by peer 12D3KooW/.test(w)), 'D to say it was forgotten', 30_000);
    // A, which hung up on it, told it why too
    expect(told.warnings.join('\n')).toContain(`peers refuse this node: forgotten by an operator on peer ${a.peerId}`);
    await until(() => /an operator forgot this node/.test(d.child.stderr()), 'D to log it');

    await d.stop();
    for (const n of [b, c]) {
      await eventually(() => n.status(), (s) => s.peers.every((p) => p.peerId !== d.peerId), 'D to be forgotten', 30_000);
      await until(() => /peer forgotten \(an operator's signed forget/.test(n.child.stderr()), 'the log line');
    }
    // D comes back with its identity and data: every node refuses it
    const back = await fleet.start({ ...d.opts, dataDir: d.dataDir });
    await until(() => /refused a connection of a forgotten peer/.test(a.child.stderr() + b.child.stderr() + c.child.stderr()), 'a refusal', 30_000);
    await putOn(a, 'after-forget', 'x');
    await untilValue([a, b, c], 'after-forget', 'x');
    for (const s of await Promise.all([a, b, c].map((n) => n.status()))) expect(s.peers.map((p) => p.peerId)).not.toContain(back.peerId);
    expect(await back.client.get('after-forget')).toBeUndefined();
    for (const n of [a, b, c]) expect((await n.status()).refused.forgets).toBe(0);
  }, 180_000);

  it('an unsigned forget stays on the node where it was run', async () => {
    const op = await operatorKey(fleet);
    const [a, b, c] = (await fleet.cluster(3, { extra: op.flags })) as [TestDaemon, TestDaemon, TestDaemon];
    await untilConnected([a, b, c]);
    await putOn(a, 'before', 'x');
    await untilValue([a, b, c], 'before', 'x');
    await c.stop();
    await noLongerAlive([a, b], c.peerId);
    const r = await a.cli('forget', c.peerId);
    expect(r.code, r.stderr).toBe(0);
    // A and B go on exchanging DIGESTs (A's only peer now is B): the old code passed the forget on in them
    const sentThen = (await a.status()).transfer.bytesSent;
    // (in sync a DIGEST is some 23 bytes: 1,500 bytes are dozens of rounds)
    await eventually(() => a.status(), (s) => s.transfer.bytesSent > sentThen + 1500, 'A to send B some DIGESTs', 30_000);
    expect((await b.status()).peers.map((p) => p.peerId)).toContain(c.peerId);

    const back = await fleet.start({ ...c.opts, dataDir: c.dataDir, bootstrap: [b.addr] });
    await eventually(() => b.status(), (s) => s.peers.some((p) => p.peerId === c.peerId && p.state === 'alive'), 'B to take C back', 60_000);
    await putOn(back, 'from-c', 'z');
    await untilValue([b], 'from-c', 'z');
    expect(b.child.stderr()).not.toMatch(/peer forgotten/);
    expect((await a.status()).peers.map((p) => p.peerId)).not.toContain(c.peerId);
    await until(() => /refused a connection of a forgotten peer/.test(a.child.stderr()), 'A to refuse C', 30_000);
    expect(r.stdout).toMatch(/on this node only/);
    // C learns A's address from B and dials it: A tells it why it hangs up, and C's status says so
    await eventually(() => back.status(), (s) => s.warnings.some((w) => w.includes(`peers refuse this node: forgotten by an operator on peer ${a.peerId}`)), 'C to say A refuses it', 30_000);
    expect(back.child.stderr()).toMatch(/a peer refuses this node: its operator forgot this node/);
  }, 180_000);
});
