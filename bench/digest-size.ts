// `npm run bench -- digest`: the size of a node's steady-state DIGEST at 3 and 50 members (issue 17
// asked for it), and what two nodes in sync exchange per sync round now that a DIGEST goes against
// a base the peer holds (issue 18: <= 128 bytes a round whatever N). Steady state: every member
// has written (its replica is in the clock, with a counter near a million) and the node has
// collected (its GC frontier names every replica too); nothing forgotten or retired. The peer list
// left the DIGEST (PEERS, sent once per connection and then only when it changed); its size is shown
// too. Built from the real encoders and the real base bookkeeping (sync/digest-bases.ts), so any
// field a change adds shows here.
import { randomBytes } from 'node:crypto';
import { Clock } from '../src/core/clock.js';
import { DigestBases } from '../src/sync/digest-bases.js';
import { decodeMessage, encodeDigest, encodePeers, END_MESSAGE, EXCHANGE_ACK_MESSAGE, MSG, type DigestMessage } from '../src/sync/messages.js';

/** A frame's bytes on the stream: its varint length, then the message. */
const framed = (m: Uint8Array): number => m.length + (m.length < 128 ? 1 : m.length < 16384 ? 2 : 3);

function steady(members: number, replicaId: string, replicas: string[]): Omit<DigestMessage, 'type'> {
  const clock = Clock.fromIntervals(replicas.map((r, i) => [r, 1, 1_000_000 + i] as [string, number, number]));
  const frontier = Clock.fromIntervals(replicas.map((r, i) => [r, 1, 990_000 + i] as [string, number, number]));
  return { replicaId, digest: new Uint8Array(16).fill(members), digestAt: 1_765_000_000_000, clock, frontier, forgotten: [], retired: { hash: new Uint8Array(16), omitted: new Uint8Array(0), records: [] } };
}

/**
 * Frame bytes of one sync round between two nodes in sync, both directions: DIGEST each way, END
 * each way, ACK(0) each way. `rounds` rounds are run first (the first DIGEST of a connection is whole).
 */
function inSyncRound(members: number, rounds: number): number {
  const replicas = Array.from({ length: members }, () => randomBytes(16).toString('hex'));
  const [a, b] = [new DigestBases(), new DigestBases()];
  const [ma, mb] = [steady(members, replicas[0]!, replicas), steady(members, replicas[1]!, replicas)];
  let bytes = 0;
  for (let i = 0; i < rounds; i++) {
    const ask = a.outgoing('b', ma).frame;
    const got = decodeMessage(ask);
    if (got.type !== MSG.digest && got.type !== MSG.digestDelta) throw new Error('not a DIGEST');
    if (b.incoming('a', got) === null) throw new Error('base lost');
    const answer = b.outgoing('a', mb).frame;
    const back = decodeMessage(answer);
    if (back.type !== MSG.digest && back.type !== MSG.digestDelta) throw new Error('not a DIGEST');
    if (a.incoming('b', back) === null) throw new Error('base lost');
    bytes = framed(ask) + framed(answer) + 2 * framed(END_MESSAGE) + 2 * framed(EXCHANGE_ACK_MESSAGE);
  }
  return bytes;
}

function wholeDigestBytes(members: number): number {
  const replicas = Array.from({ length: members }, () => randomBytes(16).toString('hex'));
  return encodeDigest(steady(members, replicas[0]!, replicas)).length;
}

function peersBytes(members: number): number {
  // a peer's addresses as a node passes them on: one TCP multiaddr with its PeerId each
  const addrs = Array.from({ length: members - 1 }, (_, i) => `/ip4/10.0.${i >> 8}.${i & 255}/tcp/7400/p2p/12D3KooW${randomBytes(32).toString('base64url').slice(0, 44)}`);
  return encodePeers(addrs).length;
}

export function benchDigestSize(): void {
  console.log('\n# DIGEST size in steady state (every member wrote, the node has collected)');
  for (const n of [3, 50]) {
    console.log(
      `${n} members: whole DIGEST ${wholeDigestBytes(n)} bytes (once per connection); ` +
        `one sync round in sync, both directions, framing included: first ${inSyncRound(n, 1)} bytes, then ${inSyncRound(n, 3)} bytes; ` +
        `PEERS ${peersBytes(n)} bytes (once per connection, then only when the list changed)`,
    );
  }
}
