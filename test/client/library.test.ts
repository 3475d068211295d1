// The client library against a real daemon, loaded the way a user loads it: `import ... from
// 'replikv'` (the package's own `exports`, so dist/ must be built), from vitest, from a child
// Node process, and type-checked by tsc against the package's .d.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, type TestDaemon } from '../helpers/daemons.js';
import { built, eventually, run, until } from '../helpers/process.js';

type Lib = typeof import('../../src/index.js');
type FeedEvent = import('../../src/index.js').FeedEvent;
type ChangeEvent = import('../../src/index.js').ChangeEvent;
// The specifier is a variable so that tsc (which runs before the build) does not resolve it.
const PACKAGE = 'replikv';
const lib = () => import(PACKAGE) as Promise<Lib>;
const REPO = join(built('x'), '..', '..');

/** Collects an iterator's events in the background. */
function collect(it: AsyncIterable<FeedEvent>) {
  const events: FeedEvent[] = [];
  const done = (async () => {
    for await (const e of it) events.push(e);
  })();
  return { events, done, changes: () => events.filter((e): e is ChangeEvent => e.type === 'change') };
}

describe('import { connect } from "replikv"', () => {
  const fleet = new Fleet();
  let d: TestDaemon;
  beforeAll(async () => {
    d = await fleet.start();
  });
  afterAll(() => fleet.cleanup());

  it('puts, gets, deletes, reads, scans every page, imports, and reports status and peers', async () => {
    const { connect, RequestError } = await lib();
    const db = connect({ dataDir: d.dataDir });
    try {
      expect((await db.put('lib:a', 'alpha')).dot.c).toBeGreaterThan(0);
      await db.put('lib:b', Buffer.from([0xff, 0x00, 0x01]));
      expect((await db.get('lib:a'))?.toString()).toBe('alpha');
      expect(await db.get('lib:b')).toEqual(Buffer.from([0xff, 0x00, 0x01]));
      const rec = (await db.read('lib:a'))!;
      expect(rec.value?.toString()).toBe('alpha');
      // a write with the read's context supersedes exactly what it saw
      await db.put('lib:a', 'alpha2', { context: rec.context, ttl: 3600 });
      expect((await db.ttl('lib:a'))!.ttl).toBeGreaterThan(3500);
      await db.del('lib:b');
      expect(await db.get('lib:b')).toBeUndefined();
      expect((await db.read('lib:b'))!.value).toBeNull();

      const imported = await db.import([
        ...Array.from({ length: 25 }, (_, i) => ({ key: `lib:imp:${String(i).padStart(2, '0')}`, value: `v${i}` })),
        { key: 'lib:bytes', value: Buffer.from([0xfe]) },
      ]);
      expect(imported.imported).toBe(26);
      expect((await db.import('{"key":"lib:nd","value":"x"}\n{"key":"lib:imp:00","value":null}\n')).imported).toBe(2);
      const scanned = [];
      for await (const item of db.scan({ prefix: 'lib:imp:', pageSize: 7 })) scanned.push(item.key);
      expect(scanned).toEqual(Array.from({ length: 24 }, (_, i) => `lib:imp:${String(i + 1).padStart(2, '0')}`));
      expect(await db.get('lib:bytes')).toEqual(Buffer.from([0xfe]));

      const s = await db.status();
      expect(s.peerId).toBe(d.peerId);
      expect(s.keys).toBe(26); // 24 imported, lib:bytes, lib:nd (lib:a expires: keys counts lasting values)
      expect(await db.peers()).toEqual([]);
      // a refused request is a typed error with the server's code
      await expect(db.put('lib:x', 'v', { w: 5 })).rejects.toBeInstanceOf(RequestError);
    } finally {
      db.close();
    }
  });

  it('says no daemon answers with DaemonUnavailableError', async () => {
    const { connect, DaemonUnavailableError } = await lib();
    const db = connect({ dataDir: join(d.dataDir, 'nowhere') });
    await expect(db.get('k')).rejects.toBeInstanceOf(DaemonUnavailableError);
    db.close();
  });

  it('watch: local changes to the prefix with value and siblings, then a resume from a position replays the changes made while away', async () => {
    const { connect } = await lib();
    const db = connect({ dataDir: d.dataDir });
    const ac = new AbortController();
    const w = collect(db.watch({ prefix: 'w:', signal: ac.signal }));
    await until(() => w.events.length > 0, 'hello');
    await db.put('w:1', 'one');
    await db.put('other', 'x');
    await db.del('w:1');
    await until(() => w.changes().length >= 2, 'two changes');
    ac.abort();
    await w.done;
    const [put, del] = w.changes();
    expect(put).toMatchObject({ key: 'w:1', origin: 'local', deleted: false });
    expect(put!.value?.toString()).toBe('one');
    expect(del).toMatchObject({ key: 'w:1', deleted: true, value: null });
    expect(del!.siblings).toEqual([expect.objectContaining({ deleted: true, value: null })]);
    expect(w.changes().map((e) => e.key)).not.toContain('other');

    // away: two more changes; a watch from the last position gets exactly them, then live ones
    await db.put('w:2', 'two');
    await db.put('w:3', 'three');
    const ac2 = new AbortController();
    const again = collect(db.watch({ prefix: 'w:', since: del!.pos, signal: ac2.signal }));
    await until(() => again.changes().length >= 2, 'the changes made while away');
    await db.put('w:4', 'four');
    await until(() => again.changes().length >= 3, 'a live change after the replay');
    ac2.abort();
    await again.done;
    expect(again.changes().map((e) => e.key)).toEqual(['w:2', 'w:3', 'w:4']);
    expect(again.events.some((e) => e.type === 'missed')).toBe(false);
    db.close();
  });

  it('watch after a daemon restart: "missed" first (a new epoch), and a reconnecting watch resumes by itself', async () => {
    const { connect } = await lib();
    const db = connect({ dataDir: d.dataDir });
    const ac = new AbortController();
    const live = collect(db.watch({ prefix: 'r:', reconnect: true, retryMs: 100, signal: ac.signal }));
    await until(() => live.events.length > 0, 'hello');
    await db.put('r:1', 'before');
    await until(() => live.changes().length === 1, 'the change before the restart');
    const before = live.changes()[0]!.pos;

    await d.stop();
    await d.start();
    // a write made before the watcher is back is not replayed: it is covered by "missed" (rescan)
    await until(() => live.events.filter((e) => e.type === 'hello').length === 2, 'the watch to reconnect');
    await db.put('r:2', 'after');
    await until(() => live.changes().length === 2, 'the change after the restart, on the same iterator');
    ac.abort();
    await live.done;
    const types = live.events.map((e) => e.type);
    expect(types).toEqual(['hello', 'change', 'hello', 'missed', 'change']);
    expect(live.events[3]).toMatchObject({ type: 'missed', reason: 'restarted' });

    // a watch that names the old position is told the same
    const ac2 = new AbortController();
    const late = collect(db.watch({ since: before, signal: ac2.signal }));
    await until(() => late.events.length >= 2, 'hello and missed');
    ac2.abort();
    await late.done;
    expect(late.events[1]).toMatchObject({ type: 'missed', reason: 'restarted' });
    db.close();
  });

  it('loads in a child Node process from the repository (package self-reference through exports)', async () => {
    const c = run(['--input-type=module', '-e', `import { connect } from 'replikv'; const db = connect({ dataDir: ${JSON.stringify(d.dataDir)} }); await db.put('child', 'hi'); process.stdout.write((await db.get('child')).toString()); db.close();`], { cwd: REPO });
    expect(await c.exited).toEqual({ code: 0, signal: null });
    expect(c.stdout()).toBe('hi');
  });

  it('type-checks against the package types (.d.ts through exports)', () => {
    const dir = mkdtempSync(join(REPO, 'dist', 'typecheck-'));
    try {
      writeFileSync(
        join(dir, 'usage.ts'),
        `import { connect, DaemonUnavailableError, type ChangeEvent, type Status } from 'replikv';
const db = connect({ dataDir: './data' });
export async function use(): Promise<string> {
  await db.put('k', 'v', { ttl: 60, w: 2, timeoutMs: 1000 });
  const v: Buffer | undefined = await db.get('k');
  for await (const { key, value } of db.scan({ prefix: 'k' })) console.log(key, value.length);
  for await (const ev of db.watch({ prefix: 'k', since: 'x' })) if (ev.type === 'change') { const c: ChangeEvent = ev; console.log(c.value?.length, c.siblings.length); }
  const s: Status = await db.status();
  console.log(new DaemonUnavailableError('x').code, (await db.peers()).length, (await db.import([{ key: 'a', value: null }])).imported);
  return s.peerId + String(v);
}
// @ts-expect-error a value must be text or bytes
db.put('k', 42);
`,
      );
      const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
      const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck'];
      execFileSync(process.execPath, [tsc, ...args, join(dir, 'usage.ts')], { cwd: REPO, stdio: 'pipe' });
      // and a wrong use is refused, so the check above can fail
      writeFileSync(join(dir, 'wrong.ts'), `import { connect } from 'replikv';\nconst n: number = connect().socket;\nexport default n;\n`);
      const wrong = (() => {
        try {
          execFileSync(process.execPath, [tsc, ...args, join(dir, 'wrong.ts')], { cwd: REPO, stdio: 'pipe' });
          return 'compiled';
        } catch (err) {
          return String((err as { stdout: Buffer }).stdout);
        }
      })();
      expect(wrong).toMatch(/wrong\.ts.*Type 'string' is not assignable to type 'number'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
