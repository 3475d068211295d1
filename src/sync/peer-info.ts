// What the sync layer reports of its peers and how it replicates. Below both sync/ and control/:
// the control API (control/api.ts) re-exports these types, so sync/ never imports control/.

export type Mode = 'push' | 'pull' | 'hybrid';
export type PeerState = 'alive' | 'suspect' | 'down';

export interface PeerInfo {
  peerId: string;
  state: PeerState;
  /** Our known writes that the peer lacked at its last digest (0 if it has everything we know). */
  behind: number;
  /** Multiaddrs we know for the peer (each ending in /p2p/PEERID). */
  addrs: string[];
  /** When we last heard from the peer (ms since the epoch), or null. */
  lastSeen: number | null;
  /** The peer's replica id, once it has told us. */
  replicaId: string | null;
}
