// Divergence at equal clocks, found and healed automatically with real daemons (issue 9): honest
// nodes that diverged by damage are equal again within seconds, with no operator action, moving
// only the differing keys (range reconciliation, issue 18); a hostile
// member that copies a node's clock beside a false digest, serves it junk, or serves a new node a
// bootstrap snapshot of one key under a clock covering the cluster's writes, destroys nothing and
// hides nothing; `verify` and `repair` against it say which peer lies and wipe nothing.
import { multiaddr } from '@multiformats/multiaddr';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import { decodeKeyState, dotKey, encodeKeyState, replicaToBytes } from '../../src/core/codec.js';
import type { DeltaEntry } from '../../src/core/delta.js';
import { localWrite } from '../../src/core/key-state.js';
import { fullAddrs } from '../../src/net/node.js';
import { decodeStoreState, encodeStoreState } from '../../src/store/meta.js';
import { xorState } from '../../src/store/state-hash.js';
import type { Status } from '../../src/control/api.js';
import { untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { digestOf, headsOf, tellLies, withHostile, type Story } from '../helpers/hostile.js';
import { testReplica } from '../helpers/replicas.js';
import { eventually, until } from '../helpers/process.js';

const { fleet, hostile } = withHostile();

const KEYS = 300;
const DETECTED = /divergence: same clock as the peer, different state digest/;
/** The hostile member's own replica id: what it writes, it writes as itself. */
// the hostile's own replica, with a real key: it may write as itself
const ME = testReplica();
const HOSTILE_REPLICA = ME.r;

/** `value i`, padded to `size` bytes when given. */
const longValue = (i: number, size = 0) => `value ${i}`.padEnd(size, '.');

async function importKeys(n: TestDaemon, count = KEYS, size = 0): Promise<void> {
  const file = join(fleet.tmpdir(), 'keys.ndjson');
  writeFileSync(file, Array.from({ length: count }, (_, i) => JSON.stringify({ key: `k/${i}`, value: longValue(i, size) })).join('\n'));
  expect((await n.cli('import', file)).code).toBe(0);
}

/** Opens a stopped node's LMDB tables, runs `fn` in one write transaction, closes them. */
async function editStore(dataDir: string, fn: (t: { states: Table; dots: Table; meta: Table }) => void): Promise<void> {
  const root = openLmdb({ path: join(dataDir, 'store'), maxDbs: 4 });
  const bin = { encoding: 'binary', keyEncoding: 'binary' } as const;
  const t = { states: root.openDB({ name: 'states', ...bin }) as Table, dots: root.openDB({ name: 'dots', ...bin }) as Table, meta: root.openDB({ name: 'meta', encoding: 'binary' }) as Table };
  await root.transaction(() => fn(t));
  await root.close();
}
type Table = { get(k: unknown): Buffer | undefined; put(k: unknown, v: Uint8Array): unknown; remove(k: unknown): unknown };

/**
 * A write lost with its dot still claimed (a bug, or a delta whose claim outran its keys): the
 * key's state and dot-index entries go, and the stored digest and count follow, so the store is
 * consistent with itself (a recount agrees) and only a peer can tell.
 */
async function loseKey(dataDir: string, key: string): Promise<void> {
  await editStore(dataDir, ({ states, dots, meta }) => {
    const k = Buffer.from(key);
    const state = Buffer.from(states.get(k)!);
    const s = decodeStoreState(meta.get('state')!);
    xorState(s.digest, k, state, Date.now()); // a value without an expiry: the same at every cutoff
    s.count--;
    for (const sib of decodeKeyState(state).sibs) dots.remove(Buffer.from(dotKey(replicaToBytes(sib.r), sib.c)));
    states.remove(k);
    meta.put('state', encodeStoreState(s));
  });
}

/** A flipped bit in a stored value: it still decodes, and the stored totals do not see it. */
async function flipValueBit(dataDir: string, key: string): Promise<void> {
  await editStore(dataDir, ({ states }) => {
    const bytes = Buffer.from(states.get(Buffer.from(key))!);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0x20, bytes.length - 1);
    states.put(Buffer.from(key), bytes);
  });
}

const divergence = (s: Status) => s.divergence ?? { detected: 0, healed: 0, lastAt: null, peers: [] };

