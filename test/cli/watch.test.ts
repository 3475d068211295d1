// `replikv watch` against real daemons: replicated and local changes, prefix filtering, text and
// JSON output, a daemon restart seen through (reconnect, "missed"), SIGTERM, and a watcher that
// never reads while writes go on.
import { connect as netConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/index.js';
import type { WatchEvent } from '../../src/control/wire.js';
import { CLI, Fleet, untilConnected, type TestDaemon } from '../helpers/daemons.js';
import { eventually, run, until, type Child } from '../helpers/process.js';

const lines = (c: Child) => c.stdout().split('\n').filter((l) => l !== '');
const events = (c: Child) => lines(c).map((l) => JSON.parse(l) as WatchEvent);
const changes = (c: Child) => events(c).filter((e): e is Extract<WatchEvent, { type: 'change' }> => e.type === 'change');

describe('replikv watch', () => {
  const fleet = new Fleet();
  let a: TestDaemon;
  let b: TestDaemon;
  beforeAll(async () => {
    const nodes = await fleet.cluster(2);
    a = nodes[0]!;
    b = nodes[1]!;
    await untilConnected([a, b]);
  });
  afterAll(() => fleet.cleanup());

  it('streams a put replicated from A and a local delete on B, only for the prefix; text and --json; SIGTERM ends it with 0', async () => {
    const json = run([CLI, 'watch', '--json', '--prefix', 'w:', '--data-dir', b.dataDir]);
    const text = run([CLI, 'watch', '--prefix', 'w:', '--data-dir', b.dataDir]);
    try {
      await until(() => events(json).some((e) => e.type === 'hello'), 'the json watcher to start');
      // the text watcher prints nothing until a change: wait until the daemon has both watchers
      await eventually(async () => (await b.cli('put', 'w:probe', 'p'), text.stdout()), (out) => out.includes('w:probe'), 'the text watcher to start');

      expect((await a.cli('put', 'w:1', 'from A')).code).toBe(0);
      expect((await a.cli('put', 'x:1', 'not watched')).code).toBe(0);
      await until(() => changes(json).some((e) => e.key === 'w:1'), 'the replicated put on B');
      expect((await b.cli('del', 'w:1')).code).toBe(0);
      await until(() => changes(json).some((e) => e.key === 'w:1' && e.deleted), 'the local delete on B');

      const w1 = changes(json).filter((e) => e.key === 'w:1');
      expect(w1[0]).toMatchObject({ origin: 'replicated', deleted: false, value: 'from A', siblings: [{ value: 'from A', deleted: false }] });
      expect(w1[1]).toMatchObject({ origin: 'local', deleted: true, value: null, siblings: [{ value: null, deleted: true }] });
      expect(w1[0]!.pos).toMatch(/^[0-9a-f]{16}:\d+$/);
      expect(changes(json).map((e) => e.key)).not.toContain('x:1');

      await until(() => text.stdout().includes('w:1 deleted'), 'the text watcher to see the delete');
      expect(lines(text).filter((l) => !l.startsWith('w:probe '))).toEqual(['w:1 = from A  (1 sibling, replicated)', 'w:1 deleted  (1 sibling, local)']);
      expect(lines(text)[0]).toBe('w:probe = p  (1 sibling, local)');
    } finally {
      json.proc.kill('SIGTERM');
      text.proc.kill('SIGINT');
    }
    expect(await json.exited).toEqual({ code: 0, signal: null });
    expect(await text.exited).toEqual({ code: 0, signal: null });
  });

  it('reconnects when the daemon restarts, says it missed changes, and goes on', async () => {
    const w = run([CLI, 'watch', '--prefix', 'r:', '--data-dir', b.dataDir]);
    try {
      // the watcher prints nothing until a change: probe until it has started
      await eventually(async () => (await b.cli('put', 'r:0', 'probe'), w.stdout()), (out) => out.includes('r:0 = probe'), 'the watcher to start');
      expect((await b.cli('put', 'r:1', 'before')).code).toBe(0);
      await until(() => w.stdout().includes('r:1 = before'), 'the change before the restart');
      expect(await b.stop()).toEqual({ code: 0, signal: null }); // a watch stream open does not hold the stop up
      await b.start();
      await until(() => w.stderr().includes('reconnected to the daemon'), 'the watcher to reconnect');
      expect((await b.cli('put', 'r:2', 'after')).code).toBe(0);
      await until(() => w.stdout().includes('r:2 = after'), 'the change after the restart');
      const out = lines(w).filter((l) => !l.startsWith('r:0 '));
      expect(out[1]).toMatch(/^-- missed changes up to [0-9a-f]{16}:\d+: the daemon restarted; rescan the keys you track --$/);
      expect(out).toEqual(['r:1 = before  (1 sibling, local)', out[1], 'r:2 = after  (1 sibling, local)']);
      // it resumed after the last change it printed (the old run's epoch), not at the new run's start
      const resumed = /reconnected to the daemon, resuming after ([0-9a-f]{16}):\d+\n/.exec(w.stderr());
      expect(resumed, w.stderr()).not.toBeNull();
      expect(resumed![1]).not.toBe(/up to ([0-9a-f]{16}):/.exec(out[1]!)![1]);
    } finally {
      w.proc.kill('SIGTERM');
    }
    expect((await w.exited).code).toBe(0);
    await untilConnected([a, b]);
  });

  it('refuses a --since that is not a position (usage, exit 64), and fails at once with exit 2 when no daemon answers', async () => {
    const bad = await b.cli('watch', '--since', 'yesterday');
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('expected a position EPOCH:SEQ');
    const none = run([CLI, 'watch', '--data-dir', `${b.dataDir}/nowhere`]);
    expect((await none.exited).code).toBe(2);
    expect(none.stderr()).toContain('no replikv daemon is listening');
  });

  it('a watcher that never reads does not hold writes back: they all commit, and when it reads it is told it missed changes', async () => {
    // A raw connection that asks for the feed, reads its first line, then stops reading.
    const sock = netConnect(`${a.dataDir}/control.sock`);
    let received = '';
    sock.on('data', (d: Buffer) => (received += d.toString('latin1')));
    sock.write('GET /v1/watch?prefix=big: HTTP/1.1\r\nHost: replikv\r\n\r\n');
    await until(() => received.includes('"type":"hello"'), 'the stalled watcher to start');
    sock.pause();
    try {
      const db = connect({ dataDir: a.dataDir });
      const value = 'x'.repeat(1024 * 1024);
      // 24 MiB of changes: more than a watcher's queue holds (8 MiB)
      for (let i = 0; i < 24; i++) await db.put(`big:${String(i).padStart(2, '0')}`, value);
      expect((await db.status()).keys).toBeGreaterThanOrEqual(24);
      db.close();
      sock.resume();
      await until(() => received.includes('"key":"big:23"'), 'the stalled watcher to get the newest change once it reads', 60_000);
      expect(received).toMatch(/"type":"missed","pos":"[0-9a-f]{16}:\d+","reason":"overflow"/);
      // it was not sent everything: the queue was dropped, not grown
      expect(received.split('"type":"change"').length - 1).toBeLessThan(24);
    } finally {
      sock.destroy();
    }
  });
});
