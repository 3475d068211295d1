// Day-two membership with real daemons: clusters started all at once or in any order, a seed whose
// disk is replaced, ghost peers, `replikv forget`, a node left alone, and dials to a dead address.
import { rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from '../../src/control/api.js';
import { Fleet, untilConnected, untilConverged, type DaemonOptions, type TestDaemon } from '../helpers/daemons.js';
import { eventually, until } from '../helpers/process.js';
import { freePorts, putOn, tcp, untilValue } from '../helpers/ports.js';
import { operatorKey } from '../helpers/operator-key.js';

const fleet = new Fleet();
const servers: Server[] = [];
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(30));
  for (const s of servers.splice(0)) s.close();
  await fleet.cleanup();
});

function allReady(nodes: TestDaemon[], ms = 60_000): Promise<Status[]> {
  return eventually(
    () => Promise.all(nodes.map((n) => n.status())),
    (all) => all.every((s) => s.state === 'ready'),
    `all ${nodes.length} nodes to be ready`,
    ms,
  );
}

/** A config file with the given fields (flags given to the daemon still override it). */
function configFile(fields: object): string {
  const file = join(fleet.tmpdir(), 'config.json');
  writeFileSync(file, JSON.stringify(fields));
  return file;
}

describe('membership', () => {
  it('a new cluster whose configs all list each other (itself included), started at once, becomes ready', async () => {
    const ports = await freePorts(3);
    const seeds = ports.map(tcp); // one list for every node, as one config file copied to each machine would have
    const nodes = await Promise.all(ports.map((p) => fleet.start({ listen: tcp(p), bootstrap: seeds })));
    await allReady(nodes);
    await untilConnected(nodes);
    for (const n of nodes) expect(n.child.stderr()).toMatch(/no peer has any data yet/);
    await putOn(nodes[0]!, 'hello', 'world');
    await untilValue(nodes, 'hello', 'world');
    for (const n of nodes) expect(n.child.stderr()).not.toMatch(/MaxListenersExceededWarning/);
  }, 120_000);

  it('five empty nodes started one by one in a shuffled order all become ready and converge', async () => {
    const ports = await freePorts(5);
    const order = [3, 0, 4, 1, 2];
    const nodes: TestDaemon[] = [];
    for (const i of order) {
      // each lists the others, not itself
      nodes.push(await fleet.start({ listen: tcp(ports[i]!), bootstrap: ports.filter((_, j) => j !== i).map(tcp) }));
    }
    await allReady(nodes, 90_000);
    await untilConnected(nodes, 60_000);
    for (const [i, n] of nodes.entries()) await putOn(n, `k${i}`, `from-${i}`);
    await untilConverged(nodes, 5);
  }, 180_000);

  it('a new node waits for the peer that has data, not for an empty one, and streams from it', async () => {
    const ports = await freePorts(3);
    const withData = await fleet.start({ listen: tcp(ports[0]!) });
    const file = join(fleet.tmpdir(), 'keys.ndjson');
    writeFileSync(file, Array.from({ length: 20 }, (_, i) => JSON.stringify({ key: `k${i}`, value: 'v' })).join('\n'));
    expect((await withData.cli('import', file)).code).toBe(0);
    // an empty node that knows nobody: it is ready and has nothing to give
    const empty = await fleet.start({ listen: tcp(ports[1]!) });
    const fresh = await fleet.start({ listen: tcp(ports[2]!), bootstrap: [tcp(ports[1]!), tcp(ports[0]!)] });
    await allReady([fresh]);
    const s = await fresh.status();
    expect(s.keys).toBe(20);
    expect(fresh.child.stderr()).toMatch(/bootstrap complete/);
    expect(fresh.child.stderr()).not.toMatch(/no peer has any data yet/);
    expect((await empty.status()).state).toBe('ready');
  }, 120_000);

  it('rounds answered BUSY by a bootstrapping peer leave no stream open behind them', async () => {
    const a = await fleet.start({ gossipIntervalMs: 100 });
    const b = await fleet.start({ gossipIntervalMs: 100, bootstrap: [a.addr] });
    await allReady([b]); // a's rounds met BUSY every 100 ms while b waited out its grace
    await untilConnected([a, b]);
    expect((await a.stop()).code).toBe(0);
    // libp2p closes every open stream at stop with one shared signal: leaked streams showed as this
    expect(a.child.stderr()).not.toMatch(/MaxListenersExceededWarning/);
    expect(a.child.stderr()).toMatch(/"stopped"/);
  }, 60_000);

  it('a seed node whose data directory is wiped is found again by address, and its writes replicate', async () => {
    const [port] = await freePorts(1);
    const seedAddr = tcp(port!); // bare: no /p2p/ PeerId, as in config/example-three-machines
    const node1Opts: DaemonOptions = { listen: seedAddr };
    const node1 = await fleet.start(node1Opts);
    const node2 = await fleet.start({ bootstrap: [seedAddr] });
    const node3 = await fleet.start({ bootstrap: [seedAddr] });
    await untilConnected([node1, node2, node3]);
    await putOn(node2, 'before', 'wipe');
    await untilValue([node1, node2, node3], 'before', 'wipe');
    const oldPeerId = node1.peerId;

    await node1.stop('SIGKILL');
    rmSync(node1.dataDir, { recursive: true, force: true }); // the identity key goes with it
    const reborn = await fleet.start({ ...node1Opts, dataDir: node1.dataDir });
    expect(reborn.peerId).not.toBe(oldPeerId);

    // node2 and node3 redial the seed's address and find the new PeerId there
    await eventually(
      () => Promise.all([node2.status(), node3.status()]),
      (all) => all.every((s) => s.peers.some((p) => p.peerId === reborn.peerId && p.state === 'alive')),
      'node2 and node3 to reconnect to the reborn seed',
      30_000,
    );
    await putOn(reborn, 'after', 'wipe');
    await untilValue([reborn, node2, node3], 'after', 'wipe');
    await untilValue([reborn], 'before', 'wipe'); // and it gets the cluster's data back
    // The first to find it is one that redialled the address; the other may meet it through that one's peer exchange
    const found = [node2, node3].filter((n) => /a bootstrap address answers as a new peer/.test(n.child.stderr()));
    expect(found.length).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('a node holding data with no reachable peer says so in status and the log, until a peer is back', async () => {
    const a = await fleet.start();
    const bOpts: DaemonOptions = { bootstrap: [a.addr] };
    const b = await fleet.start(bOpts);
    await untilConnected([a, b]);
    await putOn(a, 'k', 'v');
    await untilValue([b], 'k', 'v');
    expect((await a.status()).warnings).toEqual([]);
    await b.stop();
    const alone = await eventually(() => a.status(), (s) => s.warnings.length > 0, 'a warning in status', 30_000);
    expect(alone.warnings[0]).toMatch(/no peer reachable for \d+ s/);
    expect(alone.state).toBe('ready');
    expect((await a.cli('status')).stdout).toMatch(/warning\s+no peer reachable/);
    await until(() => a.child.stderr().includes('no peer reachable: writes on this node are not being replicated'), 'the log line');
    const back = await fleet.start({ ...bOpts, dataDir: b.dataDir });
    await untilConnected([a, back]);
    expect((await a.status()).warnings).toEqual([]);
  }, 120_000);

  it('drops a peer that stays down longer than peerGoneAfterMs from status, dialling and peer exchange', async () => {
    const config = configFile({ peerGoneAfterMs: 4000 });
    const opts: DaemonOptions = { extra: ['--config', config] };
    const a = await fleet.start(opts);
    const b = await fleet.start({ ...opts, bootstrap: [a.addr] });
    const c = await fleet.start({ ...opts, bootstrap: [a.addr] });
    await untilConnected([a, b, c]);
    await c.stop('SIGKILL'); // gone for good
    for (const n of [a, b]) {
      await eventually(() => n.status(), (s) => s.peers.length === 1, 'the dead peer to be dropped', 30_000);
      await until(() => n.child.stderr().includes('peer dropped as gone'), 'the log line');
    }
    // a and b exchange digests (with peer exchange) all the while: nobody passes it on again
    await putOn(a, 'k', 'v');
    await untilValue([a, b], 'k', 'v');
    const later = await Promise.all([a.status(), b.status()]);
    expect(later.every((s) => s.peers.length === 1 && s.peers[0]!.peerId !== c.peerId)).toBe(true);
    for (const n of [a, b]) {
      const dialWarnings = n.child.stderr().split('\n').filter((l) => l.includes('dial failed'));
      expect(dialWarnings.length).toBeLessThanOrEqual(2); // rate-limited: one line a minute per peer
    }
  }, 120_000);

  it('replikv forget signed by the operator key drops a peer at once, tells the others, and keeps it out when it comes back', async () => {
    const op = await operatorKey(fleet);
    const a = await fleet.start({ extra: op.flags });
    const b = await fleet.start({ bootstrap: [a.addr], extra: op.flags });
    const cOpts: DaemonOptions = { bootstrap: [a.addr], extra: op.flags };
    const c = await fleet.start(cOpts);
    await untilConnected([a, b, c]);
    const live = await a.cli('forget', c.peerId);
    expect(live.code).toBe(1); // a live peer is not forgotten by mistake
    expect(live.stderr).toMatch(/connected to this node right now: stop it first, or pass --force/);
    await c.stop();

    const bad = await a.cli('forget', 'not-a-peer-id');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not a PeerId/);
    const self = await a.cli('forget', a.peerId);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/cannot forget itself/);

    const r = await a.cli('forget', c.peerId, '--sign-key', op.file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/forgot .*the other nodes are told/);
    expect((await a.status()).peers.map((p) => p.peerId)).toEqual([b.peerId]);
    await eventually(() => b.status(), (s) => s.peers.every((p) => p.peerId !== c.peerId), 'b to forget c too', 30_000);
    await until(() => b.child.stderr().includes('peer forgotten (an operator\'s signed forget, passed on by another node)'), 'b to log it');

    // c comes back with the same identity and data: a and b refuse it
    const back = await fleet.start({ ...cOpts, dataDir: c.dataDir });
    await until(() => /peer lost|dial failed/.test(back.child.stderr()), 'a and b to refuse it', 30_000);
    await until(() => /refused a connection of a forgotten peer/.test(a.child.stderr() + b.child.stderr()), 'a refusal in the log', 30_000);
    await putOn(a, 'after-forget', 'x');
    await untilValue([a, b], 'after-forget', 'x');
    const seen = await Promise.all([a.status(), b.status()]);
    expect(seen.every((s) => s.peers.every((p) => p.peerId !== back.peerId))).toBe(true);
    expect(await back.client.get('after-forget')).toBeUndefined();
  }, 120_000);

  it('does not give up on a handshake that is merely slow (8 s through a delaying proxy)', async () => {
    const a = await fleet.start();
    const target = Number(a.addr.split('/')[4]);
    // A proxy that holds everything the dialler sends for 8 s before passing it on: the Noise
    // handshake through it takes over 8 s, longer than the old 5 s dial deadline.
    const proxy = createServer((client) => {
      const upstream = connect(target, '127.0.0.1');
      const held: Buffer[] = [];
      let open = false;
      const timer = setTimeout(() => {
        open = true;
        for (const b of held) upstream.write(b);
      }, 8000);
      client.on('data', (b: Buffer) => (open ? upstream.write(b) : held.push(b)));
      upstream.on('data', (b: Buffer) => client.write(b));
      const end = () => (clearTimeout(timer), client.destroy(), upstream.destroy());
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    servers.push(proxy);
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
    const b = await fleet.start({ bootstrap: [tcp((proxy.address() as { port: number }).port)] });
    await untilConnected([a, b], 60_000);
    expect(b.child.stderr()).not.toMatch(/dial failed/);
  }, 90_000);

  it('keeps one dial in flight to an address whose handshake never finishes', async () => {
    // A TCP server that accepts and never answers: each dial attempt is one accepted connection.
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s));
    servers.push(server);
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as { port: number }).port;
    const a = await fleet.start({ bootstrap: [tcp(port)], gossipIntervalMs: 100 });
    await until(() => sockets.length >= 1, 'the first dial');
    // fifty gossip intervals later the first dial is still the only one (a 30 s handshake deadline)
    const later = Date.now() + 5000;
    await until(() => Date.now() > later, 'five seconds to pass', 10_000);
    expect(sockets.length).toBe(1);
    expect((await a.status()).state).toBe('bootstrapping');
    for (const s of sockets) s.destroy();
  }, 60_000);
});
