// Rate-limited warnings: a peer that stays unreachable must not write a line per dial. At most one
// line per key (a peer, an address) per window; the next line says how many were held back.
// Time is passed in, so the rule is testable.

const MAX_KEYS = 4096;

export class LogLimiter {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(private readonly windowMs = 60_000) {}

  /** null: stay quiet this time; a number: log now, noting this many lines held back. */
  take(key: string, now: number): number | null {
    const e = this.last.get(key);
    if (e !== undefined && now - e.at < this.windowMs) {
      e.held++;
      return null;
    }
    const held = e?.held ?? 0;
    this.last.delete(key); // re-inserted last, so the map stays in order of last use
    this.last.set(key, { at: now, held: 0 });
    if (this.last.size > MAX_KEYS) this.last.delete(this.last.keys().next().value!);
    return held;
  }
}
