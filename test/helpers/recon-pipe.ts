// Two keyspaces reconciling over an in-process pipe: the real shell (sync/reconciler.ts) and
// message encoders without a network, counting frame bytes and round trips exactly.
import { Clock } from '../../src/core/clock.js';
import { chunkEntries, DEFAULT_DELTA_LIMITS } from '../../src/core/delta.js';
import type { Keyspace } from '../../src/store/keyspace.js';
import { pullRecon, serveRecon, type PullOptions, type ReconIo } from '../../src/sync/reconciler.js';
import type { Replicator } from '../../src/sync/replicator.js';

/** Bytes of a frame on the wire: its varint length prefix and itself. */
export const wire = (f: Uint8Array) => f.length + (f.length < 128 ? 1 : f.length < 16384 ? 2 : 3);

/** One direction of an in-process stream. */
class Pipe {
  private readonly q: Uint8Array[] = [];
  private readonly waiting: ((f: Uint8Array | undefined) => void)[] = [];
  private closed = false;
  bytes = 0;

  push(f: Uint8Array): void {
    this.bytes += wire(f);
    const w = this.waiting.shift();
    if (w !== undefined) w(f);
    else this.q.push(f);
  }

  next(): Promise<Uint8Array | undefined> {
    if (this.q.length > 0) return Promise.resolve(this.q.shift());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((ok) => this.waiting.push(ok));
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w(undefined);
  }
}

export interface Traffic {
  /** Bytes the puller received and sent. */
  received: number;
  sent: number;
  /** Times the puller waited for an answer after sending. */
  roundTrips: number;
}

/** A replicator's reconcileWith for `client` over a pipe to `server`, counting the traffic. */
export function piped(client: Keyspace, server: Keyspace, traffic: Traffic, now: () => number = Date.now): Pick<Replicator, 'reconcileWith'> {
  return {
    reconcileWith: async (_peer: string, o: PullOptions) => {
      const up = new Pipe();
      const down = new Pipe();
      let wrote = false;
      const pullerIo: ReconIo = {
        write: async (f) => void ((wrote = true), up.push(f)),
        flush: async () => {},
        next: () => {
          if (wrote) traffic.roundTrips++;
          wrote = false;
          return down.next();
        },
        close: async () => up.close(),
      };
      const serverIo: ReconIo = { write: async (f) => down.push(f), flush: async () => {}, next: () => up.next(), close: async () => down.close() };
      const served = up.next().then((first) => serveRecon(server, serverIo, first!, DEFAULT_DELTA_LIMITS, now()));
      const r = await pullRecon(client, pullerIo, o);
      await served;
      traffic.received += down.bytes;
      traffic.sent += up.bytes;
      return r === 'busy' ? r : { ...r, bytes: down.bytes };
    },
  };
}


/** `to` takes everything `from` holds (as a backup restore or a bootstrap would). */
export async function copyInto(from: Keyspace, to: Keyspace): Promise<void> {
  const snap = from.snapshot();
  try {
    for (const chunk of chunkEntries(snap.entries(), DEFAULT_DELTA_LIMITS)) await to.applyDelta({ entries: chunk.entries, claim: Clock.empty(), heads: snap.heads });
    await to.finishRepair(snap.clock, snap.frontier, snap.heads);
  } finally {
    snap.close();
  }
}

