// An in-memory cluster for the overlay's property tests: per-link FIFO queues delivered in a
// random interleaving (as TCP streams between real nodes would), crashes that close connections,
// and a clock that only moves when the test says. Every frame is encoded and decoded on the way.
import { DecodeError } from '../../src/errors.js';
import { HyParView, type HyParViewConfig } from '../../src/overlay/hyparview.js';
import { decodeOverlay, encodeOverlay, type PeerId } from '../../src/overlay/messages.js';
import { prng } from '../../sim/prng.js';

export { prng };

export class Cluster {
  readonly nodes = new Map<PeerId, HyParView>();
  readonly down = new Set<PeerId>();
  readonly refused = new Set<PeerId>();
  private readonly links = new Map<string, { from: PeerId; to: PeerId; frames: Uint8Array[] }>();
  now = 0;

  constructor(
    readonly random: () => number,
    private readonly config: Partial<HyParViewConfig> = {},
  ) {}

  add(id: PeerId): HyParView {
    const hv = new HyParView({ me: id, addrs: [`/mem/${id}`], allowed: (p) => !this.refused.has(p), random: this.random }, this.config);
    this.nodes.set(id, hv);
    this.down.delete(id);
    return hv;
  }

  /** The node stops; every peer holding a connection to it sees the connection close. */
  crash(id: PeerId): void {
    this.down.add(id);
    for (const [k, l] of this.links) if (l.to === id || l.from === id) this.links.delete(k);
    for (const [p, hv] of this.nodes) {
      if (p !== id && !this.down.has(p) && hv.activeView().includes(id)) {
        hv.disconnected(id, this.now);
        this.act(p);
      }
    }
  }

  /** Carries out a node's queued actions. */
  act(id: PeerId): void {
    const hv = this.nodes.get(id)!;
    for (const a of hv.drain()) {
      if (a.type !== 'send') continue;
      if (this.down.has(a.to) || !this.nodes.has(a.to)) {
        hv.disconnected(a.to, this.now); // the dial fails
        continue;
      }
      const k = `${id}>${a.to}`;
      let l = this.links.get(k);
      if (l === undefined) this.links.set(k, (l = { from: id, to: a.to, frames: [] }));
      l.frames.push(encodeOverlay(a.msg));
    }
  }

  /** Delivers one frame from a random link; false when nothing is in flight. */
  step(): boolean {
    const busy = [...this.links.values()].filter((l) => l.frames.length > 0);
    if (busy.length === 0) return false;
    const l = busy[Math.floor(this.random() * busy.length)]!;
    const frame = l.frames.shift()!;
    const hv = this.nodes.get(l.to)!;
    hv.message(l.from, decodeOverlay(frame), this.now);
    this.act(l.to);
    return true;
  }

  /** Delivers until nothing is in flight (bounded, so a livelock fails the test instead of hanging). */
  settle(maxSteps = 200_000): void {
    for (let i = 0; i < maxSteps; i++) if (!this.step()) return;
    throw new Error('the overlay did not quiesce');
  }

  tickAll(advanceMs: number): void {
    this.now += advanceMs;
    for (const [id, hv] of this.nodes) {
      if (this.down.has(id)) continue;
      hv.tick(this.now);
      this.act(id);
    }
  }

  live(): [PeerId, HyParView][] {
    return [...this.nodes].filter(([id]) => !this.down.has(id));
  }
}

export { DecodeError };
