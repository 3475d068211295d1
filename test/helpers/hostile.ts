// A hostile peer for tests: a real libp2p node built from the project's own dependencies, holding
// the fleet's swarm key (a member), that sends raw frames of the sync protocol.
import { generateKeyPair } from '@libp2p/crypto/keys';
import { Writer } from '../../src/core/bytes.js';
import { createNetwork, type Network } from '../../src/net/node.js';
import type { Fleet } from './daemons.js';

/** One length-prefixed frame holding `msg`, as the sync protocol sends it. */
export function frame(msg: Uint8Array): Uint8Array {
  const w = new Writer(msg.length + 8);
  w.chunk(msg);
  return w.finish();
}

/** A new node that may join `fleet`'s network (the caller stops it). */
export async function hostilePeer(fleet: Fleet): Promise<Network> {
  return createNetwork({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], ...fleet.networkOptions() });
}
