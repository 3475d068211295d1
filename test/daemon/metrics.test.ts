// Metrics and health over HTTP (--metrics HOST:PORT), scraped from real daemons and read with a
// Prometheus text parser: names, types, HELP and labels follow the conventions, the values move
// with puts and sync, per-peer series leave with a forgotten peer, /readyz follows the node state,
// and a busy metrics port refuses the start before anything is created.
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, Fleet, untilConnected, untilConverged } from '../helpers/daemons.js';
import { family, httpGet, metricsAddr, scrape, value, type Scrape } from '../helpers/metrics.js';
import { eventually, run } from '../helpers/process.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(25));
  await fleet.cleanup();
});

const METRICS = ['--metrics', '127.0.0.1:0'];

/** Every replikv family: HELP and TYPE given, a valid name, _total only and always on counters, units as suffixes. */
function checkConventions(s: Scrape): void {
  const ours = [...s.families.values()].filter((f) => f.name.startsWith('replikv_'));
  expect(ours.length).toBeGreaterThan(20);
  for (const f of ours) {
    expect(f.name, f.name).toMatch(/^[a-z][a-z0-9_]*$/);
    expect(f.help.length, `${f.name} has HELP`).toBeGreaterThan(10);
    expect(['COUNTER', 'GAUGE', 'HISTOGRAM'], f.name).toContain(f.type);
    expect(f.name.endsWith('_total'), `${f.name}: _total if and only if a counter`).toBe(f.type === 'COUNTER');
    for (const unit of ['bytes', 'seconds']) {
      if (f.name.includes(unit)) expect(f.name, `${f.name}: the unit is a suffix`).toMatch(new RegExp(`_${unit}(_total)?$`));
    }
    expect(f.name, `${f.name}: base units (no ms)`).not.toMatch(/_(ms|milliseconds|kb|mb)(_|$)/);
  }
}

async function until200(addr: string, path: string): Promise<void> {
  await eventually(() => httpGet(addr, path), (r) => r.status === 200, `${path} to answer 200`, 60_000);
}

