// Write concern with real daemons: --w N returns only once N replicas hold the write durably, as
// acknowledged by each of them for data the writer sent it; a DIGEST claiming the write counts not.
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { readFrames } from '../../src/net/frames.js';
import type { Network } from '../../src/net/node.js';
import { decodeMessage, encodeDigest, END_MESSAGE, EXCHANGE_ACK_MESSAGE, MSG, SYNC_PROTOCOL } from '../../src/sync/messages.js';
import { untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { frame, withHostile } from '../helpers/hostile.js';
import { eventually } from '../helpers/process.js';

const { fleet, hostile } = withHostile(15);

const has = async (n: TestDaemon, key: string) => (await n.client.get(key)) !== undefined;

describe('write concern', () => {
  it('a write acknowledged with --w 2 survives its writer being killed and wiped right after the ack', async () => {
    const [a, b, c] = (await fleet.cluster(3)) as [TestDaemon, TestDaemon, TestDaemon];
    await untilConnected([a, b, c]);
    const put = await a.cli('put', 'precious', 'data', '--w', '2', '--timeout', '10000', '--json');
    expect(put.code, put.stderr).toBe(0);
    expect(JSON.parse(put.stdout).replicas).toBeGreaterThanOrEqual(2);
    await a.stop('SIGKILL');
    rmSync(a.dataDir, { recursive: true, force: true });
    // the peer that acknowledged already holds it; the other gets it from that peer
    expect((await has(b, 'precious')) || (await has(c, 'precious'))).toBe(true);
    await untilConverged([b, c], 1);
    expect(Buffer.from((await c.client.get('precious'))!).toString()).toBe('data');
  });

  it('--w 3 with one node down times out with exit 3 and the count; --w all counts the peers that are up', async () => {
    const [a, b, c] = (await fleet.cluster(3)) as [TestDaemon, TestDaemon, TestDaemon];
    await untilConnected([a, b, c]);
    await c.stop();
    await eventually(() => a.status(), (s) => s.peers.filter((p) => p.state === 'alive').length === 1, 'a to see c gone');
    const t0 = Date.now();
    const put = await a.cli('put', 'k', 'v', '--w', '3', '--timeout', '1000');
    expect(put.code).toBe(3);
    expect(put.stderr).toMatch(/2 of 3 replicas stored the write within 1000 ms \(the write is not undone\)/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect((await a.cli('get', 'k')).stdout).toBe('v'); // not undone
    const all = await a.cli('put', 'k2', 'v2', '--w', 'all', '--timeout', '10000', '--json');
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout).replicas).toBe(2);
    const del = await a.cli('del', 'k', '--w', '2', '--timeout', '10000');
    expect(del.code, del.stderr).toBe(0);
  });

  it('works in pull mode through the acknowledgement of a sync exchange, and for an import', async () => {
    const [a, b] = (await fleet.cluster(2, { mode: 'pull' })) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    const put = await a.cli('put', 'pulled', 'yes', '--w', '2', '--timeout', '20000');
    expect(put.code, put.stderr).toBe(0);
    expect(await has(b, 'pulled')).toBe(true);
    const file = `${fleet.tmpdir()}/in.ndjson`;
    (await import('node:fs')).writeFileSync(file, Array.from({ length: 500 }, (_, i) => JSON.stringify({ key: `i${i}`, value: 'x' })).join('\n'));
    const imp = await a.cli('import', file, '--w', '2', '--timeout', '20000');
    expect(imp.code, imp.stderr).toBe(0);
    expect(await has(b, 'i499')).toBe(true);
  });
});

/** The messages of one sync stream up to the sender's END (or the end of the stream). */
async function untilEnd(stream: Stream): Promise<number[]> {
  const types: number[] = [];
  for await (const f of readFrames(stream, { maxFrameBytes: 1 << 24 })) {
    types.push(decodeMessage(f).type);
    if (types.at(-1) === MSG.end) break;
  }
  return types;
}

/** A DIGEST of a member claiming every counter `writer` issued or will issue for a long time. */
function lyingDigest(writer: string): Uint8Array {
  const clock = Clock.fromIntervals([[writer, 1, 1_000_000]]);
  return frame(encodeDigest({ replicaId: 'ee'.repeat(16), digest: new Uint8Array(16), clock, forgotten: [] }));
}

/**
 * A member that answers every sync round of the daemon with `lie`, and reads the daemon's DELTAs;
 * with `ack` it then acknowledges them (ACK(0)) as an honest peer does.
 */
async function liar(lie: Uint8Array, ack: boolean): Promise<Network> {
  const h = await hostile();
  await h.handle(SYNC_PROTOCOL, async (stream) => {
    try {
      const first = await readFrames(stream, { maxFrameBytes: 1 << 24 }).next();
      if (first.done === true || decodeMessage(first.value).type !== MSG.digest) return; // pushes: never acknowledged
      stream.send(lie);
      stream.send(frame(END_MESSAGE));
      await untilEnd(stream);
      if (ack) stream.send(frame(EXCHANGE_ACK_MESSAGE));
      await stream.close();
    } catch {
      // the daemon may give up on this stream; nothing to do
    }
  });
  return h;
}

describe('write concern against a member that lies in its DIGEST', () => {
  it('a DIGEST claiming the writer\'s dots, past and future, does not count: --w 2 times out with 1 replica', async () => {
    const [a] = (await fleet.cluster(1)) as [TestDaemon];
    const lie = lyingDigest((await a.status()).replicaId);
    const h = await liar(lie, false);
    // An exchange the hostile starts: the lie as the first message of a stream.
    const stream = await h.dialProtocol(multiaddr(a.addr), SYNC_PROTOCOL);
    stream.send(lie);
    const got = await untilEnd(stream); // the daemon heard the digest before it answered
    expect(got[0]).toBe(MSG.digest);
    expect(got.at(-1)).toBe(MSG.end);
    stream.send(frame(END_MESSAGE)); // nothing to send back, and no ACK
    await stream.close();
    await eventually(() => a.status(), (s) => s.peers.some((p) => p.state === 'alive'), 'the hostile as a connected peer');

    const put = await a.cli('put', 'k', 'v', '--w', '2', '--timeout', '3000');
    expect(put.code, put.stderr).toBe(3);
    expect(put.stderr).toMatch(/1 of 2 replicas stored the write within 3000 ms/);
    const all = await a.cli('put', 'k2', 'v', '--w', 'all', '--timeout', '3000');
    expect(all.code, all.stderr).toBe(3);
    expect(all.stderr).toMatch(/1 of 2 replicas/);
  });

  it('a peer whose DIGEST already claims the write is sent it again, and counts once it acknowledges it', async () => {
    // Also what an honest peer that had the write from a third node looks like; and what a member
    // lying about storing does (docs/threat-model.md): only its acknowledgement counts, true or not.
    const [a] = (await fleet.cluster(1, { mode: 'pull' })) as [TestDaemon];
    const h = await liar(lyingDigest((await a.status()).replicaId), true);
    await h.dial(multiaddr(a.addr));
    await eventually(() => a.status(), (s) => s.peers.some((p) => p.state === 'alive'), 'the peer connected');
    const put = await a.cli('put', 'k', 'v', '--w', '2', '--timeout', '20000', '--json');
    expect(put.code, put.stderr).toBe(0);
    expect(JSON.parse(put.stdout).replicas).toBe(2);
  });
});
