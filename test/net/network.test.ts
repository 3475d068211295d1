// Real libp2p nodes on 127.0.0.1: the private network (swarm key) and the allow-list keep strangers
// out, and peers that belong together connect and exchange frames.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { FrameWriter, readFrames } from '../../src/net/frames.js';
import { createNetwork, fullAddrs, type Network, type NetworkOptions } from '../../src/net/node.js';
import { readSwarmKeyFile, writeSwarmKeyFile } from '../../src/net/swarm-key.js';

const ECHO = '/replikv-test/echo/1.0.0';
const nodes: Network[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function node(opts: Partial<NetworkOptions> = {}): Promise<Network> {
  const n = await createNetwork({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], ...opts });
  nodes.push(n);
  return n;
}

function swarmKey(): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'replikv-net-'));
  dirs.push(dir);
  const file = join(dir, 'swarm.key');
  writeSwarmKeyFile(file);
  return readSwarmKeyFile(file);
}

/** Registers an echo handler on `n` and returns how many streams it has accepted. */
async function echo(n: Network): Promise<{ opened: number }> {
  const count = { opened: 0 };
  await n.handle(ECHO, async (stream) => {
    count.opened++;
    const writer = new FrameWriter(stream);
    for await (const frame of readFrames(stream, { maxFrameBytes: 1024 })) await writer.write(frame);
    await writer.close();
  });
  return count;
}

async function roundTrip(from: Network, to: Network, frames: string[]): Promise<string[]> {
  const stream = await from.dialProtocol(multiaddr(fullAddrs(to)[0]!), ECHO);
  const writer = new FrameWriter(stream);
  for (const f of frames) await writer.write(new TextEncoder().encode(f));
  await writer.close();
  const back: string[] = [];
  for await (const frame of readFrames(stream, { maxFrameBytes: 1024 })) back.push(new TextDecoder().decode(frame));
  return back;
}

describe('createNetwork', () => {
  it('listens when it resolves and reports full multiaddrs ending in its PeerId', async () => {
    const a = await node();
    expect(a.status).toBe('started');
    const addrs = fullAddrs(a);
    expect(addrs.length).toBeGreaterThan(0);
    for (const addr of addrs) expect(addr).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/[1-9][0-9]*/p2p/${a.peerId.toString()}$`));
  });

  it('connects two nodes with the same swarm key; they ping and exchange frames', async () => {
    const key = swarmKey();
    const [a, b] = [await node({ swarmKey: key }), await node({ swarmKey: key })];
    const accepted = await echo(b);
    expect(await roundTrip(a, b, ['one', '', 'three'])).toEqual(['one', '', 'three']);
    expect(accepted.opened).toBe(1);
    expect(await a.services.ping.ping(multiaddr(fullAddrs(b)[0]!))).toBeGreaterThanOrEqual(0);
    expect(a.getConnections(b.peerId)).toHaveLength(1);
  });

  it('refuses a peer with a different swarm key: the dial fails and no stream opens', async () => {
    const [a, b] = [await node({ swarmKey: swarmKey() }), await node({ swarmKey: swarmKey() })];
    const accepted = await echo(b);
    await expect(a.dialProtocol(multiaddr(fullAddrs(b)[0]!), ECHO)).rejects.toThrow();
    expect(accepted.opened).toBe(0);
    expect(a.getConnections()).toHaveLength(0);
  });

  it('refuses a peer without a swarm key, whichever side dials', async () => {
    const [keyed, open] = [await node({ swarmKey: swarmKey() }), await node()];
    const accepted = await echo(keyed);
    const openAccepted = await echo(open);
    // In parallel: the keyed dialler only gives up at libp2p's 6 s per-address dial timeout.
    await Promise.all([
      expect(open.dialProtocol(multiaddr(fullAddrs(keyed)[0]!), ECHO)).rejects.toThrow(),
      expect(keyed.dialProtocol(multiaddr(fullAddrs(open)[0]!), ECHO)).rejects.toThrow(),
    ]);
    expect(accepted.opened + openAccepted.opened).toBe(0);
    expect(open.getConnections()).toHaveLength(0);
    expect(keyed.getConnections()).toHaveLength(0);
  });

  it('an allow-list admits listed peers and refuses others, inbound and outbound', async () => {
    const friend = await node();
    const stranger = await node();
    const guarded = await node({ allowList: [friend.peerId.toString()] });
    const accepted = await echo(guarded);
    await echo(stranger);

    await expect(stranger.dialProtocol(multiaddr(fullAddrs(guarded)[0]!), ECHO)).rejects.toThrow();
    expect(accepted.opened).toBe(0);
    await expect(guarded.dialProtocol(multiaddr(fullAddrs(stranger)[0]!), ECHO)).rejects.toThrow();
    expect(guarded.getConnections(stranger.peerId)).toHaveLength(0);

    expect(await roundTrip(friend, guarded, ['hello'])).toEqual(['hello']);
    expect(accepted.opened).toBe(1);
  });

  it('refuses a malformed allow-list entry or listen address with a ConfigError', async () => {
    const privateKey = await generateKeyPair('Ed25519');
    await expect(createNetwork({ privateKey, listen: ['/ip4/127.0.0.1/tcp/0'], allowList: ['not-a-peer-id'] })).rejects.toThrow(ConfigError);
    await expect(createNetwork({ privateKey, listen: ['127.0.0.1:4001'] })).rejects.toThrow(/invalid listen address/);
  });
});