/** A state for `key` that claims the dot of `n`'s own copy of it, with another value (same dot, junk bytes). */
async function sameDotJunk(n: TestDaemon, key: string): Promise<DeltaEntry> {
  const rec = JSON.parse((await n.cli('get', key, '--json')).stdout) as { siblings: { replica: string; counter: number; hlc: number }[] };
  const { replica, counter, hlc } = rec.siblings[0]!;
  const state = encodeKeyState({ ctx: [[replica, counter]], sibs: [{ r: replica, c: counter, hlc, value: Buffer.from('junk') }] });
  return { key: Buffer.from(key), state };
}

/** A hostile member connected to `n` that answers with `n`'s own clock and a false digest (and `recon`'s lies to a reconciliation). */
async function clockCopier(n: TestDaemon, snapshot: () => DeltaEntry[][], recon?: Story['recon']): Promise<{ id: string } & Awaited<ReturnType<typeof tellLies>>> {
  const h = await hostile();
  let clock = (await digestOf(h, n.addr)).clock;
  const heads = await headsOf(h, n.addr); // the honest writers' real heads: the lie is believable
  const story: Story = {
    digest: (theirs) => {
      if (theirs !== null) clock = theirs;
      return { replicaId: HOSTILE_REPLICA, digest: randomBytes(16), clock, forgotten: [] };
    },
    snapshot: () => ({ clock, keys: 1e15, chunks: snapshot(), heads }),
    ...(recon === undefined ? {} : { recon }),
  };
  const told = await tellLies(h, story);
  await h.dial(multiaddr(n.addr));
  return { id: h.peerId.toString(), ...told };
}

