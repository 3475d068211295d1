import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HyParView } from '../../src/overlay/hyparview.js';
import { OVERLAY_MSG } from '../../src/overlay/messages.js';
import { Cluster, prng } from './cluster.js';

const ACTIVE = 5;
const PASSIVE = 12;

function checkViews(c: Cluster): void {
  for (const [id, hv] of c.live()) {
    const a = hv.activeView();
    const p = hv.passiveView();
    expect(a.length).toBeLessThanOrEqual(ACTIVE);
    expect(p.length).toBeLessThanOrEqual(PASSIVE);
    expect(new Set(a).size).toBe(a.length);
    expect(new Set(p).size).toBe(p.length);
    for (const x of [...a, ...p]) {
      expect(x).not.toBe(id);
      expect(c.refused.has(x)).toBe(false);
    }
    for (const x of a) expect(p).not.toContain(x);
  }
}

function checkSymmetric(c: Cluster): void {
  for (const [id, hv] of c.live()) {
    for (const peer of hv.activeView()) {
      expect(c.down.has(peer), `${id} keeps crashed ${peer}`).toBe(false);
      expect(c.nodes.get(peer)!.activeView(), `${peer} lacks ${id}`).toContain(id);
    }
  }
}

// An operation on the cluster, drawn by fast-check.
const op = fc.oneof(
  fc.record({ kind: fc.constant('join' as const), seed: fc.nat() }),
  fc.record({ kind: fc.constant('crash' as const), who: fc.nat() }),
  fc.record({ kind: fc.constant('refuse' as const), who: fc.nat() }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 100, max: 30_000 }) }),
  fc.record({ kind: fc.constant('step' as const), n: fc.integer({ min: 1, max: 50 }) }),
);

describe('HyParView', () => {
  it('views stay within bounds, never hold self or refused peers, and active views are symmetric after quiescence', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 24 }), fc.nat(), fc.array(op, { maxLength: 40 }), (n, seed, ops) => {
        const c = new Cluster(prng(seed), { activeSize: ACTIVE, passiveSize: PASSIVE, shuffleIntervalMs: 5_000 });
        const ids = Array.from({ length: n }, (_, i) => `n${i}`);
        for (const id of ids) c.add(id);
        for (const id of ids.slice(1)) {
          c.nodes.get(id)!.join({ id: 'n0', addrs: ['/mem/n0'] }, c.now);
          c.act(id);
        }
        for (const o of ops) {
          if (o.kind === 'join') {
            const live = c.live();
            const [id, hv] = live[o.seed % live.length]!;
            const seed = ids[(o.seed >> 3) % n]!;
            hv.join({ id: seed, addrs: [] }, c.now);
            c.act(id);
          } else if (o.kind === 'crash') {
            if (c.live().length > 2) c.crash(ids[o.who % n]!);
          } else if (o.kind === 'refuse') {
            if (c.live().length <= 2) continue;
            const who = ids[o.who % n]!;
            c.refused.add(who);
            for (const [id, hv] of c.live()) {
              hv.forget(who, c.now);
              c.act(id);
            }
            c.crash(who); // a forgotten node is also shut out of every connection
          } else if (o.kind === 'tick') c.tickAll(o.ms);
          else for (let i = 0; i < o.n; i++) c.step();
          checkViews(c);
        }
        c.settle();
        checkViews(c);
        checkSymmetric(c);
      }),
      { numRuns: 150 },
    );
  });

  it('a lost active peer is replaced from the passive view, and 40 nodes stay connected', () => {
    const c = new Cluster(prng(3), { activeSize: ACTIVE, passiveSize: PASSIVE, shuffleIntervalMs: 10_000 });
    const ids = Array.from({ length: 40 }, (_, i) => `n${i}`);
    for (const id of ids) c.add(id);
    for (const id of ids.slice(1)) {
      c.nodes.get(id)!.join({ id: ids[Math.floor(Number(id.slice(1)) / 2)]!, addrs: [] }, c.now);
      c.act(id);
      c.settle();
    }
    for (let i = 0; i < 10; i++) {
      c.tickAll(10_000);
      c.settle();
    }
    const before = c.nodes.get('n7')!;
    const lost = before.activeView()[0]!;
    c.crash(lost);
    c.settle();
    for (let i = 0; i < 3; i++) {
      c.tickAll(2_000);
      c.settle();
    }
    expect(before.activeView()).not.toContain(lost);
    expect(before.activeView().length).toBeGreaterThanOrEqual(ACTIVE - 1);
    // Every live node is reachable from n0 over active links.
    const seen = new Set(['n0']);
    const todo = ['n0'];
    while (todo.length > 0) for (const p of c.nodes.get(todo.pop()!)!.activeView()) if (!seen.has(p)) seen.add(p), todo.push(p);
    expect(seen.size).toBe(c.live().length);
    checkSymmetric(c);
    for (const [, hv] of c.live()) expect(hv.passiveView().length).toBeGreaterThan(3);
  });

  it('never takes a refused peer, even when it joins us or a shuffle names it', () => {
    const hv = new HyParView({ me: 'a', addrs: [], allowed: (p) => p !== 'bad', random: prng(1) });
    hv.message('bad', { type: OVERLAY_MSG.join, addrs: [] }, 0);
    hv.message('b', { type: OVERLAY_MSG.join, addrs: [] }, 0);
    hv.message('b', { type: OVERLAY_MSG.shuffleReply, nodes: [{ id: 'bad', addrs: [] }, { id: 'a', addrs: [] }, { id: 'c', addrs: [] }] }, 0);
    hv.message('b', { type: OVERLAY_MSG.forwardJoin, peer: { id: 'bad', addrs: [] }, ttl: 0 }, 0);
    expect(hv.activeView()).toEqual(['b']);
    expect(hv.passiveView()).toEqual(['c']);
    const actions = hv.drain();
    expect(actions).toContainEqual({ type: 'close', peer: 'bad' });
    expect(actions.filter((a) => a.type === 'send' && a.to === 'bad')).toEqual([]);
  });

  it('an isolated node joins a remembered seed again on tick', () => {
    const hv = new HyParView({ me: 'a', addrs: [], allowed: () => true, random: prng(1) }, { rejoinIntervalMs: 1_000 });
    hv.join({ id: 's', addrs: ['/mem/s'] }, 0);
    expect(hv.drain()).toEqual([{ type: 'send', to: 's', msg: { type: OVERLAY_MSG.join, addrs: [] } }]);
    hv.disconnected('s', 10);
    expect(hv.isolated()).toBe(true);
    expect(hv.nextDeadline()).toBe(1_000);
    hv.tick(1_000);
    expect(hv.drain()).toContainEqual({ type: 'send', to: 's', msg: { type: OVERLAY_MSG.join, addrs: [] } });
    expect(hv.addrsOf('s')).toEqual(['/mem/s']);
  });
});
