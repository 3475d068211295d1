// What a daemon does with peers it should not trust: a node with another swarm key, and a client
// that dials the sync protocol and sends malformed or oversized frames.
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { encodeDigest, encodeEntries, END_MESSAGE, MSG, SYNC_PROTOCOL } from '../../src/sync/messages.js';
import { CLI, untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { frame, withHostile } from '../helpers/hostile.js';
import { eventually, run, until } from '../helpers/process.js';

const { fleet, hostile } = withHostile(15);


/** Resolves when the remote side ends or resets the stream (reading ends or throws). */
async function closedByRemote(stream: Stream, ms = 10_000): Promise<void> {
  const read = (async () => {
    try {
      for await (const _ of stream) {
        // the daemon may answer before it notices the fault; keep reading
      }
    } catch {
      // a reset counts as closed
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the daemon kept the stream open')), ms)));
  try {
    await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('untrusted peers', () => {
  it('a node with another swarm key cannot connect and receives nothing', { timeout: 120_000 }, async () => {
    const keys = fleet.tmpdir();
    const k1 = join(keys, 'one.key');
    const k2 = join(keys, 'two.key');
    for (const k of [k1, k2]) expect((await run([CLI, 'keygen', '--out', k]).exited).code).toBe(0);

    const a = await fleet.start({ swarmKey: k1 });
    const b = await fleet.start({ swarmKey: k1, bootstrap: [a.addr] });
    const outsider = await fleet.start({ swarmKey: k2, bootstrap: [a.addr] });
    await untilConnected([a, b]);
    expect((await a.cli('put', 'secret', 'for members only')).code).toBe(0);
    await untilConverged([a, b], 1);
    // the outsider has tried (and failed) to reach a by now (its warnings are rate-limited: one a minute)
    await until(() => (outsider.child.stderr().match(/dial failed/g) ?? []).length >= 1, 'a failed dial by the outsider', 60_000); // a dial may take up to 30 s
    const s = await outsider.status();
    expect(s.keys).toBe(0);
    expect(s.peers.filter((p) => p.state === 'alive')).toEqual([]);
    expect((await a.status()).peers.map((p) => p.peerId)).not.toContain(outsider.peerId);
  });

  it('refuses malformed and oversized frames, closing only that stream, and stays healthy', async () => {
    const [a, b] = (await fleet.cluster(2)) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    expect((await a.cli('put', 'before', '1')).code).toBe(0);
    await untilConverged([a, b], 1);
    const digestBefore = (await a.status()).digest;

    // A client holding the swarm key (daemons run private networks): the frames are the attack.
    const client = await hostile();
    const open = () => client.dialProtocol(multiaddr(a.addr), SYNC_PROTOCOL);
    const R = 'cd'.repeat(16);
    const badState = Uint8Array.of(1, 1, ...new Uint8Array(16), 1, 1, 5, 0, 0, 0); // sibling index out of range
    const attacks: [string, Uint8Array[]][] = [
      ['unknown message type', [frame(Uint8Array.of(99, 1, 2, 3))]],
      ['a stream that starts with END', [frame(END_MESSAGE)]],
      ['an oversized frame', [Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x04), new Uint8Array(1024)]], // claims 1 GiB
      ['a truncated digest', [frame(encodeDigest({ replicaId: R, digest: new Uint8Array(16), clock: Clock.empty(), forgotten: [] }).subarray(0, 20))]],
      [
        'a delta with a malformed key state',
        [
          frame(encodeDigest({ replicaId: R, digest: new Uint8Array(16), clock: Clock.empty(), forgotten: [] })),
          frame(encodeEntries(MSG.delta, { claim: Clock.fromIntervals([[R, 1, 1]]), entries: [{ key: Buffer.from('evil'), state: badState }] })),
        ],
      ],
    ];
    for (const [what, frames] of attacks) {
      const stream = await open();
      for (const f of frames) stream.send(f);
      await closedByRemote(stream).catch((err: Error) => {
        throw new Error(`${what}: ${err.message}`);
      });
    }
    await until(() => (a.child.stderr().match(/closing sync stream from peer/g) ?? []).length >= attacks.length, 'a logged reason per refused stream');
    expect(a.child.stderr()).toMatch(/unknown message type 99/);
    expect(a.child.stderr()).toMatch(/exceeds|too large/i);
    // nothing reached the store, and the daemon still serves and replicates
    const after = await a.status();
    expect(after.digest).toBe(digestBefore);
    expect((await a.cli('get', 'evil')).code).toBe(1);
    expect((await a.cli('put', 'after', '2')).code).toBe(0);
    await untilConverged([a, b], 2);
    await eventually(() => b.client.get('after'), (v) => v !== undefined && Buffer.from(v).toString() === '2', 'the write after the attack to replicate');
  });
});