describe('divergence at equal clocks', () => {
  it('two honest nodes that each lost a write at equal clocks are equal again within seconds, with no operator action', async () => {
    let [a, b] = (await fleet.cluster(2)) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    await importKeys(a);
    const [before] = await untilConverged([a, b], KEYS);
    await Promise.all([a.stop(), b.stop()]);
    await loseKey(a.dataDir, 'k/6');
    await loseKey(b.dataDir, 'k/9');

    b = await fleet.start({ dataDir: b.dataDir });
    a = await fleet.start({ dataDir: a.dataDir, bootstrap: [b.addr] });
    const [sa] = await untilConverged([a, b], KEYS, 30_000);
    expect(sa!.digest).toBe(before!.digest);
    expect((await a.cli('get', 'k/6')).stdout).toBe('value 6');
    expect((await b.cli('get', 'k/9')).stdout).toBe('value 9');
    for (const n of [a, b]) {
      const s = await eventually(() => n.status(), (st) => divergence(st).healed >= 1, 'the divergence counted as healed', 30_000);
      expect(divergence(s).detected).toBeGreaterThanOrEqual(1);
      expect(divergence(s).peers).toEqual([]);
      expect(n.child.stderr()).toMatch(DETECTED);
    }
    expect((await a.cli('status')).stdout).toMatch(/divergence\s+detected \d+, healed \d+/);
  });

  it('damage the stored totals cannot see is found once the key is written again, and repaired from the peer', async () => {
    let [a, b] = (await fleet.cluster(2)) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    await importKeys(a);
    await untilConverged([a, b], KEYS);
    await Promise.all([a.stop(), b.stop()]);
    await flipValueBit(a.dataDir, 'k/5');

    b = await fleet.start({ dataDir: b.dataDir });
    a = await fleet.start({ dataDir: a.dataDir, bootstrap: [b.addr] });
    await untilConnected([a, b]);
    // b's write replaces the damaged state on a: a's digest now carries the damage, at b's clock
    expect((await b.cli('put', 'k/5', 'new')).code).toBe(0);
    await until(() => /the recount proves this node's store damaged; repairing from the peer/.test(a.child.stderr()), 'a to prove its own damage and repair', 40_000);
    const [sa] = await untilConverged([a, b], KEYS, 30_000);
    expect((await a.cli('verify')).code).toBe(0);
    const s = await eventually(() => a.status(), (st) => divergence(st).healed >= 1, 'the divergence counted as healed', 30_000);
    expect(s.digest).toBe(sa!.digest);
    expect((await a.cli('get', 'k/5')).stdout).toBe('new');
  });

  it('a member that copies the clock beside a false digest and serves junk gets a merge, not the power to overwrite', async () => {
    const a = await fleet.start();
    await importKeys(a);
    const before = await eventually(() => a.status(), (s) => s.keys === KEYS, 'the import');
    const junk = await sameDotJunk(a, 'k/1');
    const lie = await clockCopier(a, () => [[junk], [{ key: Buffer.from('k/2'), state: Uint8Array.of(0xff, 0x00) }]]);

    // a starts the exchange (the hostile only listens), sees its own clock and another digest
    await until(() => DETECTED.test(a.child.stderr()), 'the divergence logged', 30_000);
    await until(() => a.child.stderr().includes(`peer ${lie.id} disagrees after a merge; not overwriting`), 'the persisting divergence logged', 30_000);
    expect(lie.asked.snapshot).toBeGreaterThanOrEqual(1); // it did merge the peer's snapshot
    const s = await a.status();
    expect(s.keys).toBe(KEYS);
    // the forged version of a's own write is not taken: a keeps its write and writes it again (one
    // new dot of its own, the same value), so nodes that took the forgery follow (issue 17)
    expect(s.clock[s.replicaId]!.base).toBe(before.clock[s.replicaId]!.base + 1);
    expect(divergence(s).detected).toBeGreaterThanOrEqual(1);
    expect(divergence(s).healed).toBe(0);
    expect(divergence(s).peers).toContain(lie.id);
    for (const k of ['k/1', 'k/2', 'k/200']) expect((await a.cli('get', k)).stdout).toBe(`value ${k.slice(2)}`);
    expect((await a.cli('verify', '--json')).stdout).toMatch(/"local":\{"ok":true/);
  });

  it('a heal moves the differing keys only: its bytes are a small part of the keyspace\'s', async () => {
    let [a, b] = (await fleet.cluster(2)) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    await importKeys(a, 3000, 100); // about 400 kB of states
    await untilConverged([a, b], 3000);
    await Promise.all([a.stop(), b.stop()]);
    await loseKey(a.dataDir, 'k/6');
    await loseKey(b.dataDir, 'k/9');
    b = await fleet.start({ dataDir: b.dataDir });
    a = await fleet.start({ dataDir: a.dataDir, bootstrap: [b.addr] });
    await untilConverged([a, b], 3000, 30_000);
    for (const n of [a, b]) {
      const s = await eventually(() => n.status(), (st) => divergence(st).healed >= 1, 'the divergence counted as healed', 30_000);
      const { healBytes } = s.divergence as { healBytes: number };
      console.log(`heal on ${n.peerId}: ${healBytes} bytes received`);
      // a whole snapshot was over 400,000 bytes; the narrowed step, the reconciliation and the
      // digest rechecks take a few thousand
      expect(healBytes).toBeLessThan(20_000);
    }
    expect((await a.cli('get', 'k/6')).stdout).toBe(longValue(6, 100));
  });

  it.each(['split', 'huge', 'random'] as const)('a member answering a reconciliation with lies (%s) costs bounded bytes and overwrites nothing', async (mode) => {
    const a = await fleet.start();
    await importKeys(a);
    const before = await eventually(() => a.status(), (s) => s.keys === KEYS, 'the import');
    const junk = await sameDotJunk(a, 'k/1');
    const lie = await clockCopier(a, () => [[junk]], mode);
    await until(() => lie.asked.recon >= 1, 'a reconciliation with the hostile peer', 30_000);
    const ended = new RegExp(`peer ${lie.id} disagrees after a merge; not overwriting|divergence: heal from peer failed`);
    await until(() => ended.test(a.child.stderr()), 'the heal to end', 60_000);
    if (mode === 'huge') expect(a.child.stderr()).toMatch(/the server listed more than \d+ keys/);
    const s = await a.status();
    expect(s.keys).toBe(KEYS);
    for (const k of ['k/1', 'k/2', 'k/200']) expect((await a.cli('get', k)).stdout).toBe(`value ${k.slice(2)}`);
    expect((await a.cli('verify', '--json')).stdout).toMatch(/"local":\{"ok":true/);
    console.log(`lies (${mode}): ${lie.asked.recon} reconciliations, ${lie.bytes.received} bytes sent by the honest node, ${lie.bytes.sent} by the liar`);
    // what the honest node sent per reconciliation: at most every range's fingerprints once (about 280 kB)
    expect(lie.bytes.received / lie.asked.recon).toBeLessThan(400_000);
    expect(s.clock[s.replicaId]!.base).toBeLessThanOrEqual(before.clock[s.replicaId]!.base + 1); // at most its own write reasserted
  });

  it('verify names the lying peer without calling this node damaged; repair from it wipes nothing', async () => {
    const a = await fleet.start();
    await importKeys(a);
    const before = await eventually(() => a.status(), (s) => s.keys === KEYS, 'the import');
    const lie = await clockCopier(a, () => []); // an empty snapshot under a clock covering everything
    await eventually(() => a.status(), (s) => s.peers.some((p) => p.peerId === lie.id), 'the hostile peer connected');

    const v = await a.cli('verify');
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/^local\s+ok: /m);
    expect(v.stdout).toMatch(new RegExp(`^peer ${lie.id}\\s+DIFFERENT digest at the same clock .*that peer is damaged or lying`, 'm'));
    expect(v.stderr).toMatch(new RegExp(`this node's store is intact .*${lie.id} differs at the same clock`));

    const r = await a.cli('repair', '--peer', lie.id, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ peer: lie.id, received: 0, replaced: 0, removed: 0 });
    const s = await a.status();
    expect(s.keys).toBe(KEYS);
    expect(s.digest).toBe(before.digest);
    expect((await a.cli('get', 'k/7')).stdout).toBe('value 7');
  });

  it.each([
    ['its own write alone', false],
    ['its own write, whose context names every honest writer up to its head (the clock then looks evidenced)', true],
  ])('a bootstrap from a member serving one key under a clock that covers the cluster ends with all the data: %s', async (_, evidenced) => {
    const honest = await fleet.start();
    await importKeys(honest);
    await eventually(() => honest.status(), (s) => s.keys === KEYS, 'the import');
    const h = await hostile();
    // its clock: everything the honest node holds, and one write of its own (one key, as itself)
    const clock = (await digestOf(h, honest.addr)).clock.clone();
    clock.add(HOSTILE_REPLICA, 1);
    const heads = [...(await headsOf(h, honest.addr)), ME.head(1)];
    const mine = localWrite(undefined, { r: HOSTILE_REPLICA, c: 1 }, Date.now() * 1024, Buffer.from('the only key'));
    const wide = heads.map((x) => [x.r, x.c] as [string, number]).sort(([a], [b]) => (a < b ? -1 : 1));
    const own = evidenced ? { ...mine, ctx: wide } : mine;
    await tellLies(h, {
      // it relays the honest node's address, as members do: the new node can reach both
      digest: () => ({ replicaId: HOSTILE_REPLICA, digest: randomBytes(16), clock, forgotten: [] }),
      peers: () => [honest.addr],
      snapshot: () => ({ clock, keys: 1e15, chunks: [[{ key: Buffer.from('lonely'), state: encodeKeyState(own) }]], heads }),
    });
    const n = await fleet.start({ bootstrap: [fullAddrs(h)[0]!] });
    await until(() => n.child.stderr().includes('bootstrap complete'), 'the bootstrap from the hostile peer', 60_000);
    expect(n.child.stderr()).toMatch(new RegExp(`"peer":"${h.peerId.toString()}".*"msg":"bootstrap complete"`));
    const [sn, sh] = await eventually(
      () => Promise.all([n.status(), honest.status()]),
      ([x, y]) => x.state === 'ready' && x.keys >= KEYS && x.keys === y.keys && x.digest === y.digest,
      'the new node to hold everything the honest node holds',
      60_000,
    );
    expect(sn!.keys).toBe(sh!.keys);
    expect((await n.cli('get', 'k/123')).stdout).toBe('value 123');
    // with the honest writers' real heads the clock is believable, but nothing in the one state shows
    // those writes: the claim is cut (and the rest comes by sync), or, were it believed, the check
    // against the second peer finds the divergence
    const cut = sn!.refused.claimsCut >= 1 && /claimed writes it did not carry/.test(n.child.stderr());
    const caught = divergence(sn!).detected >= 1 && /bootstrap: the source's snapshot disagrees with a second peer at the same clock|divergence: same clock as the peer/.test(n.child.stderr());
    expect(cut || caught).toBe(true);
    if (evidenced) expect(caught).toBe(true); // nothing to cut: only the second peer shows the lie
  });
});
