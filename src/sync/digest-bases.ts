// Which DIGESTs each side of a pair holds, so that a DIGEST can be sent as a difference (sans I/O:
// frames in, frames and answers out). Per peer, a node keeps the last few cores it sent and the last
// few it heard, by hash. Every DIGEST names, in `heard`, the newest core the sender holds of the
// receiver's; the receiver's next DIGEST goes against that core when it still has it, else whole.
// A DIGEST against a base the receiver does not hold (evicted, a restart, a lie) is answered with
// NEED_FULL and then sent whole. Bases are content-addressed, so concurrent streams, a stream cut
// midway, a new connection or a restart of either side can cost a whole DIGEST, never a wrong clock;
// what is rebuilt is exactly what the sender would have sent whole, and is judged the same.

import { applyCore, cloneCore, coreHash, diffCore, type DigestCore } from './digest-core.js';
import { encodeDigest, encodeDigestDelta, MSG, type DigestDeltaMessage, type DigestMessage } from './messages.js';

/** Cores kept per peer and direction: enough for a sync round each way and a push or two at once. */
export const BASES_KEPT = 4;

/** A DIGEST as sent to one peer: against a base the peer holds, or whole; `whole` for a NEED_FULL answer. */
export interface OutgoingDigest {
  frame: Uint8Array;
  whole: () => Uint8Array;
  /** True when `frame` is a difference. */
  delta: boolean;
}

type DigestFields = Omit<DigestMessage, 'type' | 'heard'>;

interface PeerBases {
  sent: Map<string, DigestCore>;
  heard: Map<string, DigestCore>;
  /** The newest of this node's cores the peer said it holds. */
  theyHold: string | undefined;
}

export class DigestBases {
  private readonly peers = new Map<string, PeerBases>();

  /** The DIGEST for `peer`: whole the first time, then against the newest core it said it holds. */
  outgoing(peer: string, m: DigestFields): OutgoingDigest {
    const p = this.of(peer);
    const core = coreOf(m);
    const hash = coreHash(core);
    const heard = newest(p.heard);
    const whole = (): Uint8Array => encodeDigest({ ...m, ...(heard === undefined ? {} : { heard }) });
    const base = p.theyHold === undefined ? undefined : p.sent.get(p.theyHold);
    keep(p.sent, hash, core);
    if (base === undefined || base.replicaId !== core.replicaId) return { frame: whole(), whole, delta: false };
    const frame = encodeDigestDelta(base, { ...(heard === undefined ? {} : { heard }), core: diffCore(base, p.theyHold!, core), forgotten: m.forgotten, records: m.retired.records });
    return { frame, whole, delta: true };
  }

  /**
   * A DIGEST from `peer`, whole or against a base: the whole DIGEST, or null when the base is not
   * held here (answer NEED_FULL). A difference that breaks a clock's bounds throws DecodeError.
   */
  incoming(peer: string, m: DigestMessage | DigestDeltaMessage): DigestMessage | null {
    const p = this.of(peer);
    p.theyHold = m.heard;
    let d: DigestMessage;
    if (m.type === MSG.digest) {
      d = m;
    } else {
      const base = p.heard.get(m.core.base);
      if (base === undefined) return null;
      const c = applyCore(base, m.core);
      d = {
        type: MSG.digest,
        replicaId: c.replicaId,
        digest: c.digest,
        digestAt: c.digestAt,
        clock: c.clock,
        frontier: c.frontier,
        forgotten: m.forgotten,
        retired: { hash: c.retiredHash, omitted: c.omitted, records: m.records },
        ...(m.heard === undefined ? {} : { heard: m.heard }),
      };
    }
    const core = coreOf(d);
    keep(p.heard, coreHash(core), core);
    return d;
  }

  /** A peer disconnected: its bases go (a new connection starts whole). */
  forgetPeer(peer: string): void {
    this.peers.delete(peer);
  }

  private of(peer: string): PeerBases {
    let p = this.peers.get(peer);
    if (p === undefined) this.peers.set(peer, (p = { sent: new Map(), heard: new Map(), theyHold: undefined }));
    return p;
  }
}

/** The part of a DIGEST a later one may send as a difference; a copy (callers' clocks change). */
function coreOf(m: DigestFields): DigestCore {
  return cloneCore({ replicaId: m.replicaId, digest: m.digest, digestAt: m.digestAt, clock: m.clock, frontier: m.frontier, retiredHash: m.retired.hash, omitted: m.retired.omitted });
}

/** Keeps `core` as the newest under `hash`, dropping the oldest past BASES_KEPT. */
function keep(m: Map<string, DigestCore>, hash: string, core: DigestCore): void {
  m.delete(hash);
  m.set(hash, core);
  if (m.size > BASES_KEPT) m.delete(m.keys().next().value!);
}

function newest(m: Map<string, DigestCore>): string | undefined {
  let last: string | undefined;
  for (const k of m.keys()) last = k;
  return last;
}
