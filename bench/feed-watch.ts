// When each node's change feed showed a key: one watch stream (GET /v1/watch, the feed `replikv
// watch` prints) per node, each change event stamped with performance.now() as it arrives in this
// process. So a visibility time is from a write's call to the moment the other node's feed told
// this process, with the feed's Unix-socket hop (well under a millisecond) and this process's own
// event loop included; no polling of GETs, which would load the daemons being measured.
import { setMaxListeners } from 'node:events';
import type { TestDaemon } from '../test/helpers/daemons.js';
import { until } from '../test/helpers/process.js';

export class FeedWatch {
  /** key -> node index -> when its feed showed the key. */
  private readonly seen = new Map<string, Map<number, number>>();
  private readonly hellos = new Set<number>();
  private readonly abort = new AbortController();

  constructor(nodes: readonly TestDaemon[], prefix: string) {
    setMaxListeners(nodes.length + 10, this.abort.signal); // one listener per feed is no leak
    nodes.forEach((node, i) => void this.follow(node, i, prefix));
  }

  /** Why a feed ended or never started, per node index. */
  readonly errors = new Map<number, string>();

  /**
   * Waits until every feed has started (said hello), so no change is missed before it, or `ms`
   * passed; returns the indexes of the feeds that started (the others cannot be timed).
   */
  async started(count: number, ms: number): Promise<number[]> {
    await until(() => this.hellos.size === count, `${count} watch feeds to start`, ms).catch(() => undefined);
    return [...this.hellos].sort((a, b) => a - b);
  }

  /**
   * Waits until the feeds of `nodes` (indexes) all showed `key`, or `ms` passed; returns when each
   * one did (absent: never).
   */
  async arrivals(key: string, nodes: readonly number[], ms: number): Promise<Map<number, number>> {
    const all = () => nodes.every((i) => this.seen.get(key)?.has(i) === true);
    await until(all, key, ms).catch(() => undefined); // a feed that never showed it is reported as missed
    return new Map([...(this.seen.get(key) ?? new Map<number, number>())].filter(([i]) => nodes.includes(i)));
  }

  close(): void {
    this.abort.abort();
  }

  private async follow(node: TestDaemon, i: number, prefix: string): Promise<void> {
    try {
      for await (const ev of node.client.watch({ prefix, signal: this.abort.signal })) {
        const now = performance.now();
        if (ev.type === 'hello') this.hellos.add(i);
        else if (ev.type === 'change') {
          const at = this.seen.get(ev.key) ?? new Map<number, number>();
          if (!at.has(i)) at.set(i, now);
          this.seen.set(ev.key, at);
        }
      }
    } catch (err) {
      // the node was killed (or the run is ending): its feed ends here, and what it did not show is missed
      this.errors.set(i, (err as Error).message);
    }
  }
}
