import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { Membership, peerIdOf, transportOf, type DialPlan } from '../../src/sync/membership.js';

const addr = (id: string, port = 1) => `/ip4/127.0.0.1/tcp/${port}/p2p/${id}`;
const half = () => 0.5; // jitter factor 1.0: exact backoff

describe('membership', () => {
  it('learns peers from seeds and peer exchange, never itself', () => {
    const m = new Membership('self', { intervalMs: 100, random: half });
    m.addSeed(addr('a'));
    m.addSeed('/ip4/127.0.0.1/tcp/9');
    expect(m.learn('b', [addr('b', 2), '/ip4/10.0.0.1/tcp/3'])).toBe(true);
    expect(m.learn('b', [addr('b', 2)])).toBe(false);
    expect(m.learn('self', [addr('self')])).toBe(false);
    expect(m.list().map((p) => p.peerId)).toEqual(['a', 'b']);
    expect(m.list()[1]!.addrs).toEqual([addr('b', 2), '/ip4/10.0.0.1/tcp/3/p2p/b']);
    expect(m.dueDials(0)).toEqual([
      { peerId: 'a', addr: addr('a'), seed: true },
      { peerId: null, addr: '/ip4/127.0.0.1/tcp/9', seed: true },
      { peerId: 'b', addr: addr('b', 2), seed: false },
    ]);
    expect(m.dueDials(50)).toEqual([]); // one attempt in flight per address
    expect(m.dueDials(10_000)).toEqual([]); // still in flight: a slow dial is not doubled
    expect(peerIdOf(addr('xyz'))).toBe('xyz');
    expect(peerIdOf('/ip4/1.2.3.4/tcp/1')).toBeNull();
    expect(transportOf(addr('xyz', 5))).toBe('/ip4/127.0.0.1/tcp/5');
  });

  it('backs off failed dials exponentially with jitter, up to the cap, and rotates addresses', () => {
    const m = new Membership('self', { intervalMs: 100, maxBackoffMs: 1000, random: half });
    m.learn('a', [addr('a', 1), addr('a', 2)]);
    let now = 0;
    const times: number[] = [];
    const ports: string[] = [];
    for (let i = 0; i < 6; i++) {
      let plan = m.dueDials(now);
      while (plan.length === 0) plan = m.dueDials(++now);
      times.push(now);
      ports.push(plan[0]!.addr.split('/')[4]!);
      m.dialFailed(plan[0]!, now);
    }
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps).toEqual([200, 400, 800, 1000, 1000]);
    expect(ports).toEqual(['1', '2', '1', '2', '1', '2']);
  });

  it('spreads the redials of many nodes instead of redialling in lockstep', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 0.999, noNaN: true }), { minLength: 1, maxLength: 20 }), (rs) => {
        let i = 0;
        const m = new Membership('self', { intervalMs: 100, maxBackoffMs: 10_000, random: () => rs[i++ % rs.length]! });
        m.learn('a', [addr('a')]);
        const [plan] = m.dueDials(0);
        m.dialFailed(plan!, 0);
        // backoff 200 ms times a jitter factor in [0.5, 1.5)
        const next = [100, 150, 200, 250, 299, 300].find((t) => m.dueDials(t).length > 0) ?? 301;
        expect(next).toBeGreaterThanOrEqual(100);
        expect(next).toBeLessThanOrEqual(301);
      }),
    );
    const starts = new Set<number>();
    for (let n = 0; n < 20; n++) {
      let seed = (n + 1) * 104_729;
      const m = new Membership('self', { intervalMs: 1000, random: () => ((seed = (seed * 16807) % 2147483647) / 2147483647) });
      m.connected('a', 0);
      m.learn('a', [addr('a')]);
      m.disconnected('a', 5000);
      let t = 5000;
      while (m.dueDials(t).length === 0) t += 10;
      starts.add(t);
    }
    expect(starts.size).toBeGreaterThan(5); // twenty nodes losing one peer redial at different times
  });

  it('keeps a seed for the life of the daemon and redials it by address when a new PeerId answers there', () => {
    const m = new Membership('self', { intervalMs: 100, random: half });
    const seed = '/ip4/10.0.0.1/tcp/7400';
    m.addSeed(seed);
    const [first] = m.dueDials(0) as [DialPlan];
    expect(first).toEqual({ peerId: null, addr: seed, seed: true });
    expect(m.dialSucceeded(first, 'old', 1)).toBeNull();
    m.connected('old', 1);
    expect(m.dueDials(1000)).toEqual([]); // connected: nothing to dial
    m.disconnected('old', 2000); // the machine's disk is replaced: 'old' never comes back
    const plans = m.dueDials(3000);
    expect(plans).toEqual([{ peerId: null, addr: seed, seed: true }]); // by address, not pinned to 'old'
    m.dialFailed(plans[0]!, 3000); // still rebooting
    let t = 3000;
    let again: DialPlan[] = [];
    while (again.length === 0) again = m.dueDials(++t);
    expect(again).toEqual([{ peerId: null, addr: seed, seed: true }]);
    expect(m.dialSucceeded(again[0]!, 'new', t)).toBe('old');
    m.connected('new', t);
    expect(m.state('new', t)).toBe('alive');
    // the old PeerId's own address is the seed's: it is not dialled separately
    expect(m.dueDials(t + 100_000).filter((p) => !p.seed)).toEqual([]);
  });

  it('backs off a peer that drops every connection right after it comes up', () => {
    const m = new Membership('self', { intervalMs: 100, maxBackoffMs: 10_000, random: half });
    m.addSeed('/ip4/10.0.0.1/tcp/1');
    let now = 0;
    const dialsAt: number[] = [];
    while (dialsAt.length < 5) {
      const plans = m.dueDials(now);
      if (plans.length > 0) {
        dialsAt.push(now);
        m.dialSucceeded(plans[0]!, 'refuser', now);
        m.connected('refuser', now);
        m.disconnected('refuser', now + 5); // it hangs up at once
      }
      now += 5;
    }
    const gaps = dialsAt.slice(1).map((t, i) => t - dialsAt[i]!);
    expect(gaps[3]!).toBeGreaterThan(gaps[0]! * 4); // growing, not one dial per interval
    // a connection that lasts starts the backoff over
    m.connected('refuser', now);
    m.disconnected('refuser', now + 10_000);
    let t = now + 10_000;
    while (m.dueDials(t).length === 0) t += 5;
    expect(t - (now + 10_000)).toBeLessThanOrEqual(100);
  });

  it('marks peers alive, suspect and down, and drops them after goneAfterMs', () => {
    const m = new Membership('self', { intervalMs: 100, goneAfterMs: 60_000 });
    expect(m.state('a', 0)).toBe('down');
    m.connected('a', 1000);
    expect(m.state('a', 1000)).toBe('alive');
    m.heard('a', 1200, { replicaId: 'r', clock: Clock.empty() });
    expect(m.state('a', 60_000)).toBe('alive'); // silence on a live connection is fine (push mode)
    m.disconnected('a', 2000);
    expect(m.state('a', 2000)).toBe('suspect');
    expect(m.state('a', 3000)).toBe('suspect');
    expect(m.state('a', 3001)).toBe('down'); // not seen for 10 intervals
    expect(m.connectedPeers()).toEqual([]);
    expect(m.list()[0]!.replicaId).toBe('r');
    expect(m.expire(62_000)).toEqual([]);
    expect(m.expire(62_001)).toEqual(['a']);
    expect(m.list()).toEqual([]);
    expect(m.dueDials(62_001)).toEqual([]);
    // peer exchange from a node that still lists it does not bring it back...
    expect(m.learn('a', [addr('a')], 63_000)).toBe(false);
    expect(m.list()).toEqual([]);
    // ...a connection from it does
    m.connected('a', 64_000);
    expect(m.state('a', 64_000)).toBe('alive');
  });

  it('drops a peer that was learned but never reached after goneAfterMs', () => {
    const m = new Membership('self', { intervalMs: 100, goneAfterMs: 1000 }, 0);
    m.learn('ghost', [addr('ghost')], 0);
    expect(m.expire(1000)).toEqual([]);
    expect(m.expire(1001)).toEqual(['ghost']);
  });

  it('passes on only peers that are not down in peer exchange', () => {
    const m = new Membership('self', { intervalMs: 100 });
    m.connected('a', 0);
    m.learn('a', [addr('a')]);
    m.learn('b', [addr('b')], 0); // never seen: down
    m.connected('c', 0);
    m.learn('c', [addr('c')]);
    m.disconnected('c', 500); // suspect
    expect(m.exchangeAddrs(600)).toEqual([addr('a'), addr('c')]);
    expect(m.exchangeAddrs(10_000)).toEqual([addr('a')]);
  });

  it('forgets a peer at once and for good: not dialled, not learned, refused on connect', () => {
    const m = new Membership('self', { intervalMs: 100 });
    m.connected('a', 0);
    m.learn('a', [addr('a')]);
    m.learn('b', [addr('b')]);
    expect(m.forget('a', 10)).toBe(true);
    expect(m.forget('a', 11)).toBe(false);
    expect(m.forget('self', 11)).toBe(false);
    expect(m.isForgotten('a')).toBe(true);
    expect(m.list().map((p) => p.peerId)).toEqual(['b']);
    expect(m.learn('a', [addr('a')])).toBe(false);
    expect(m.connected('a', 20)).toBe(false);
    expect(m.dueDials(20).map((p) => p.peerId)).toEqual(['b']);
    expect(m.forgottenPeers()).toEqual([['a', 10]]);
    const restarted = new Membership('self', { intervalMs: 100 });
    restarted.restoreForgotten(m.forgottenPeers());
    expect(restarted.learn('a', [addr('a')])).toBe(false);
    // remembered for 30 days
    expect(restarted.expire(10 + 30 * 24 * 3600_000)).toEqual([]);
    expect(restarted.isForgotten('a')).toBe(true);
    restarted.expire(11 + 30 * 24 * 3600_000);
    expect(restarted.isForgotten('a')).toBe(false);
  });

  it('tells since when no peer is connected', () => {
    const m = new Membership('self', { intervalMs: 100 }, 5);
    expect(m.aloneSince()).toBe(5);
    m.connected('a', 10);
    m.connected('b', 11);
    expect(m.aloneSince()).toBeNull();
    m.disconnected('a', 20);
    expect(m.aloneSince()).toBeNull();
    m.disconnected('b', 30);
    expect(m.aloneSince()).toBe(30);
  });

  it('picks distinct random gossip targets among connected peers only', () => {
    const m = new Membership('self', { intervalMs: 100 });
    for (const id of ['a', 'b', 'c', 'd']) m.connected(id, 0);
    m.learn('e', [addr('e')]);
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const t = m.gossipTargets(2, random);
      expect(t).toHaveLength(2);
      expect(new Set(t).size).toBe(2);
      t.forEach((x) => seen.add(x));
    }
    expect([...seen].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(m.gossipTargets(10, random)).toHaveLength(4);
  });
});
