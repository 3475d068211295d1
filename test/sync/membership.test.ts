import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { Membership, peerIdOf } from '../../src/sync/membership.js';

const addr = (id: string, port = 1) => `/ip4/127.0.0.1/tcp/${port}/p2p/${id}`;

describe('membership', () => {
  it('learns peers from seeds and peer exchange, never itself', () => {
    const m = new Membership('self', { intervalMs: 100 });
    m.addSeed(addr('a'));
    m.addSeed('/ip4/127.0.0.1/tcp/9');
    expect(m.learn('b', [addr('b', 2), '/ip4/10.0.0.1/tcp/3'])).toBe(true);
    expect(m.learn('b', [addr('b', 2)])).toBe(false);
    expect(m.learn('self', [addr('self')])).toBe(false);
    expect(m.list().map((p) => p.peerId)).toEqual(['a', 'b']);
    expect(m.list()[1]!.addrs).toEqual([addr('b', 2), '/ip4/10.0.0.1/tcp/3/p2p/b']);
    const dials = m.dueDials(0);
    expect(dials).toEqual([
      { peerId: 'a', addr: addr('a') },
      { peerId: 'b', addr: addr('b', 2) },
      { peerId: null, addr: '/ip4/127.0.0.1/tcp/9' },
    ]);
    expect(m.dueDials(50)).toEqual([]); // one attempt in flight per interval
    expect(peerIdOf(addr('xyz'))).toBe('xyz');
    expect(peerIdOf('/ip4/1.2.3.4/tcp/1')).toBeNull();
  });

  it('backs off failed dials exponentially, up to the cap, and rotates addresses', () => {
    const m = new Membership('self', { intervalMs: 100, maxBackoffMs: 1000 });
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

  it('marks peers alive, suspect and down', () => {
    const m = new Membership('self', { intervalMs: 100 });
    expect(m.state('a', 0)).toBe('down');
    m.connected('a', 1000);
    expect(m.state('a', 1000)).toBe('alive');
    m.heard('a', 1200, { replicaId: 'r', clock: Clock.empty() });
    expect(m.state('a', 60_000)).toBe('alive'); // silence on a live connection is fine (push mode)
    m.disconnected('a');
    expect(m.state('a', 2000)).toBe('suspect');
    expect(m.state('a', 2200)).toBe('suspect');
    expect(m.state('a', 2201)).toBe('down'); // not seen for 10 intervals
    expect(m.connectedPeers()).toEqual([]);
    expect(m.list()[0]!.replicaId).toBe('r');
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
