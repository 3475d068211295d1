// A writer killed with SIGKILL mid-loop loses no write it acknowledged, strict or relaxed (relaxed
// acknowledges after the commit: the OS holds its pages when the process dies), and the store it
// leaves behind is consistent (incremental digest and count equal a full recomputation).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Keyspace } from '../../src/store/keyspace.js';
import { built, run, until } from '../helpers/process.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('crash safety', () => {
  it.each(['strict', 'relaxed'])('keeps every write %s mode acknowledged when the writer is killed with SIGKILL', async (durability) => {
    const dir = mkdtempSync(join(tmpdir(), 'replikv-crash-'));
    dirs.push(dir);
    const child = run([built('test/fixtures/write-loop.ts'), dir, durability]);
    const acks = () => [...child.stdout().matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]));
    await until(() => acks().length >= 2000 || child.proc.exitCode !== null, '2000 acknowledged writes');
    child.proc.kill('SIGKILL');
    const { signal } = await child.exited;
    expect(signal, child.stderr()).toBe('SIGKILL');

    const acked = acks();
    expect(acked.length).toBeGreaterThanOrEqual(2000);
    const ks = await Keyspace.openDir(dir);
    try {
      const missing = acked.filter((i) => Buffer.from(ks.get(`k${i}`) ?? []).toString() !== `v${i}`);
      expect(missing).toEqual([]);
      const s = ks.summary();
      expect(s.keys).toBeGreaterThanOrEqual(acked.length); // writes in flight may have landed too
      expect(ks.recompute()).toMatchObject({ digest: s.digest, keys: s.keys, unreadable: 0 });
      expect(s.clock.base(s.replicaId)).toBe(s.keys); // one dot per write, no gaps, nothing reused
    } finally {
      await ks.close();
    }
  });
});
