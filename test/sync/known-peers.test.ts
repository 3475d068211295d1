// Peers remembered across a restart: the pure selection, the record codec and when to write
// (known-peers.ts), and how membership vouches for addresses and restores the remembered peers.
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DecodeError } from '../../src/errors.js';
import {
  decodeKnownPeers,
  encodeKnownPeers,
  knownPeersKey,
  MAX_RECORD_BYTES,
  SAVE_MIN_GAP_MS,
  SAVE_REFRESH_MS,
  saveDue,
  selectKnownPeers,
  type KnownPeer,
} from '../../src/sync/known-peers.js';
import { dialablePeerId } from '../../src/sync/limits.js';
import { Membership } from '../../src/sync/membership.js';

const addr = (id: string, port = 1) => `/ip4/127.0.0.1/tcp/${port}/p2p/${id}`;
const half = () => 0.5;
const HOUR = 3600_000;
let ids: string[] = [];
beforeAll(async () => {
  ids = await Promise.all(Array.from({ length: 8 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()));
});

/** Entries as a table might hold them, and worse: junk PeerIds, foreign, bare and malformed addresses, odd times. */
function arbEntries() {
  const id = fc.oneof(fc.integer({ min: 0, max: 7 }).map((i) => ids[i]!), fc.constantFrom('', 'self', 'Qm-not-a-peer'));
  const address = (peer: string) =>
    fc.oneof(
      fc.integer({ min: 1, max: 65535 }).map((p) => addr(peer, p)),
      fc.integer({ min: 0, max: 7 }).map((i) => addr(ids[i]!, 9)), // another peer's address
      fc.constantFrom('/ip4/127.0.0.1/tcp/5', 'garbage', `/ip4/1.2.3.4/udp/1/p2p/${peer}`, `/dns4/${'x'.repeat(400)}/tcp/1/p2p/${peer}`),
    );
  const time = fc.oneof(fc.integer({ min: 0, max: 100 * HOUR }), fc.constantFrom(-1, 1.5, Number.NaN, 2 ** 60));
  return fc.array(
    id.chain((peerId) => fc.record({ peerId: fc.constant(peerId), lastSeen: time, addrs: fc.array(address(peerId), { maxLength: 12 }) })),
    { maxLength: 20 },
  );
}

const arbOptions = () =>
  fc.record({
    now: fc.integer({ min: 0, max: 100 * HOUR }),
    goneAfterMs: fc.integer({ min: 0, max: 50 * HOUR }),
    forgotten: fc.subarray([0, 1, 2, 3, 4, 5, 6, 7]),
    maxPeers: fc.integer({ min: 0, max: 10 }),
    maxAddrsPerPeer: fc.integer({ min: 1, max: 8 }),
  });

describe('selecting the peers to remember', () => {
  it('keeps only valid, recent, unforgotten peers, the most recently seen first, within the limits', () => {
    fc.assert(
      fc.property(arbEntries(), arbOptions(), (entries, o) => {
        const forgotten = new Set(o.forgotten.map((i) => ids[i]!));
        const sel = selectKnownPeers(entries, { ...o, isForgotten: (id) => forgotten.has(id) });
        expect(sel.length).toBeLessThanOrEqual(o.maxPeers);
        expect(new Set(sel.map((p) => p.peerId)).size).toBe(sel.length);
        for (const [i, p] of sel.entries()) {
          expect(forgotten.has(p.peerId)).toBe(false);
          expect(p.lastSeen).toBeLessThanOrEqual(o.now);
          expect(o.now - p.lastSeen).toBeLessThanOrEqual(o.goneAfterMs);
          expect(p.addrs.length).toBeGreaterThan(0);
          expect(p.addrs.length).toBeLessThanOrEqual(o.maxAddrsPerPeer);
          for (const a of p.addrs) expect(dialablePeerId(a)).toBe(p.peerId);
          if (i > 0) expect(p.lastSeen).toBeLessThanOrEqual(sel[i - 1]!.lastSeen);
        }
        // Preferring recent peers: a peer left out while the limit is full was seen no later than any kept.
        if (sel.length === o.maxPeers && sel.length > 0) {
          const eligible = selectKnownPeers(entries, { ...o, maxPeers: 1000, isForgotten: (id) => forgotten.has(id) });
          const kept = new Set(sel.map((p) => p.peerId));
          for (const p of eligible) if (!kept.has(p.peerId)) expect(p.lastSeen).toBeLessThanOrEqual(sel.at(-1)!.lastSeen);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips through the record', () => {
    fc.assert(
      fc.property(arbEntries(), arbOptions(), (entries, o) => {
        const sel = selectKnownPeers(entries, { ...o, isForgotten: () => false });
        expect(decodeKnownPeers(encodeKnownPeers(sel))).toEqual({ peers: sel, skipped: 0 });
      }),
      { numRuns: 300 },
    );
  });

  it('writes each PeerId once, the addresses without it', () => {
    const rec = Buffer.from(encodeKnownPeers([{ peerId: ids[0]!, lastSeen: 5, addrs: [addr(ids[0]!, 7400)] }])).toString();
    expect(JSON.parse(rec)).toEqual({ v: 1, peers: [[ids[0], 5, ['/ip4/127.0.0.1/tcp/7400']]] });
  });
});

describe('reading the record', () => {
  it('never throws anything but DecodeError on garbage, and what it returns is valid and bounded', () => {
    const row = fc.oneof(
      fc.anything(),
      fc.tuple(fc.oneof(fc.constantFrom(...ids), fc.string()), fc.oneof(fc.integer(), fc.double(), fc.anything()), fc.array(fc.oneof(fc.string(), fc.constant('/ip4/10.0.0.1/tcp/1'), fc.anything()))),
    );
    const doc = fc.oneof(fc.anything(), fc.record({ v: fc.oneof(fc.constant(1), fc.anything()), peers: fc.array(row, { maxLength: 30 }) }));
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      doc.map((d) => Buffer.from(JSON.stringify(d) ?? 'undefined')),
      fc.string().map((s) => Buffer.from(s)),
    );
    fc.assert(
      fc.property(bytes, fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 3 }), (raw, maxPeers, maxAddrsPerPeer) => {
        let r: ReturnType<typeof decodeKnownPeers>;
        try {
          r = decodeKnownPeers(raw, { maxPeers, maxAddrsPerPeer });
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
          return;
        }
        expect(r.peers.length).toBeLessThanOrEqual(maxPeers);
        expect(new Set(r.peers.map((p) => p.peerId)).size).toBe(r.peers.length);
        for (const p of r.peers) {
          expect(Number.isSafeInteger(p.lastSeen) && p.lastSeen >= 0).toBe(true);
          expect(p.addrs.length).toBeGreaterThan(0);
          expect(p.addrs.length).toBeLessThanOrEqual(maxAddrsPerPeer);
          for (const a of p.addrs) expect(dialablePeerId(a)).toBe(p.peerId);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a record of another version or past the size bound, and skips bad entries and entries past the limit', () => {
    expect(() => decodeKnownPeers(Buffer.from('{"v":2,"peers":[]}'))).toThrow(/unknown version 2/);
    expect(() => decodeKnownPeers(Buffer.from('{"peers":[]}'))).toThrow(DecodeError);
    expect(() => decodeKnownPeers(Buffer.alloc(MAX_RECORD_BYTES + 1, 0x20))).toThrow(/more than/);
    const rows = [
      [ids[0], 1, ['/ip4/127.0.0.1/tcp/1']],
      [ids[1], 2, [`/ip4/127.0.0.1/tcp/1/p2p/${ids[2]}`]], // an address naming another peer: nothing left
      ['not-a-peer-id', 3, ['/ip4/127.0.0.1/tcp/1']],
      [ids[0], 4, ['/ip4/127.0.0.1/tcp/2']], // the same peer twice: the first is kept
      [ids[3], 5, ['/ip4/127.0.0.1/tcp/3']],
      [ids[4], 6, ['/ip4/127.0.0.1/tcp/4']], // past maxPeers
    ];
    const r = decodeKnownPeers(Buffer.from(JSON.stringify({ v: 1, peers: rows })), { maxPeers: 2 });
    expect(r.peers.map((p) => p.peerId)).toEqual([ids[0], ids[3]]);
    expect(r.skipped).toBe(4);
  });
});

describe('when to write', () => {
  it('writes the first time, then on a change at most once per gap, and refreshes the times now and then', () => {
    expect(saveDue(null, 'k', 0)).toBe(true);
    const last = { key: 'k', at: 1_000_000 };
    expect(saveDue(last, 'changed', last.at + SAVE_MIN_GAP_MS - 1)).toBe(false);
    expect(saveDue(last, 'changed', last.at + SAVE_MIN_GAP_MS)).toBe(true);
    expect(saveDue(last, 'k', last.at + SAVE_REFRESH_MS - 1)).toBe(false);
    expect(saveDue(last, 'k', last.at + SAVE_REFRESH_MS)).toBe(true);
    expect(saveDue(last, 'k', last.at - 1)).toBe(true); // the clock went back: the next write is not held off for long
  });

  it('a change is the peers or their addresses, not the times', () => {
    const p: KnownPeer = { peerId: 'a', lastSeen: 1, addrs: ['x'] };
    const q: KnownPeer = { peerId: 'b', lastSeen: 2, addrs: ['y'] };
    expect(knownPeersKey([p, q])).toBe(knownPeersKey([{ ...q, lastSeen: 9 }, p]));
    expect(knownPeersKey([p])).not.toBe(knownPeersKey([{ ...p, addrs: ['x', 'z'] }]));
  });
});

describe('membership: what is remembered and how it comes back', () => {
  it('remembers only connected peers, at the addresses it checked itself, never those only others told of', () => {
    const m = new Membership('self', { intervalMs: 100, random: half });
    m.learn('never', [addr('never', 5)], 0); // peer exchange only, never connected
    m.learn('told', [addr('told', 1)], 0); // peer exchange, then dialled there
    m.learn('b', [addr('b', 66)], 0); // an address another node passed on
    m.connected('b', 10);
    m.announced('b', ['/ip4/127.0.0.1/tcp/2'], 10); // its own word over its connection (identify)
    const [plan] = m.dueDials(0).filter((p) => p.peerId === 'told');
    m.dialSucceeded(plan!, 'told', 20); // a dial reached it there
    m.connected('told', 20);
    expect(m.rememberable(50)).toEqual([
      { peerId: 'told', lastSeen: 50, addrs: [addr('told', 1)] },
      { peerId: 'b', lastSeen: 50, addrs: [addr('b', 2)] },
    ]);
    m.disconnected('b', 60);
    expect(m.rememberable(70)[1]).toEqual({ peerId: 'b', lastSeen: 60, addrs: [addr('b', 2)] });
  });

  it('a checked address displaces one only others told of when the list is full', () => {
    const m = new Membership('self', { intervalMs: 100, maxAddrsPerPeer: 2 });
    m.learn('b', [addr('b', 1), addr('b', 2)], 0);
    m.announced('b', [addr('b', 3)], 0);
    expect(m.list()[0]!.addrs).toEqual([addr('b', 1), addr('b', 3)]);
    m.announced('b', [addr('b', 4), addr('b', 5)], 0); // two vouched already: the list holds
    expect(m.list()[0]!.addrs).toEqual([addr('b', 3), addr('b', 4)]);
  });

  it('restores remembered peers to be dialled at once, except itself, forgotten and gone ones', () => {
    const m = new Membership('self', { intervalMs: 100, goneAfterMs: HOUR, random: half });
    m.restoreForgotten([['f', 0]]);
    m.addSeed('/ip4/127.0.0.1/tcp/9');
    const now = 10 * HOUR;
    const n = m.restoreKnown(
      [
        { peerId: 'b', lastSeen: now - 1000, addrs: [addr('b', 2)] },
        { peerId: 'self', lastSeen: now, addrs: [addr('self', 3)] },
        { peerId: 'f', lastSeen: now, addrs: [addr('f', 4)] },
        { peerId: 'old', lastSeen: now - HOUR - 1, addrs: [addr('old', 5)] },
        { peerId: 'future', lastSeen: now + 100 * HOUR, addrs: [addr('future', 6)] },
      ],
      now,
    );
    expect(n).toBe(2);
    expect(m.list().map((p) => [p.peerId, p.lastSeen])).toEqual([['b', now - 1000], ['future', now]]);
    expect(m.dueDials(now).map((p) => p.addr)).toEqual(['/ip4/127.0.0.1/tcp/9', addr('b', 2), addr('future', 6)]);
    expect(m.rememberable(now).map((p) => p.peerId)).toEqual(['b', 'future']); // restored addresses stay vouched
  });

  it('a restored peer that never answers backs off like any other and is dropped goneAfterMs after it was last seen', () => {
    const m = new Membership('self', { intervalMs: 100, maxBackoffMs: 1000, goneAfterMs: 5000, random: half });
    m.restoreKnown([{ peerId: 'dead', lastSeen: 0, addrs: [addr('dead')] }], 1000);
    let now = 1000;
    const times: number[] = [];
    while (now <= 5000) {
      const plans = m.dueDials(now);
      for (const p of plans) {
        times.push(now);
        m.dialFailed(p, now);
      }
      now += 10;
    }
    expect(times.slice(0, 4).map((t, i, a) => (i === 0 ? 0 : t - a[i - 1]!))).toEqual([0, 200, 400, 800]);
    expect(m.expire(5000)).toEqual([]);
    expect(m.expire(5001)).toEqual(['dead']);
    expect(m.dueDials(10_000)).toEqual([]);
  });

  it('restored peers that never answer do not hold the dial slots from a peer learned since', () => {
    const m = new Membership('self', { intervalMs: 100, maxBackoffMs: 1000, maxDialsInFlight: 2, random: half });
    m.restoreKnown(['r1', 'r2', 'r3', 'r4'].map((id, i) => ({ peerId: id, lastSeen: 0, addrs: [addr(id, i + 1)] })), 1000);
    const first = m.dueDials(1000);
    expect(first.map((p) => p.peerId)).toEqual(['r1', 'r2']);
    m.learn('n', [addr('n', 9)], 1010); // told of while the restored ones hang (a blackholed address takes 30 s)
    expect(m.dueDials(1010)).toEqual([]);
    for (const p of first) m.dialFailed(p, 31_000);
    expect(m.dueDials(31_000).map((p) => p.peerId)).toEqual(['n', 'r3']);
  });
});
