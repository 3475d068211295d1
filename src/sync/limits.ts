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
/** The same for all peers together: PeerIds cost nothing to make, so one budget must hold across them. */
export const HEAD_CHECK_TOTAL_BURST_MS = 3_000;
export const HEAD_CHECK_TOTAL_MS_PER_SECOND = 500;

interface Bucket {
  ms: number;
  at: number;
}

/**
 * A budget of the CPU time spent checking the heads peers' frames carry (heads newer than the ones
 * held, of replicas the frame's states name; an Ed25519 verify is 0.15 ms or more), per peer and
 * for all peers together. An honest peer needs one or a few per push batch or exchange; a member
 * minting replicas and signing their heads would otherwise buy that with every 120 bytes it sends,
 * and with many PeerIds a budget per peer alone multiplies. Counted in time spent, not in checks,
 * so a slow or busy machine is protected as well as a fast one. A frame of a peer in debt, or
 * while all peers together are, is refused (or, for a snapshot, waits). One exception keeps honest
 * writers going through a flood: a frame whose only check is the head of the sending peer's own
 * replica (`own`) needs the peer's budget and a total of its own, the same size as the other: such
 * a frame carries a new write of that replica, so a member buys a check with a write of its own;
 * PeerIds writing as themselves cannot spend the total that relayed heads need, and all of them
 * together spend at most that second total.
 */
export class CheckBudget {
  private readonly buckets = new Map<string, Bucket>();
  private readonly total: Bucket;
  /** The total for frames whose one check is the sending peer's own replica. */
  private readonly ownTotal: Bucket;

  constructor(
    private readonly burstMs = HEAD_CHECK_BURST_MS,
    private readonly msPerSecond = HEAD_CHECK_MS_PER_SECOND,
    private readonly totalBurstMs = HEAD_CHECK_TOTAL_BURST_MS,
    private readonly totalMsPerSecond = HEAD_CHECK_TOTAL_MS_PER_SECOND,
    now = 0,
  ) {
    this.total = { ms: totalBurstMs, at: now };
    this.ownTotal = { ms: totalBurstMs, at: now };
  }

  /** May `peer` have checks done for it at `now` (ms)? `own`: the checks are of its own replica's head only. */
  allowed(peer: string, now: number, own = false): boolean {
    return this.refill(peer, now).ms > 0 && this.refillTotal(now, own).ms > 0;
  }

  /** How long (ms) until `peer` may have checks done for it: 0 when it may now. */
  waitMs(peer: string, now: number): number {
    const mine = this.refill(peer, now).ms;
    const all = this.refillTotal(now).ms;
    const until = (ms: number, rate: number) => (ms > 0 ? 0 : Math.ceil(((1 - ms) * 1000) / rate));
    return Math.max(until(mine, this.msPerSecond), until(all, this.totalMsPerSecond));
  }

  /** Debits `spentMs` of checking done for `peer`, from its budget and the total (`own`: the own-replica total). */
  charge(peer: string, spentMs: number, now: number, own = false): void {
    this.refill(peer, now).ms -= spentMs;
    this.refillTotal(now, own).ms -= spentMs;
  }

  private refill(peer: string, now: number): Bucket {
    let b = this.buckets.get(peer);
    if (b === undefined) {
      if (this.buckets.size >= MAX_KNOWN_PEERS * 2) this.buckets.delete(this.buckets.keys().next().value!);
      this.buckets.set(peer, (b = { ms: this.burstMs, at: now }));
    }
    return fill(b, now, this.burstMs, this.msPerSecond);
  }

  private refillTotal(now: number, own = false): Bucket {
    return fill(own ? this.ownTotal : this.total, now, this.totalBurstMs, this.totalMsPerSecond);
  }
}

function fill(b: Bucket, now: number, burstMs: number, msPerSecond: number): Bucket {
  if (now > b.at) {
    b.ms = Math.min(burstMs, b.ms + ((now - b.at) / 1000) * msPerSecond);
    b.at = now;
  }
  return b;
}
