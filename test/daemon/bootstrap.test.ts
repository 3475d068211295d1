// A new node bootstraps from a peer's snapshot stream: killed half-way it resumes where it stopped,
// and when the peer serving it dies it goes on from another.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { eventually, until } from '../helpers/process.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(25));
  await fleet.cleanup();
});

const KEYS = 200_000;

describe('bootstrap from a snapshot stream', () => {
  it('resumes after being killed half-way, and goes on from another peer when its peer dies', async () => {
    const a = await fleet.start();
    const b = await fleet.start({ bootstrap: [a.addr] });
    await untilConnected([a, b]);
    const file = join(fleet.tmpdir(), 'keys.ndjson');
    writeFileSync(file, Array.from({ length: KEYS }, (_, i) => JSON.stringify({ key: `k/${String(i).padStart(7, '0')}`, value: 'v'.repeat(100) })).join('\n'));
    expect((await a.cli('import', file)).code).toBe(0);
    const [full] = await untilConverged([a, b], KEYS, 180_000);

    const dDir = fleet.tmpdir();
    const opts = { dataDir: dDir, bootstrap: [a.addr, b.addr] };
    let d: TestDaemon = await fleet.start(opts);
    const partWay = await eventually(() => d.status(), (s) => s.state === 'bootstrapping' && (s.bootstrap?.keysReceived ?? 0) >= 20_000, 'the new node to be part-way through', 60_000);
    expect(partWay.bootstrap!.keysTotal).toBe(KEYS);
    await d.stop('SIGKILL');

    d = await fleet.start(opts);
    await until(() => d.child.stderr().includes('resuming bootstrap after the last key stored'), 'the log to say it resumes');
    // the total comes with the peer's snapshot header, a moment after the resume is logged
    const resumed = await eventually(() => d.status(), (s) => s.bootstrap?.keysTotal === KEYS, 'the resumed bootstrap to know its total', 60_000);
    const text = await d.cli('status');
    expect(text.stdout).toMatch(/bootstrap\s+\d+ of 200000 keys/);
    expect(resumed.state).toBe('bootstrapping');
    expect(resumed.bootstrap!.keysReceived).toBeGreaterThanOrEqual(20_000); // not starting over

    // kill whichever peer is streaming to it, mid-stream
    const serving = await eventually(
      () => d.status(),
      (s) => s.bootstrap?.peer != null && s.bootstrap.keysReceived > resumed.bootstrap!.keysReceived,
      'a peer to be streaming',
      60_000,
    );
    const victim = serving.bootstrap!.peer === a.peerId ? a : b;
    const survivor = victim === a ? b : a;
    expect(serving.state).toBe('bootstrapping');
    await victim.stop('SIGKILL');

    const wait = await d.cli('wait', '--ready', '--timeout', '120000');
    expect(wait.code, wait.stderr).toBe(0);
    expect(wait.stdout).toBe('ready\n');
    const [, done] = await untilConverged([survivor, d], KEYS, 120_000);
    expect(done!.digest).toBe(full!.digest);
    expect(d.child.stderr()).toMatch(/bootstrap stream failed; going on from another peer/);
    expect(d.child.stderr()).toMatch(/bootstrap complete/);
    // The bootstrap's own count of key states stored, across both runs and both peers: resuming
    // after the last stored key keeps it near KEYS; starting over would make it KEYS + 20,000 or more.
    const complete = d.child.stderr().split('\n').find((l) => l.includes('bootstrap complete'))!;
    const stored = (JSON.parse(complete) as { keys: number }).keys;
    expect(stored).toBeGreaterThanOrEqual(KEYS);
    expect(stored).toBeLessThan(KEYS + 10_000);
  }, 400_000);
});
