// The libp2p node: TCP, Noise, Yamux, identify and ping, optionally inside a private network
// (swarm key) and behind an allow-list of PeerIds. Nothing discovers or dials on its own: the daemon
// decides whom to dial.

import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify, type Identify } from '@libp2p/identify';
import type { ComponentLogger, ConnectionGater, Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { ping, type Ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { ConfigError } from '../errors.js';
import './pnet-chunks.js';

export interface NetworkOptions {
  privateKey: PrivateKey;
  /** Multiaddrs to listen on, e.g. '/ip4/127.0.0.1/tcp/0'. */
  listen: string[];
  /** Swarm key file bytes (readSwarmKeyFile): only peers with the same key can connect. */
  swarmKey?: Uint8Array;
  /** PeerIds allowed to connect either way; empty or absent allows any peer. */
  allowList?: string[];
  /** PeerIds refused at the time of asking (forgotten peers): never dialled, and refused inbound unless `admitDenied`. */
  denyPeer?: (peerId: string) => boolean;
  /** A denied peer's inbound connection is let up, so the node can tell it why before it hangs up. */
  admitDenied?: boolean;
  logger?: ComponentLogger;
}

export type Network = Libp2p<{ identify: Identify; ping: Ping }>;

// A paused yamux stream keeps receiving up to one window, and the stream resets itself once its
// read buffer (4 MiB by default) overflows: keep the window well below that.
const MAX_STREAM_WINDOW = 1024 * 1024;

// Inbound streams of every protocol on one connection, those still negotiating included: yamux
// resets the excess at once. libp2p's per-protocol maxInboundStreams is checked only when a stream
// finishes negotiating, and the replicator serves at most MAX_INBOUND_STREAMS_PER_CONNECTION sync
// streams (sync/limits.ts); this bounds the rest (yamux's default is 1,000).
const MAX_INBOUND_STREAMS = 256;

// libp2p's defaults (6 s per address for connect plus pnet, Noise and yamux negotiation, 10 s for an
// inbound upgrade or a protocol negotiation) fail a handshake that is merely slow on a loaded
// machine. These bound only the handshake and negotiation phases, never an open stream.
const HANDSHAKE_TIMEOUT_MS = 30_000;
// The connection monitor pings every 10 s and aborts the whole connection (every stream on it, with
// "The operation was aborted due to timeout") when a ping takes longer than its timeout, 5 s by
// default. A ping queues behind a large transfer on a slow link (megabytes in yamux windows and
// socket buffers), so a busy connection failed it while alive. A dead peer is still noticed, after
// 40 s instead of 15 (the timeout adapts upwards to slow pings, up to 60 s).
const PING_TIMEOUT_MS = 30_000;

/** Creates, starts and returns a node that is listening on every address in `opts.listen`. */
export async function createNetwork(opts: NetworkOptions): Promise<Network> {
  for (const addr of opts.listen) {
    try {
      multiaddr(addr);
    } catch (err) {
      throw new ConfigError(`invalid listen address "${addr}": ${(err as Error).message}`);
    }
  }
  const allowed = gater(opts.allowList ?? [], opts.denyPeer ?? (() => false), opts.admitDenied ?? false);
  return createLibp2p({
    privateKey: opts.privateKey,
    addresses: { listen: opts.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxInboundStreams: MAX_INBOUND_STREAMS, streamOptions: { maxStreamWindowSize: MAX_STREAM_WINDOW } })],
    ...(opts.swarmKey !== undefined ? { connectionProtector: preSharedKey({ psk: opts.swarmKey }) } : {}),
    connectionGater: allowed,
    connectionManager: {
      // Peers of one cluster often share a host (and tests share 127.0.0.1): the default of 5
      // inbound connections per second per host would refuse legitimate reconnects.
      inboundConnectionThreshold: 100,
      // The daemon redials its peers itself.
      reconnectRetries: 0,
      dialTimeout: HANDSHAKE_TIMEOUT_MS,
      addressDialTimeout: HANDSHAKE_TIMEOUT_MS,
      inboundUpgradeTimeout: HANDSHAKE_TIMEOUT_MS,
      inboundStreamProtocolNegotiationTimeout: HANDSHAKE_TIMEOUT_MS,
      outboundStreamProtocolNegotiationTimeout: HANDSHAKE_TIMEOUT_MS,
    },
    connectionMonitor: { pingTimeout: { minTimeout: PING_TIMEOUT_MS, maxTimeout: 2 * PING_TIMEOUT_MS } },
    ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    services: { identify: identify(), ping: ping() },
    start: true,
  });
}

/**
 * A gater that refuses any remote peer not in `peers` (when given) or denied, before and after
 * encryption; a denied peer's inbound connection only when not `admitDenied`.
 */
function gater(peers: string[], denied: (peerId: string) => boolean, admitDenied: boolean): ConnectionGater {
  const ids = new Set<string>();
  for (const p of peers) {
    try {
      ids.add(peerIdFromString(p).toString());
    } catch (err) {
      throw new ConfigError(`invalid PeerId "${p}" in the allow-list: ${(err as Error).message}`);
    }
  }
  const unlisted = (peer: PeerId): boolean => ids.size > 0 && !ids.has(peer.toString());
  const refused = (peer: PeerId): boolean => unlisted(peer) || denied(peer.toString());
  return {
    denyDialPeer: refused,
    denyInboundEncryptedConnection: admitDenied ? unlisted : refused,
    denyOutboundEncryptedConnection: refused,
  };
}

/** The node's listen addresses, each ending in /p2p/<PeerId>, ready to hand to another node's dial. */
export function fullAddrs(node: Libp2p): string[] {
  const suffix = `/p2p/${node.peerId.toString()}`;
  return node.getMultiaddrs().map((ma) => {
    const s = ma.toString();
    return s.endsWith(suffix) ? s : `${s}${suffix}`;
  });
}
