// Issue 8, command line: --w N larger than the members this node knows (itself and its peer table)
// is refused at once (exit 1) and writes nothing, instead of writing and timing out; --timeout
// without --w is a usage error (exit 64). Real CLI against two real daemons.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, untilConnected } from '../helpers/daemons.js';

const fleet = new Fleet();
afterEach(() => fleet.cleanup());

describe('write concern checks on the command line', () => {
  it('refuses --w beyond the known members before writing; --w up to them and all still work', async () => {
    const [a, b] = await fleet.cluster(2);
    await untilConnected([a!, b!]);

    // A long timeout: only a refusal made before waiting answers quickly.
    const started = Date.now();
    const put = await a!.cli('put', 'k', 'v', '--w', '3', '--timeout', '40000');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(put.code, put.stderr).toBe(1);
    expect(put.stderr).toBe('replikv: --w 3 asks for more replicas than the 2 this node knows (itself and 1 peer)\n');
    const json = await a!.cli('del', 'k', '--w', '7', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toEqual({ error: expect.stringContaining('--w 7 asks for more replicas than the 2'), code: 'CONCERN_UNATTAINABLE' });
    const file = join(a!.dataDir, 'batch.ndjson');
    writeFileSync(file, '{"key":"i1","value":"1"}\n{"key":"i2","value":"2"}\n');
    const imp = await a!.cli('import', file, '--w', '3');
    expect(imp.code).toBe(1);
    expect(imp.stderr).toMatch(/--w 3 asks for more replicas/);

    // Nothing of the refused writes exists, here or on the peer.
    expect((await a!.cli('get', 'k')).code).toBe(1);
    expect((await a!.cli('get', 'i1')).code).toBe(1);
    expect((await a!.status()).keys).toBe(0);
    expect((await b!.status()).keys).toBe(0);

    expect((await a!.cli('put', 'k', 'v', '--w', '2', '--timeout', '20000')).code).toBe(0);
    expect((await a!.cli('put', 'k2', 'v', '--w', 'all')).code).toBe(0);
    expect(await b!.cli('get', 'k')).toMatchObject({ code: 0, stdout: 'v' });
  });

  it('refuses --timeout without --w as a usage error (exit 64) and writes nothing', async () => {
    const d = await fleet.start();
    for (const args of [['put', 'k', 'v'], ['del', 'k'], ['import', join(d.dataDir, 'absent.ndjson')]]) {
      const r = await d.cli(...args, '--timeout', '1000');
      expect(r.code, args.join(' ')).toBe(64);
      expect(r.stderr).toMatch(/^error: --timeout needs --w/);
      expect(r.stderr).toMatch(/Usage: replikv /);
    }
    const json = await d.cli('put', 'k', 'v', '--timeout', '1000', '--json');
    expect(json.code).toBe(64);
    expect(JSON.parse(json.stderr)).toEqual({ error: '--timeout needs --w (it bounds how long --w waits)', code: 'USAGE' });
    expect((await d.status()).keys).toBe(0);
    // wait has a --timeout of its own, which needs no --w.
    expect((await d.cli('wait', '--timeout', '20000')).code).toBe(0);
  });
});
