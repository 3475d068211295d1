// The simulator's event queue: a binary min-heap on (time, insertion order), so events at the same
// virtual time run in the order they were scheduled and a run is fully determined by its seed.

export interface SimEvent {
  t: number;
  seq: number;
  run: () => void;
}

export class EventQueue {
  private readonly heap: SimEvent[] = [];
  private seq = 0;
  now = 0;

  get size(): number {
    return this.heap.length;
  }

  at(t: number, run: () => void): void {
    const e = { t: Math.max(t, this.now), seq: this.seq++, run };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  /** Runs events in order until the queue is empty or the next one is after `until`. */
  runUntil(until: number): void {
    const h = this.heap;
    while (h.length > 0 && h[0]!.t <= until) {
      const e = this.pop();
      this.now = e.t;
      e.run();
    }
    this.now = Math.max(this.now, until);
  }

  private pop(): SimEvent {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && less(h[r]!, h[l]!) ? r : l;
        if (!less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

function less(a: SimEvent, b: SimEvent): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
