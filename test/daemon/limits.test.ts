// Resource limits that hold against a real hostile libp2p peer (issue 9): streams per connection,
// streams that say nothing, a snapshot requester that never reads, and peer-exchange addresses.
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { MAX_ADDRS_PER_PEER, MAX_DIALS_IN_FLIGHT, MAX_INBOUND_STREAMS_PER_CONNECTION, MAX_PEX_ADDRS_PER_DIGEST } from '../../src/sync/limits.js';
import { encodeDigest, encodePeers, encodeSnapRequest, SYNC_PROTOCOL } from '../../src/sync/messages.js';
import { Fleet, untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { frame, withHostile } from '../helpers/hostile.js';
import { eventually, until } from '../helpers/process.js';

const { fleet, hostile } = withHostile();

const R = 'cd'.repeat(16);
const digest = (): Uint8Array => frame(encodeDigest({ replicaId: R, digest: new Uint8Array(16), clock: Clock.empty(), forgotten: [] }));
const peersFrame = (addrs: string[]): Uint8Array => frame(encodePeers(addrs));
/** A length prefix announcing a 10-byte frame whose body never comes: negotiates the protocol, says nothing. */
const SILENT = Uint8Array.of(10);


/** Marks `closed.value` once the daemon ends or resets the stream. */
function track(stream: Stream): { closed: boolean } {
  const state = { closed: false };
  const done = (): void => void (state.closed = true);
  stream.addEventListener('close', done, { once: true });
  stream.addEventListener('remoteCloseWrite', done, { once: true });
  return state;
}

/** A daemon with a short idle bound (config field transferIdleMs), so a test sees it act. */
async function startWithIdle(ms: number, opts: Parameters<Fleet['start']>[0] = {}): Promise<TestDaemon> {
  const conf = join(fleet.tmpdir(), 'replikv.json');
  writeFileSync(conf, JSON.stringify({ transferIdleMs: ms }));
  return fleet.start({ ...opts, extra: ['--config', conf, ...(opts.extra ?? [])] });
}

describe('resource limits against a hostile peer', () => {
  it('holds at most the per-connection stream limit open and keeps serving honest peers', { timeout: 180_000 }, async () => {
    const [a, b] = (await fleet.cluster(2)) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    const h = await hostile();
    const conn = await h.dial(multiaddr(a.addr));
    const opened = 400;
    const states: { closed: boolean }[] = [];
    for (let i = 0; i < opened; i++) {
      const s = await conn.newStream(SYNC_PROTOCOL, { maxOutboundStreams: 10_000 });
      const state = track(s);
      states.push(state);
      try {
        s.send(SILENT);
      } catch {
        state.closed = true; // reset by the daemon already
      }
    }
    const closed = (): number => states.filter((s) => s.closed).length;
    // Every stream past the limit is reset; the ones within it stay open (the idle bound is 30 s).
    await until(() => closed() >= opened - MAX_INBOUND_STREAMS_PER_CONNECTION, `at least ${opened - MAX_INBOUND_STREAMS_PER_CONNECTION} streams reset`, 60_000).catch((err: Error) => {
      throw new Error(`${err.message} (${closed()} of ${opened} were)`);
    });
    await until(() => a.child.stderr().includes('too many inbound sync streams on one connection'), 'the reason logged');
    // Meanwhile honest peers replicate.
    expect((await a.cli('put', 'during', 'the flood')).code).toBe(0);
    await untilConverged([a, b], 1, 60_000);
    expect(closed()).toBeLessThan(opened); // the first streams were admitted, not everything refused
  });

  it('closes an inbound stream that sends no first message, or a DIGEST and then silence', { timeout: 120_000 }, async () => {
    const a = await startWithIdle(2_000);
    const h = await hostile();
    const silent = await h.dialProtocol(multiaddr(a.addr), SYNC_PROTOCOL);
    const s1 = track(silent);
    silent.send(SILENT);
    const afterDigest = await h.dialProtocol(multiaddr(a.addr), SYNC_PROTOCOL);
    const s2 = track(afterDigest);
    afterDigest.send(digest());
    await until(() => s1.closed && s2.closed, 'both idle streams closed by the daemon', 60_000);
    await until(() => /no first message within 2000 ms/.test(a.child.stderr()), 'the silent stream logged');
    await until(() => /no bytes moved either way for 2000 ms/.test(a.child.stderr()), 'the stalled exchange logged');
  });

  it('aborts a snapshot to a peer that never reads, and releases its read transaction', { timeout: 240_000 }, async () => {
    const a = await startWithIdle(3_000);
    const file = join(fleet.tmpdir(), 'keys.ndjson');
    const value = Buffer.alloc(1000, 'v').toString('base64');
    writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ key: `k/${String(i).padStart(6, '0')}`, valueBase64: value })).join('\n') + '\n');
    expect((await a.cli('import', file)).code).toBe(0);
    await eventually(() => a.status(), (s) => s.keys === 20_000, '20,000 keys imported');
    const h = await hostile();
    const stream = await h.dialProtocol(multiaddr(a.addr), SYNC_PROTOCOL);
    stream.pause(); // never read: yamux withholds window updates, the daemon's writes back up
    const state = track(stream);
    stream.send(frame(encodeSnapRequest(new Uint8Array(0))));
    await until(() => a.child.stderr().includes('snapshot to peer aborted; its read transaction is released'), 'the snapshot aborted', 60_000);
    // the reason is logged as the error leaves the stream handler, just after the line above
    await until(() => /no bytes moved either way for 3000 ms|stream closed while waiting to send/.test(a.child.stderr()), 'the reason logged', 30_000);
    await until(() => state.closed, 'the stream closed', 30_000);
    // the daemon still serves
    expect((await a.cli('put', 'after', 'snapshot')).code).toBe(0);
  });

  it('learns and dials only a bounded number of peer-exchange addresses from one PEERS message', { timeout: 180_000 }, async () => {
    const a = await fleet.start();
    const h = await hostile();
    // 1,024 invented peers at closed local ports (dials fail fast), plus junk the daemon must drop.
    const invented: string[] = [];
    for (let i = 0; i < 1024; i++) {
      const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
      invented.push(`/ip4/127.0.0.1/tcp/${1 + i}/p2p/${id}`);
    }
    const junk = ['/ip4/127.0.0.1/tcp/9/p2p/not-a-peer-id', 'nonsense', `/ip4/127.0.0.1/udp/9/p2p/${h.peerId.toString()}`, `/ip4/127.0.0.1/tcp/9/p2p/${a.peerId}`];
    // One PEERS with as many addresses as it may carry, and one with junk only.
    (await h.dialProtocol(multiaddr(a.addr), SYNC_PROTOCOL)).send(peersFrame(junk));
    (await h.dialProtocol(multiaddr(a.addr), SYNC_PROTOCOL)).send(peersFrame(invented));
    await eventually(() => a.status(), (s) => s.peers.length > 1, 'peers learned from the PEERS message', 30_000);
    // Give the daemon several gossip intervals to dial what it learned, then count.
    const seen = await eventually(
      () => a.status(),
      (s) => s.peers.length >= MAX_PEX_ADDRS_PER_DIGEST,
      'the learned peers listed',
      30_000,
    );
    const out = await a.cli('peers', '--json');
    expect(out.code).toBe(0);
    const listed = JSON.parse(out.stdout) as { peerId: string; addrs: string[] }[];
    expect(seen.peers.length).toBeLessThanOrEqual(MAX_PEX_ADDRS_PER_DIGEST + 1); // + the hostile peer itself
    expect(listed.length).toBeLessThanOrEqual(MAX_PEX_ADDRS_PER_DIGEST + 1);
    expect(listed.map((p) => p.peerId)).not.toContain(a.peerId);
    for (const p of listed) expect(p.addrs.length).toBeLessThanOrEqual(MAX_ADDRS_PER_PEER);
    // Dials: at most one per learned peer, never one to an address it was not given in the bound.
    await until(() => (a.child.stderr().match(/dial failed/g) ?? []).length >= MAX_DIALS_IN_FLIGHT, 'some dials tried', 60_000);
    const dialled = new Set([...a.child.stderr().matchAll(/"addr":"([^"]+)"[^\n]*dial failed/g)].map((m) => m[1]));
    expect(dialled.size).toBeGreaterThan(0);
    expect(dialled.size).toBeLessThanOrEqual(MAX_PEX_ADDRS_PER_DIGEST);
    const allowed = new Set(invented.slice(0, MAX_PEX_ADDRS_PER_DIGEST));
    for (const addr of dialled) expect(allowed.has(addr!)).toBe(true);
  });
});
