// The pure bounds of issue 9: streams per connection, peer-exchange addresses, known peers, dials.
import fc from 'fast-check';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import { CheckBudget, dialablePeerId, pexAddrs, StreamCounter } from '../../src/sync/limits.js';
import { Membership } from '../../src/sync/membership.js';

const newId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
const addr = (id: string, port = 1) => `/ip4/127.0.0.1/tcp/${port}/p2p/${id}`;

describe('stream counter', () => {
  it('admits up to the limit per connection and frees a slot on release', () => {
    const c = new StreamCounter(2);
    expect([c.admit('x'), c.admit('x'), c.admit('x')]).toEqual([true, true, false]);
    expect(c.admit('y')).toBe(true); // per connection
    c.release('x');
    expect(c.count('x')).toBe(1);
    expect(c.admit('x')).toBe(true);
    c.release('y');
    c.release('y'); // an extra release never goes negative
    expect(c.count('y')).toBe(0);
  });
});

describe('peer-exchange addresses', () => {
  it('keeps only canonical TCP multiaddrs ending in a valid PeerId, not our own', async () => {
    const [self, p, q] = [await newId(), await newId(), await newId()];
    expect(dialablePeerId(addr(p))).toBe(p);
    expect(dialablePeerId(`/dns4/example.org/tcp/7400/p2p/${p}`)).toBe(p);
    expect(dialablePeerId('/ip4/127.0.0.1/tcp/1/p2p/not-a-peer-id')).toBeNull();
    expect(dialablePeerId(`/ip4/127.0.0.1/udp/1/p2p/${p}`)).toBeNull(); // no tcp transport
    expect(dialablePeerId('/ip4/127.0.0.1/tcp/1')).toBeNull(); // no PeerId
    expect(dialablePeerId(`/ip4/127.0.0.1/tcp/1/p2p/${p}/p2p-circuit/p2p/${q}`)).toBeNull(); // relayed
    expect(dialablePeerId('nonsense')).toBeNull();
    expect(dialablePeerId(`/ip4/127.0.0.1/tcp/01/p2p/${p}`)).toBeNull(); // not canonical text
    const got = pexAddrs(['junk', addr(self), addr(p), addr(p), addr(q, 2)], self);
    expect(got).toEqual([
      { peerId: p, addr: addr(p) },
      { peerId: q, addr: addr(q, 2) },
    ]);
  });

  it('takes at most the bound from one digest', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, newId));
    expect(pexAddrs(ids.map((id, i) => addr(id, i + 1)), 'self', 4).map((x) => x.peerId)).toEqual(ids.slice(0, 4));
  });
});

describe('membership bounds', () => {
  it('keeps at most maxAddrsPerPeer addresses per peer', () => {
    const m = new Membership('self', { intervalMs: 100, maxAddrsPerPeer: 3 });
    m.learn('a', [1, 2, 3, 4, 5].map((port) => addr('a', port)));
    m.learn('a', [addr('a', 6)]);
    expect(m.list()[0]!.addrs).toEqual([1, 2, 3].map((port) => addr('a', port)));
  });

  it('holds at most maxPeers; the oldest never-connected peer gives way, a connected one never', () => {
    const m = new Membership('self', { intervalMs: 100, maxPeers: 3 });
    m.learn('a', [addr('a')], 1);
    m.connected('a', 1);
    m.learn('b', [addr('b')], 2);
    m.learn('c', [addr('c')], 3);
    expect(m.learn('d', [addr('d')], 4)).toBe(true);
    expect(m.list().map((p) => p.peerId)).toEqual(['a', 'c', 'd']); // b, the oldest never connected, went
    m.connected('c', 5);
    m.connected('d', 5);
    expect(m.learn('e', [addr('e')], 6)).toBe(false); // every known peer has connected: nothing gives way
    m.connected('f', 7); // but a peer that connects is always known
    expect(m.list().map((p) => p.peerId)).toEqual(['a', 'c', 'd', 'f']);
  });

  it('has at most maxDialsInFlight dials to learned peers at once', () => {
    const m = new Membership('self', { intervalMs: 100, maxDialsInFlight: 4 });
    for (let i = 0; i < 20; i++) m.learn(`p${i}`, [addr(`p${i}`, i + 1)]);
    const first = m.dueDials(0);
    expect(first).toHaveLength(4);
    expect(m.dueDials(1000)).toEqual([]); // all four still in flight
    m.dialFailed(first[0]!, 1000);
    expect(m.dueDials(1000)).toHaveLength(1);
  });
});

describe('signature-check budget', () => {
  it('allows a burst of CPU time, then a share of a core, per peer; a peer in debt is refused', () => {
    const b = new CheckBudget(100, 10);
    expect(b.allowed('p', 0)).toBe(true);
    b.charge('p', 150, 0); // one frame may overdraw
    expect(b.allowed('p', 0)).toBe(false);
    expect(b.allowed('q', 0)).toBe(true); // another peer has its own
    expect(b.allowed('p', 4_000)).toBe(false); // -50 + 40
    expect(b.allowed('p', 6_000)).toBe(true); // -50 + 60: back above zero at 10 ms a second
    b.charge('p', 5, 6_000);
    expect(b.allowed('p', 600_000)).toBe(true);
    b.charge('p', 100, 600_000); // never above the burst: 100 spent leaves nothing
    expect(b.allowed('p', 600_000)).toBe(false);
  });
});

describe('signature-check budget across PeerIds (property)', () => {
  const ops = fc.array(
    fc.record({ peer: fc.integer({ min: 0, max: 40 }), dt: fc.integer({ min: 0, max: 500 }), ms: fc.integer({ min: 0, max: 50 }), own: fc.boolean() }),
    { maxLength: 300 },
  );

  it('all peers together never spend more than the two totals (relayed heads, own heads), their refill and one overdraw each, however many PeerIds', () => {
    fc.assert(
      fc.property(ops, (list) => {
        const b = new CheckBudget(100, 10, 300, 50, 0);
        let now = 0;
        let relayed = 0; // charges admitted on the total budget
        let own = 0; // charges admitted as a peer's own head
        for (const op of list) {
          now += op.dt;
          if (!b.allowed(`p${op.peer}`, now, op.own)) continue;
          if (op.own) own += op.ms;
          else relayed += op.ms;
          b.charge(`p${op.peer}`, op.ms, now, op.own);
        }
        const bound = 300 + (now / 1000) * 50 + 50;
        expect(relayed).toBeLessThanOrEqual(bound);
        expect(own).toBeLessThanOrEqual(bound);
        expect(b.waitMs('p0', now) >= 0).toBe(true);
      }),
    );
  });

  it('PeerIds writing as themselves cannot spend the total that relayed heads need', () => {
    const b = new CheckBudget(100, 10, 300, 50, 0);
    for (let i = 0; i < 20; i++) if (b.allowed(`w${i}`, 0, true)) b.charge(`w${i}`, 100, 0, true);
    expect(b.allowed('relay', 0, true)).toBe(false); // the own total is spent
    expect(b.allowed('relay', 0, false)).toBe(true); // the other is whole
  });

  it('waitMs says when a peer in debt may go again', () => {
    const b = new CheckBudget(100, 10, 1000, 100, 0);
    b.charge('p', 150, 0);
    const wait = b.waitMs('p', 0);
    expect(b.allowed('p', wait - 200)).toBe(false);
    expect(b.allowed('p', wait)).toBe(true);
  });
});
