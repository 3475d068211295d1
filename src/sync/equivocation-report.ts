// What this node tells of equivocations (core/equivocation.ts) found in peers' states: counted,
// and logged once per replica a minute, since one forged dot meets a node again at every merge
// until all nodes hold the winning version. The replica named is faulty (a bug, damage, or a
// member that told each node another value); merge already resolved each dot the same way
// everywhere, so this reports and does not act.

import type { Logger } from 'pino';
import type { Equivocation } from '../store/keyspace.js';
import { LogLimiter } from '../log-limiter.js';

export interface EquivocationStats {
  /** Dots found held with two contents since start (each meeting counts). */
  detected: number;
  /** The replicas that equivocated, most recent last (at most MAX_REPLICAS). */
  replicas: string[];
  /** When the last one was found (ms since the epoch), or null. */
  lastAt: number | null;
}

const MAX_REPLICAS = 16;

export class EquivocationReport {
  private detected = 0;
  private lastAt: number | null = null;
  private readonly replicas: string[] = [];
  private readonly notes = new LogLimiter();

  constructor(private readonly log: Logger) {}

  note(found: readonly Equivocation[], now: number): void {
    for (const { key, dots } of found) {
      for (const d of dots) {
        this.detected++;
        this.lastAt = now;
        const i = this.replicas.indexOf(d.r);
        if (i >= 0) this.replicas.splice(i, 1);
        this.replicas.push(d.r);
        if (this.replicas.length > MAX_REPLICAS) this.replicas.shift();
        const held = this.notes.take(d.r, now);
        if (held === null) continue;
        this.log.warn(
          { replica: d.r, counter: d.c, key: Buffer.from(key).toString('utf8'), ...(held > 0 ? { suppressed: held } : {}) },
          'equivocation: a peer holds this write with other contents than this node (the replica wrote one dot twice: faulty or hostile); every node keeps the same version',
        );
      }
    }
  }

  stats(): EquivocationStats {
    return { detected: this.detected, replicas: [...this.replicas], lastAt: this.lastAt };
  }
}
