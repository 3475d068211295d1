// Resource limits a peer cannot talk the node out of (issue 9). Pure decisions, no I/O: how many
// inbound sync streams one connection may hold open, and which peer-exchange addresses are worth
// keeping. The replicator applies them and logs what it refused.

import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';

/**
 * Inbound sync streams one connection may hold open at once. An honest peer opens at most a push
 * stream, a sync round, a snapshot and a few VERIFY probes at a time; the rest are reset.
 */
export const MAX_INBOUND_STREAMS_PER_CONNECTION = 64;
/** Addresses taken from one DIGEST's peer exchange; the rest are ignored. */
export const MAX_PEX_ADDRS_PER_DIGEST = 64;
/** Addresses kept per peer (from peer exchange, identify or dials). */
export const MAX_ADDRS_PER_PEER = 8;
/** Peers known in total; past it the oldest peer never connected gives way. */
export const MAX_KNOWN_PEERS = 1000;
/** Dials to learned peers in flight at once (seeds are always dialled). */
export const MAX_DIALS_IN_FLIGHT = 16;

/** Counts open inbound streams per connection: admit() before serving, release() when done. */
export class StreamCounter {
  private readonly open = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** True if the connection may open one more stream (counted); false if it is at the limit. */
  admit(connection: string): boolean {
    const n = this.open.get(connection) ?? 0;
    if (n >= this.limit) return false;
    this.open.set(connection, n + 1);
    return true;
  }

  release(connection: string): void {
    const n = this.open.get(connection) ?? 0;
    if (n <= 1) this.open.delete(connection);
    else this.open.set(connection, n - 1);
  }

  count(connection: string): number {
    return this.open.get(connection) ?? 0;
  }
}

/** The PeerId an address names if it is a well-formed multiaddr over TCP ending in /p2p/<PeerId>; else null. */
export function dialablePeerId(addr: string): string | null {
  let ma;
  try {
    ma = multiaddr(addr);
  } catch {
    return null;
  }
  const parts = ma.getComponents();
  const last = parts.at(-1);
  if (last?.name !== 'p2p' || last.value === undefined) return null;
  if (!parts.some((p) => p.name === 'tcp')) return null;
  // A relayed or otherwise nested address names more than one peer: not a direct dial.
  if (parts.filter((p) => p.name === 'p2p').length !== 1) return null;
  try {
    const id = peerIdFromString(last.value).toString();
    return ma.toString() === addr ? id : null; // only the canonical text, so one address is one entry
  } catch {
    return null;
  }
}

/**
 * The peer-exchange addresses worth learning from one DIGEST: at most `max` well-formed TCP
 * addresses naming a valid PeerId other than `self`, in the order given, without duplicates.
 */
export function pexAddrs(addrs: readonly string[], self: string, max = MAX_PEX_ADDRS_PER_DIGEST): { peerId: string; addr: string }[] {
  const out: { peerId: string; addr: string }[] = [];
  const seen = new Set<string>();
  for (const addr of addrs) {
    if (out.length >= max) break;
    if (seen.has(addr)) continue;
    seen.add(addr);
    const peerId = dialablePeerId(addr);
    if (peerId === null || peerId === self) continue;
    out.push({ peerId, addr });
  }
  return out;
}

/** CPU time (ms) one peer's signature checks may cost this node: a burst, then a share of one core. */
export const HEAD_CHECK_BURST_MS = 2_000;
export const HEAD_CHECK_MS_PER_SECOND = 250;

/**
 * A budget per peer of the CPU time spent checking the heads its frames carry (heads newer than the
 * ones kept; an Ed25519 verify is 0.15 ms or more). An honest peer needs one or a few per push batch
 * or exchange; a member minting replicas and re-signing their heads would otherwise buy that with
 * every 120 bytes it sends. Counted in time spent, not in checks, so a slow or busy machine is
 * protected as well as a fast one. A peer in debt has its next frame refused.
 */
export class CheckBudget {
  private readonly buckets = new Map<string, { ms: number; at: number }>();

  constructor(
    private readonly burstMs = HEAD_CHECK_BURST_MS,
    private readonly msPerSecond = HEAD_CHECK_MS_PER_SECOND,
  ) {}

  /** May `peer` have checks done for it at `now` (ms)? */
  allowed(peer: string, now: number): boolean {
    return this.refill(peer, now).ms > 0;
  }

  /** Debits `spentMs` of checking done for `peer`. */
  charge(peer: string, spentMs: number, now: number): void {
    this.refill(peer, now).ms -= spentMs;
  }

  private refill(peer: string, now: number): { ms: number; at: number } {
    let b = this.buckets.get(peer);
    if (b === undefined) {
      if (this.buckets.size >= MAX_KNOWN_PEERS * 2) this.buckets.delete(this.buckets.keys().next().value!);
      this.buckets.set(peer, (b = { ms: this.burstMs, at: now }));
    }
    b.ms = Math.min(this.burstMs, b.ms + ((now - b.at) / 1000) * this.msPerSecond);
    b.at = now;
    return b;
  }
}
