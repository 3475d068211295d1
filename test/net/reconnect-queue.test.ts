// The one code path of libp2p that uses p-retry: its reconnect queue redials a peer tagged
// KEEP_ALIVE when the connection drops. package.json pins p-retry 7 (overrides), which asks for
// Node 20, where libp2p asks for ^8 (Node 22 by its engines, same call interface): this runs that
// path with replikv's own libp2p set-up (reconnectRetries 0: one attempt) and the pinned p-retry.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { KEEP_ALIVE, type PeerId } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';
import { createNetwork, type Network } from '../../src/net/node.js';
import { eventually } from '../helpers/process.js';

const nodes: Network[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function node(): Promise<Network> {
  const n = await createNetwork({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
  nodes.push(n);
  return n;
}

const connected = (from: Network, to: PeerId) => from.getConnections(to).some((c) => c.status === 'open');

describe("libp2p's reconnect queue (p-retry)", () => {
  it('resolves the pinned p-retry 7 for libp2p, whose engines admit Node 20', () => {
    // Resolved the way Node resolves it from inside libp2p (libp2p exports no package.json).
    const libp2pPackage = fileURLToPath(new URL('../../node_modules/libp2p/package.json', import.meta.url));
    const pRetryEntry = createRequire(libp2pPackage).resolve('p-retry');
    const p = JSON.parse(readFileSync(join(dirname(pRetryEntry), 'package.json'), 'utf8')) as { version: string; engines: { node: string } };
    expect(p.version).toMatch(/^7\./);
    expect(p.engines.node).toBe('>=20');
  });

  it('redials a KEEP_ALIVE peer whose connection closed, and gives up on one that is gone (reconnect-failure, tag removed)', async () => {
    const [a, b] = [await node(), await node()];
    await a.dial(multiaddr(`${b.getMultiaddrs()[0]!.toString()}`));
    await a.peerStore.merge(b.peerId, { tags: { [KEEP_ALIVE]: { value: 1 } } });
    expect(connected(a, b.peerId)).toBe(true);

    // a's connection to b closes while b stays up; nothing else here dials, so the connection that
    // follows is the reconnect queue's.
    const events: string[] = [];
    a.addEventListener('connection:close', (evt) => evt.detail.remotePeer.equals(b.peerId) && events.push('close'));
    a.addEventListener('connection:open', (evt) => evt.detail.remotePeer.equals(b.peerId) && events.push('open'));
    await Promise.all(a.getConnections(b.peerId).map((c) => c.close()));
    await eventually(async () => events.join(' '), (e) => e === 'close open', 'a to reconnect to b', 30_000);
    expect(connected(a, b.peerId)).toBe(true);

    // b goes away: the one attempt fails, and libp2p reports the failure and drops the tag.
    let failed: PeerId | undefined;
    a.addEventListener('peer:reconnect-failure', (evt) => (failed = evt.detail));
    await b.stop();
    await eventually(async () => failed?.toString(), (id) => id === b.peerId.toString(), 'peer:reconnect-failure for b', 30_000);
    const tags = (await a.peerStore.get(b.peerId)).tags;
    expect([...tags.keys()].filter((t) => t.startsWith(KEEP_ALIVE))).toEqual([]);
  });
});