describe('metrics and health endpoints', () => {
  it('two connected daemons: conventions, values that move, per-peer series that leave with a forgotten peer', async () => {
    // No garbage collection: the tombstone counted below stays.
    const a = await fleet.start({ extra: [...METRICS, '--gc-interval', '0'] });
    const b = await fleet.start({ bootstrap: [a.addr], extra: [...METRICS, '--gc-interval', '0'] });
    await untilConnected([a, b]);
    const [aAddr, bAddr] = [await metricsAddr(a), await metricsAddr(b)];
    expect(a.child.stderr()).toContain(`"addr":"${aAddr}","msg":"metrics listening"`);
    expect(aAddr).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(aAddr).not.toBe('127.0.0.1:0');
    expect((await a.cli('status')).stdout).toMatch(new RegExp(`^metrics +http://${aAddr}/metrics$`, 'm'));

    const before = await scrape(aAddr);
    expect(before.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    checkConventions(before);
    expect(family(before, 'replikv_keys').type).toBe('GAUGE');
    expect(value(before, 'replikv_keys')).toBe(0);

    for (let i = 0; i < 5; i++) {
      const put = await a.cli('put', `k${i}`, `value ${i}`, '--w', '2');
      expect(put.code, put.stderr).toBe(0);
    }
    await untilConverged([a, b], 5);
    // A write with a context read before the last one is concurrent with it: k1 holds two siblings.
    const stale = (JSON.parse((await a.cli('get', 'k1', '--json')).stdout) as { context: string }).context;
    expect((await a.cli('put', 'k1', 'second')).code).toBe(0);
    expect((await a.cli('put', 'k1', 'concurrent', '--context', stale)).code).toBe(0);
    expect((await a.cli('del', 'k0')).code).toBe(0);
    await untilConverged([a, b], 4);

    // Exchanges run every gossip interval: wait for one each way after the writes.
    const sa = await eventually(() => scrape(aAddr), (s) => (value(s, 'replikv_sync_exchanges_total', { role: 'initiated', result: 'ok' }) ?? 0) > 0, 'an exchange started by a');
    const sb = await eventually(() => scrape(bAddr), (s) => (value(s, 'replikv_sync_exchanges_total', { role: 'served', result: 'ok' }) ?? 0) > 0, 'an exchange served by b');
    checkConventions(sa);

    // Store gauges, as status says them.
    const status = await a.status();
    expect(value(sa, 'replikv_keys')).toBe(4);
    expect(value(sa, 'replikv_tombstones')).toBe(1);
    expect(status.tombstones).toBe(1);
    expect(value(sa, 'replikv_store_bytes')).toBeGreaterThan(0);
    expect(family(sa, 'replikv_keys_with_siblings').type).toBe('GAUGE');
    for (const s of [sa, sb]) {
      expect(value(s, 'replikv_keys_with_siblings')).toBe(1); // k1, here and on b (merged from a's delta or push)
      expect(value(s, 'replikv_siblings')).toBe(6); // k1's two values, k2..k4, k0's tombstone
    }
    expect(value(sa, 'replikv_node_state', { state: 'ready' })).toBe(1);
    expect(value(sa, 'replikv_info', { peer_id: a.peerId })).toBe(1);

    // Pushes, sync traffic and write concern on the writer; receipts on the other side.
    // A push that fails goes by the next exchange instead: at least one went by push.
    expect(value(sa, 'replikv_pushes_total', { direction: 'sent' })).toBeGreaterThan(0);
    expect(value(sb, 'replikv_pushes_total', { direction: 'received' })).toBeGreaterThan(0);
    expect(value(sa, 'replikv_sync_keys_sent_total')).toBeGreaterThanOrEqual(6);
    expect(value(sb, 'replikv_sync_keys_received_total')).toBeGreaterThanOrEqual(6);
    for (const direction of ['in', 'out']) expect(value(sa, 'replikv_sync_bytes_total', { direction })).toBeGreaterThan(0);
    expect(value(sa, 'replikv_write_concern_waits_total', { result: 'met' })).toBe(5);
    expect(value(sa, 'replikv_write_concern_waits_total', { result: 'timeout' })).toBe(0);
    // Read from status, not counted twice: a later status holds at least what the scrape said.
    expect(value(sa, 'replikv_sync_bytes_total', { direction: 'out' })).toBeLessThanOrEqual((await a.status()).transfer.bytesSent);

    // Refusals: one series per reason, none here.
    const reasons = family(sa, 'replikv_peer_messages_refused_total').metrics.map((m) => m.labels?.reason).sort();
    expect(reasons).toEqual(['claim_cut', 'decode', 'forget', 'forgotten_peer', 'gc_frontier', 'protocol', 'stream_limit']);
    for (const reason of reasons) expect(value(sa, 'replikv_peer_messages_refused_total', { reason: reason! })).toBe(0);
    expect(value(sa, 'replikv_divergences_total', { event: 'detected' })).toBe(0);

    // Commits: a histogram with buckets, counting at least every put and the delete.
    const commits = family(sa, 'replikv_commit_duration_seconds');
    expect(commits.type).toBe('HISTOGRAM');
    const h = commits.metrics[0]!;
    expect(Number(h.count)).toBeGreaterThanOrEqual(6);
    expect(Number(h.sum)).toBeGreaterThan(0);
    expect(Object.keys(h.buckets!).length).toBeGreaterThanOrEqual(10);
    expect(Number(h.buckets!['+Inf'])).toBe(Number(h.count));

    // Peers: by state, and per peer (behind, seconds since last contact).
    expect(value(sa, 'replikv_peers', { state: 'alive' })).toBe(1);
    expect(value(sa, 'replikv_peers', { state: 'down' })).toBe(0);
    // As of b's last digest: it reaches 0 once an exchange after the delete has run.
    expect(value(sa, 'replikv_peer_behind_dots', { peer: b.peerId })).toBeGreaterThanOrEqual(0);
    await eventually(() => scrape(aAddr), (s) => value(s, 'replikv_peer_behind_dots', { peer: b.peerId }) === 0, 'b to be behind by nothing');
    const contact = value(sa, 'replikv_peer_last_contact_seconds', { peer: b.peerId })!;
    expect(contact).toBeGreaterThanOrEqual(0);
    expect(contact).toBeLessThan(30);
    expect(family(sa, 'replikv_peer_behind_dots').metrics.map((m) => m.labels?.peer)).toEqual([b.peerId]);

    // Health and the HTTP surface.
    expect((await httpGet(aAddr, '/healthz')).status).toBe(200);
    const ready = await httpGet(aAddr, '/readyz');
    expect([ready.status, ready.body]).toEqual([200, 'ready\n']);
    expect((await httpGet(aAddr, '/nope')).status).toBe(404);
    const post = await httpGet(aAddr, '/metrics', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    const big = await fetch(`http://${aAddr}/metrics`, { headers: { 'x-big': 'a'.repeat(16 * 1024) } });
    expect(big.status).toBe(431); // headers are capped at 8 KiB

    // b stops and is forgotten: its per-peer series leave a's output.
    await b.stop();
    await eventually(() => a.status(), (s) => s.peers.every((p) => p.state !== 'alive'), 'a to see b gone', 30_000);
    // b is still a member, so --w 2 waits for it, and times out (exit 3; the write stays).
    const waited = await a.cli('put', 'late', 'x', '--w', '2', '--timeout', '500');
    expect(waited.code, waited.stderr).toBe(3);
    expect(value(await scrape(aAddr), 'replikv_write_concern_waits_total', { result: 'timeout' })).toBe(1);
    expect((await a.cli('forget', b.peerId)).code).toBe(0);
    const after = await scrape(aAddr);
    expect(after.text).not.toContain(b.peerId);
    expect(value(after, 'replikv_peer_behind_dots', { peer: b.peerId })).toBeUndefined();
    expect(value(after, 'replikv_peers', { state: 'alive' })).toBe(0);
  }, 180_000);

  it('/readyz is 503 while a node bootstraps and 200 once it is ready, as status says', async () => {
    // a holds data, then stops: a node bootstrapping from its address finds no peer and stays bootstrapping.
    const a = await fleet.start();
    expect((await a.status()).metrics).toBeNull(); // off by default
    const file = join(fleet.tmpdir(), 'keys.ndjson');
    writeFileSync(file, Array.from({ length: 3000 }, (_, i) => JSON.stringify({ key: `k/${i}`, value: 'v'.repeat(50) })).join('\n'));
    expect((await a.cli('import', file)).code).toBe(0);
    const dead = a.addr;
    await a.stop();

    const c = await fleet.start({ bootstrap: [dead], extra: METRICS });
    const cAddr = await metricsAddr(c);
    const waiting = await httpGet(cAddr, '/readyz');
    expect([waiting.status, waiting.body]).toEqual([503, 'bootstrapping\n']);
    expect((await c.status()).state).toBe('bootstrapping');
    expect((await httpGet(cAddr, '/healthz')).status).toBe(200);
    const s = await scrape(cAddr);
    expect(value(s, 'replikv_node_state', { state: 'bootstrapping' })).toBe(1);
    expect(value(s, 'replikv_node_state', { state: 'ready' })).toBe(0);
    expect(value(s, 'replikv_bootstrap_received_keys')).toBe(0);

    // a comes back and dials c: c streams from it. Every look at /readyz agrees with the state around it.
    await fleet.start({ dataDir: a.dataDir, bootstrap: [c.addr] });
    await eventually(
      async () => {
        const before = (await c.status()).state;
        const r = await httpGet(cAddr, '/readyz');
        const after = (await c.status()).state;
        if (before === after) expect([r.status, r.body]).toEqual(before === 'ready' ? [200, 'ready\n'] : [503, `${before}\n`]);
        return r.status;
      },
      (code) => code === 200,
      'c to be ready',
      90_000,
    );
    const done = await scrape(cAddr);
    expect(value(done, 'replikv_keys')).toBe(3000);
    expect(value(done, 'replikv_node_state', { state: 'ready' })).toBe(1);
    expect(value(done, 'replikv_bootstrap_received_keys')).toBeNaN(); // only while bootstrapping
  }, 180_000);

  it('a busy metrics port refuses the start (exit 75) and creates nothing', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const dir = join(fleet.tmpdir(), 'new');
      const child = run([CLI, 'daemon', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--metrics', `127.0.0.1:${port}`]);
      const { code } = await child.exited;
      expect(code, child.stderr()).toBe(75);
      expect(child.stderr()).toContain(`cannot serve metrics on 127.0.0.1:${port} (address already in use)`);
      expect(existsSync(dir)).toBe(false);
    } finally {
      busy.close();
    }
    const bad = run([CLI, 'daemon', '--data-dir', join(fleet.tmpdir(), 'x'), '--metrics', '127.0.0.1']);
    const { code } = await bad.exited;
    expect(code, bad.stderr()).toBe(78);
    expect(bad.stderr()).toContain('metrics');
  }, 60_000);
});
