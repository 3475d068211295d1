// `npm run bench -- digest`: the size of a node's steady-state DIGEST at 3 and 50 members (issue 17
// asked for it). Steady state: every member has written (its replica is in the clock, with a
// counter near a million) and the node has collected (its GC frontier names every replica too);
// nothing forgotten or retired. A DIGEST carries the peer list (peer exchange) once every ten
// rounds to each peer; both sizes are shown. Built from the real encoder, so any field a change
// adds to the DIGEST shows here.
import { randomBytes } from 'node:crypto';
import { Clock } from '../src/core/clock.js';
import { encodeDigest } from '../src/sync/messages.js';

function digestBytes(members: number, withPeers: boolean): number {
  const replicas = Array.from({ length: members }, () => randomBytes(16).toString('hex'));
  const clock = Clock.fromIntervals(replicas.map((r, i) => [r, 1, 1_000_000 + i] as [string, number, number]));
  const frontier = Clock.fromIntervals(replicas.map((r, i) => [r, 1, 990_000 + i] as [string, number, number]));
  // a peer's addresses as a node passes them on: one TCP multiaddr with its PeerId each
  const peers = withPeers ? Array.from({ length: members - 1 }, (_, i) => `/ip4/10.0.${i >> 8}.${i & 255}/tcp/7400/p2p/12D3KooW${randomBytes(32).toString('base64url').slice(0, 44)}`) : [];
  return encodeDigest({ replicaId: replicas[0]!, digest: new Uint8Array(16), clock, frontier, peers, forgotten: [] }).length;
}

export function benchDigestSize(): void {
  console.log('\n# DIGEST size in steady state (every member wrote, the node has collected)');
  for (const n of [3, 50]) {
    console.log(`${n} members: ${digestBytes(n, false)} bytes; with the peer list (every tenth round to a peer): ${digestBytes(n, true)} bytes`);
  }
}
